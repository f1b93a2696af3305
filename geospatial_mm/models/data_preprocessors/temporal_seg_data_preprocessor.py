"""Data preprocessors for inputs that the OpenMMLab ones do not take."""
from __future__ import annotations

from typing import Sequence

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS


@MODELS.register_module()
class TemporalSegDataPreProcessor(SegDataPreProcessor):
    """mmseg's SegDataPreProcessor for ``(C, T, H, W)`` samples (it takes only ``(C, H, W)``).

    Frames are folded into channels for padding and batching, and unfolded again: the batch is ``(B, C, T, H, W)``.
    ``mean``/``std`` are per band (length C) and apply to every frame. 3-D samples pass through unchanged. Samples
    are moved to the model's device first (``non_blocking``: without waiting, from pinned memory) and normalised
    there.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 non_blocking: bool = True, **kwargs) -> None:
        if kwargs.get('bgr_to_rgb') or kwargs.get('rgb_to_bgr'):
            raise ValueError('channel flipping makes no sense for multi-band inputs')
        super().__init__(mean=None, std=None, **kwargs)
        self._non_blocking = non_blocking
        self.band_mean = torch.tensor(mean, dtype=torch.float32) if mean is not None else None
        self.band_std = torch.tensor(std, dtype=torch.float32) if std is not None else None

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        frames = {x.shape[1] for x in inputs if x.ndim == 4}
        if len(frames) > 1:
            raise ValueError(f'samples of one batch have different frame counts {sorted(frames)}')
        t = frames.pop() if frames else None
        inputs = [x.to(self.device, non_blocking=self._non_blocking) for x in inputs]
        if self.band_mean is not None:
            shape = (-1,) + (1,) * (inputs[0].ndim - 1)
            inputs = [(x.float() - self.band_mean.to(x.device).view(shape)) / self.band_std.to(x.device).view(shape)
                      for x in inputs]
        if t is not None:
            inputs = [x.flatten(0, 1) for x in inputs]  # (C, T, H, W) -> (C*T, H, W), band-major
        out = super().forward(dict(data, inputs=inputs), training)
        if t is not None:
            b, ct, h, w = out['inputs'].shape
            out['inputs'] = out['inputs'].view(b, ct // t, t, h, w)
        return out
