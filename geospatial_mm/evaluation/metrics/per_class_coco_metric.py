"""mmdet's CocoMetric with every class's AP, and the means, at full precision."""
from __future__ import annotations

from unittest import mock

import numpy as np
from mmdet.evaluation.metrics import CocoMetric, coco_metric
from mmdet.registry import METRICS

STATS = {'mAP': 0, 'mAP_50': 1, 'mAP_75': 2, 'mAP_s': 3, 'mAP_m': 4, 'mAP_l': 5}


def _recording(base, record: list):
    """A subclass of mmdet's COCOeval wrapper that keeps each evaluation it runs."""
    class Recording(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            record.append(self)
    return Recording


def mean_precision(precision: np.ndarray) -> float:
    """The mean of COCOeval precisions, leaving out the -1 of empty cells (NaN when all are empty)."""
    valid = precision[precision > -1]
    return float(np.mean(valid)) if valid.size else float('nan')


@METRICS.register_module()
class PerClassCocoMetric(CocoMetric):
    """``CocoMetric`` (same arguments, same printed tables) whose results keep full precision and hold every
    class's AP: ``<metric>_mAP``, ``<metric>_mAP_50``, ... unrounded (mmdet rounds them to three decimals), and
    ``<metric>_AP.<class>``, ``<metric>_AP50.<class>``, ``<metric>_AP75.<class>`` for ``bbox`` and ``segm`` (mmdet's
    classwise keys carry no metric name, so that segm's overwrite bbox's; they are left out). ``tools/test.py
    --metrics-out`` writes them all."""

    def compute_metrics(self, results: list) -> dict[str, float]:
        record: list = []
        with mock.patch.object(coco_metric, 'COCOeval', _recording(coco_metric.COCOeval, record)), \
                mock.patch.object(coco_metric, 'COCOevalMP', _recording(coco_metric.COCOevalMP, record)):
            metrics = super().compute_metrics(results)
        if self.format_only or not record:
            return metrics
        names = {cat_id: self._coco_api.loadCats(cat_id)[0]['name'] for cat_id in self.cat_ids}
        out = {k: v for k, v in metrics.items() if not (k.endswith('_precision') and k[:-10] in names.values())}
        for evaluation in record:
            metric = evaluation.params.iouType
            if not evaluation.params.useCats:  # proposals: average recall only, as mmdet reports it
                continue
            for item, index in STATS.items():
                if f'{metric}_{item}' in out:
                    out[f'{metric}_{item}'] = float(evaluation.stats[index])
            precisions = evaluation.eval['precision']  # (IoU, recall, class, area range, max detections)
            thresholds = {f'AP{round(t * 100)}': i for i, t in enumerate(evaluation.params.iouThrs)
                          if np.isclose(t, 0.5) or np.isclose(t, 0.75)}
            for idx, cat_id in enumerate(evaluation.params.catIds):
                name = names[cat_id]
                out[f'{metric}_AP.{name}'] = mean_precision(precisions[:, :, idx, 0, -1])
                for key, i in thresholds.items():
                    out[f'{metric}_{key}.{name}'] = mean_precision(precisions[i, :, idx, 0, -1])
        return out
