from .aa_iou_metric import AAIoUMetric
from .per_class_iou_metric import PerClassIoUMetric
from .xview2_metric import XView2Metric, xview2_counts, xview2_score

__all__ = ['AAIoUMetric', 'PerClassIoUMetric', 'XView2Metric', 'xview2_counts', 'xview2_score']
