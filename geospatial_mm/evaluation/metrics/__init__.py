from .average_accuracy import AAIoUMetric

__all__ = ['AAIoUMetric']
