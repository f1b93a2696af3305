from .xview2_metric import XView2Metric, xview2_counts, xview2_score

__all__ = ['XView2Metric', 'xview2_counts', 'xview2_score']
