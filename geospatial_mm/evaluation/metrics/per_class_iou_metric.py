"""mmseg's IoUMetric that also returns each class's values, at full precision."""
from __future__ import annotations

import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """``IoUMetric`` (same arguments, same printed table) whose results also hold every class's values, as
    ``<metric>.<class name>`` (``IoU.cloud``, ``Acc.cloud``, ``Fscore.cloud``, ``Precision.cloud``,
    ``Recall.cloud``, ``Dice.cloud``, in percent), and whose means (``mIoU``, ...) are not rounded to two decimals.
    ``tools/test.py --metrics-out`` writes them all."""

    def compute_metrics(self, results: list) -> dict[str, float]:
        metrics = super().compute_metrics(results)  # the printed per-class table
        if self.format_only:
            return metrics
        areas = [sum(column) for column in zip(*results)]
        values = self.total_area_to_metrics(*areas, self.metrics, self.nan_to_num, self.beta)
        out = dict(metrics)
        for name, per_class in values.items():
            per_class = np.asarray(per_class, dtype=np.float64) * 100
            if name == 'aAcc':
                out['aAcc'] = float(per_class)
                continue
            out[f'm{name}'] = float(np.nanmean(per_class))
            for class_name, value in zip(self.dataset_meta['classes'], per_class):
                out[f'{name}.{class_name}'] = float(value)
        return out
