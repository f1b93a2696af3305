"""Multi-class focal loss on softmax probabilities, with a weight per class."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS


@MODELS.register_module()
class SoftmaxFocalLoss(nn.Module):
    """``-alpha[y] * (1 - p_y) ** gamma * log p_y`` per pixel, p the softmax of the logits and y the target class
    (Lin et al., 2017, in its multi-class form), averaged over the pixels that are not ``ignore_index``.

    mmseg's ``FocalLoss`` is the sigmoid (one-vs-rest) form, where ``alpha`` balances each class's positives against
    its negatives; here ``alpha`` weighs the classes against each other, as class weights from inverse class
    frequency (``tools/class_weights.py``) are meant. ``alpha=None`` weighs every class 1.
    """

    def __init__(self, gamma: float = 2.0, alpha: Sequence[float] | None = None, reduction: str = 'mean',
                 loss_weight: float = 1.0, loss_name: str = 'loss_focal') -> None:
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        if gamma < 0:
            raise ValueError(f'gamma must be >= 0, got {gamma}')
        if alpha is not None and (isinstance(alpha, (int, float)) or any(a < 0 for a in alpha)):
            raise ValueError(f'alpha must be a list of non-negative class weights (or None), got {alpha!r}')
        self.gamma = float(gamma)
        self.register_buffer('alpha', torch.tensor(alpha, dtype=torch.float32) if alpha is not None else None,
                             persistent=False)
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None, ignore_index: int = 255,
                **kwargs) -> torch.Tensor:
        if pred.shape[0] != target.shape[0] or pred.shape[2:] != target.shape[1:]:
            raise ValueError(f'SoftmaxFocalLoss: logits {tuple(pred.shape)} do not match target '
                             f'{tuple(target.shape)}')
        if self.alpha is not None and self.alpha.numel() != pred.shape[1]:
            raise ValueError(f'SoftmaxFocalLoss: {self.alpha.numel()} class weights (alpha) for {pred.shape[1]} '
                             'classes')
        valid = target != ignore_index
        index = torch.where(valid, target, target.new_zeros(())).long()
        log_p = F.log_softmax(pred.float(), dim=1).gather(1, index.unsqueeze(1)).squeeze(1)
        loss = -(1.0 - log_p.exp()).pow(self.gamma) * log_p
        if self.alpha is not None:
            loss = loss * self.alpha.to(loss.device)[index]
        if weight is not None:
            loss = loss * weight
        loss = loss * valid
        reduction = reduction_override or self.reduction
        if reduction == 'mean':
            denominator = avg_factor if avg_factor is not None else valid.sum().clamp(min=1)
            loss = loss.sum() / denominator
        elif reduction == 'sum':
            loss = loss.sum()
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        return self._loss_name
