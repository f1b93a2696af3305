from .aa_iou_metric import AAIoUMetric
from .xview2_metric import XView2Metric, xview2_counts, xview2_score

__all__ = ['AAIoUMetric', 'XView2Metric', 'xview2_counts', 'xview2_score']
