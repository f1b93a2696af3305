"""Weights for blending overlapping tiles: highest in a tile's centre, falling off towards its edges.

A plain average of overlapping tiles lets the tile borders, where the model sees the least context, count as much as
the centres, and leaves seams. Each tile's logits are multiplied by these weights and the sum is divided by the sum
of the weights. The weights never reach zero, so pixels that only one tile covers (at the raster's own edges) keep
their value. The segmentors' sliding-window test and the streaming predictors use the same weights.
"""
from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

FLOOR = 1e-2


def ramp_1d(length: int, floor: float = FLOOR) -> NDArray[np.float32]:
    """Triangular profile over ``length`` pixels.

    Returns:
        ``(length,)`` float32: 1 in the middle, ``floor`` at the ends.

    Raises:
        ValueError: ``length`` is not positive.
    """
    if length <= 0:
        raise ValueError(f'length must be positive, got {length}')
    pos = (np.arange(length, dtype=np.float64) + 0.5) / length  # pixel centres in (0, 1)
    tri = 1.0 - np.abs(2.0 * pos - 1.0)
    peak: np.float64 = tri.max()
    return (floor + (1.0 - floor) * tri / peak).astype(np.float32)


@functools.lru_cache(maxsize=32)
def _cached(height: int, width: int, floor: float) -> NDArray[np.float32]:
    weights = ramp_1d(height, floor)[:, None] * ramp_1d(width, floor)[None, :]
    weights.setflags(write=False)
    return weights


def tile_weights(height: int, width: int, floor: float = FLOOR) -> NDArray[np.float32]:
    """``(height, width)`` separable blending weights.

    Returns:
        ``(height, width)`` float32 weights, read-only (one array shared by every caller of the same size).
    """
    return _cached(height, width, floor)
