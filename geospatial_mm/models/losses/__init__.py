from .softmax_focal_loss import SoftmaxFocalLoss

__all__ = ['SoftmaxFocalLoss']
