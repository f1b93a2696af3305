from . import metrics
from .eval_args import EVAL_CHOICES, evaluator_from_names, register_eval_metric

__all__ = ['EVAL_CHOICES', 'evaluator_from_names', 'metrics', 'register_eval_metric']
