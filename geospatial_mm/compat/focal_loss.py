"""mmseg's ``FocalLoss`` on CPU.

mmseg 1.2.2's ``FocalLoss`` fails on CPU for class-index targets: its CPU branch keeps the one-hot column
``num_classes`` instead of the first ``num_classes`` columns (open-mmlab/mmsegmentation#3249, still open), so any
multi-class focal loss crashes on a CPU run. On CPU the one-hot target is built correctly and mmseg's own
``py_sigmoid_focal_loss`` is called; CUDA tensors keep mmseg's path.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


def patch_focal_loss(focal_loss) -> None:
    """Give ``mmseg.models.losses.focal_loss.FocalLoss`` a working CPU path for class-index targets."""
    original_forward = focal_loss.FocalLoss.forward

    @functools.wraps(original_forward)
    def forward(self, pred, target, weight=None, avg_factor=None, reduction_override=None, ignore_index=255,
                **kwargs):
        if pred.is_cuda or pred.shape == target.shape:  # CUDA, or one-hot / soft targets: mmseg's path works
            return original_forward(self, pred, target, weight=weight, avg_factor=avg_factor,
                                    reduction_override=reduction_override, ignore_index=ignore_index, **kwargs)
        if pred.shape[0] != target.shape[0] or pred.shape[2:] != target.shape[1:]:
            raise ValueError(f'FocalLoss: prediction {tuple(pred.shape)} does not match target {tuple(target.shape)}')
        num_classes = pred.size(1)
        flat_pred = pred.transpose(0, 1).reshape(num_classes, -1).transpose(0, 1).contiguous()
        flat_target = target.reshape(-1)
        valid = flat_target != ignore_index
        index = torch.where(valid, flat_target, flat_target.new_zeros(()))
        if num_classes == 1:  # one sigmoid channel: class 1 is the positive
            one_hot = (index == 1).long()[:, None]
        else:
            one_hot = F.one_hot(index, num_classes=num_classes)
        if weight is not None and weight.numel() == flat_target.numel():
            weight = weight.reshape(-1)
        reduction = reduction_override or self.reduction
        loss = self.loss_weight * focal_loss.py_sigmoid_focal_loss(
            flat_pred, one_hot, None, weight, gamma=self.gamma, alpha=self.alpha, class_weight=self.class_weight,
            valid_mask=valid[:, None], reduction=reduction, avg_factor=avg_factor)
        if reduction == 'none':
            shape = pred.shape
            loss = loss.transpose(0, 1).reshape(shape[1], shape[0], *shape[2:]).transpose(0, 1).contiguous()
        return loss

    focal_loss.FocalLoss.forward = forward
