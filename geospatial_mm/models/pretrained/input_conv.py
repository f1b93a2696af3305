"""The one adaptation of a checkpoint's input convolution (or patch embedding) to the task's bands."""
from __future__ import annotations

from typing import Sequence

import torch

from geospatial_mm.errors import GeospatialMMError


class InputBandsError(GeospatialMMError, ValueError):
    """The checkpoint's input channels cannot be mapped onto the model's bands as asked."""


def adapt_input_conv(weight: torch.Tensor, in_channels: int, bands: Sequence[int | None] | None = None,
                     extend: bool = True, option: str = 'bands') -> torch.Tensor:
    """A checkpoint's input kernels ``(out, C, ...)`` -> ``(out, in_channels, ...)``: input band ``i`` takes the kernel
    of checkpoint channel ``bands[i]``.

    ``extend=True`` (the stem of a CNN pretrained on RGB): a band that is None takes the mean of the checkpoint's
    kernels; without ``bands`` the first ``min(C, in_channels)`` bands are channels 0, 1, 2 in that order; all kernels
    are then multiplied by ``C / in_channels``, so that when R, G and B are each mapped once, an input whose bands all
    hold one value gives the first layer the response the checkpoint gave that value on R, G and B.

    ``extend=False`` (a foundation model pretrained on the same kind of bands): ``bands`` picks and orders checkpoint
    channels, unchanged; without it the band counts must agree. ``option`` names the setting in messages.
    """
    c = weight.shape[1]
    if not extend:
        if bands is None:
            if c != in_channels:
                raise InputBandsError(f'the checkpoint was trained on {c} bands, the backbone takes {in_channels}; '
                                      f'set {option} to say which checkpoint band each input band is')
            return weight
        bands = list(bands)
        bad = [b for b in bands if b is None or not 0 <= b < c]
        if bad or len(bands) != in_channels:
            raise InputBandsError(f'{option} {bands} must give {in_channels} indices into the checkpoint\'s {c} '
                                  'bands')
        return weight[:, bands].contiguous()
    if bands is None:
        bands = [i if i < c else None for i in range(in_channels)]
    bands = list(bands)
    if len(bands) != in_channels:
        raise InputBandsError(f'{option} has {len(bands)} entries; expected one per input band ({in_channels})')
    bad = [b for b in bands if b is not None and not 0 <= b < c]
    if bad:
        raise InputBandsError(f'{option} {bands}: channel {bad[0]} does not exist in the checkpoint\'s {c}-channel '
                              'input convolution')
    mean = weight.mean(dim=1)
    columns = [weight[:, b] if b is not None else mean for b in bands]
    return (torch.stack(columns, dim=1) * (c / in_channels)).contiguous()
