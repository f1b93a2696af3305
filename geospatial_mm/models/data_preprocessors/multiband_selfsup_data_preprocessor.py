"""mmpretrain's SelfSupDataPreprocessor for any number of input channels."""
from __future__ import annotations

from typing import Sequence

import torch
from mmpretrain.models.utils.data_preprocessor import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS


@MODELS.register_module()
class MultiBandSelfSupDataPreprocessor(SelfSupDataPreprocessor):
    """:class:`SelfSupDataPreprocessor` (batches of views for MoCo, SimCLR, ...) with one ``mean``/``std`` value per
    channel for any channel count; mmengine's image preprocessor it builds on takes only 1 or 3 values. Every view
    of a batch must have ``len(mean)`` channels. No channel reordering: ``to_rgb``/``bgr_to_rgb`` make no sense for
    multi-band inputs and are refused.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], pad_size_divisor: int = 1,
                 pad_value: float = 0, non_blocking: bool = False, **kwargs) -> None:
        flips = [k for k in ('to_rgb', 'bgr_to_rgb', 'rgb_to_bgr') if kwargs.pop(k, False)]
        if flips:
            raise ValueError(f'{flips[0]} makes no sense for multi-band inputs')
        if kwargs:
            raise TypeError(f'unexpected arguments {sorted(kwargs)}')
        if len(mean) != len(std) or not len(mean):
            raise ValueError(f'mean and std need one value per channel, found {len(mean)} means and {len(std)} stds')
        if any(s == 0 for s in std):
            raise ValueError(f'std values must be non-zero, found {list(std)}')
        super().__init__(mean=None, std=None, pad_size_divisor=pad_size_divisor, pad_value=pad_value,
                         non_blocking=non_blocking)
        self._enable_normalize = True
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        views = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        channels = len(self.mean)
        for view in views:
            samples = view if isinstance(view, (list, tuple)) else [view]
            for sample in samples:
                c = sample.shape[-3] if sample.ndim >= 3 else 1
                if c != channels:
                    raise ValueError(f'{type(self).__name__}: an input has {c} channels (shape '
                                     f'{tuple(sample.shape)}) but mean/std have {channels} values')
        return super().forward(data, training)
