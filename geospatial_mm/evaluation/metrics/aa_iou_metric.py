"""Average accuracy (AA), the DFC2020 score, beside mIoU.

AA is the mean over the classes present in the ground truth of each class's recall (the diagonal of the confusion
matrix normalised by its rows, averaged over the rows that have pixels). MMSegmentation's ``IoUMetric`` already
computes exactly this as ``mAcc``: a class without ground-truth pixels has an accuracy of 0/0 = NaN, and the mean is
a ``nanmean`` (tests/evaluation/test_average_accuracy.py checks the equivalence on crafted arrays). This metric is
``IoUMetric`` (with each class's values, :class:`PerClassIoUMetric`) reporting that value under the name ``AA`` as
well.
"""
from __future__ import annotations

from mmseg.registry import METRICS

from .per_class_iou_metric import PerClassIoUMetric


@METRICS.register_module()
class AAIoUMetric(PerClassIoUMetric):
    """``PerClassIoUMetric`` that also reports ``AA`` (= ``mAcc``: mean recall over the classes present in the ground
    truth).

    Takes ``IoUMetric``'s arguments; ``iou_metrics`` must include 'mIoU' or 'mDice' (they compute the per-class
    accuracy), and ``nan_to_num`` must stay None (it would count absent classes as 0).
    """

    def __init__(self, iou_metrics: list[str] = ('mIoU',), nan_to_num: int | None = None, **kwargs) -> None:
        iou_metrics = list(iou_metrics)
        if not {'mIoU', 'mDice'} & set(iou_metrics):
            raise ValueError(f"AA needs 'mIoU' or 'mDice' among iou_metrics, got {iou_metrics}")
        if nan_to_num is not None:
            raise ValueError('AA averages over the classes present in the ground truth; nan_to_num would count the '
                             'absent ones as 0: leave it None')
        super().__init__(iou_metrics=iou_metrics, nan_to_num=None, **kwargs)

    def compute_metrics(self, results: list) -> dict[str, float]:
        metrics = super().compute_metrics(results)
        if 'mAcc' in metrics:
            metrics['AA'] = metrics['mAcc']
        return metrics
