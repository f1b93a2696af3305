"""What ``--eval`` names (eval_args) and the metrics mmseg lacks (metrics/, imported on first use)."""
from geospatial_mm.lazy_exports import lazy_exports
from .eval_args import EVAL_CHOICES, evaluator_from_names, name_classwise, per_class_evaluator, register_eval_metric

__getattr__, __dir__, _lazy = lazy_exports(__name__, {'AAIoUMetric': '.metrics.aa_iou_metric',
                                                      'PerClassCocoMetric': '.metrics.per_class_coco_metric',
                                                      'PerClassIoUMetric': '.metrics.per_class_iou_metric',
                                                      'XView2Metric': '.metrics.xview2_metric'})
__all__ = ['EVAL_CHOICES', 'evaluator_from_names', 'name_classwise', 'per_class_evaluator', 'register_eval_metric',
           *_lazy]
