"""Random masks shared by the demo datasets: smooth blobs (burn scars, flood water) and the nodata strip along one
edge that swath borders leave in a third of the real HLS, Sentinel-2 and crop chips."""
from __future__ import annotations

import numpy as np


def blobs(rng: np.random.Generator, size: int, count: int, radius: tuple[float, float]) -> np.ndarray:
    """A ``(size, size)`` boolean mask, the union of ``count`` rotated ellipses placed at random; their semi-axes are
    drawn from ``radius`` (fractions of ``size``)."""
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros((size, size), bool)
    for _ in range(count):
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(*radius, 2) * size
        angle = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dx * np.cos(angle) + dy * np.sin(angle)) / rx
        v = (-dx * np.sin(angle) + dy * np.cos(angle)) / ry
        mask |= u ** 2 + v ** 2 <= 1
    return mask


def missing_strip(rng: np.random.Generator, size: int) -> np.ndarray:
    """A ``(size, size)`` boolean mask that is True along one image edge with a probability of 0.35 (a strip of
    1/16 to 1/6 of the side, as at a swath border) and all False otherwise."""
    mask = np.zeros((size, size), bool)
    if rng.random() < 0.35:
        width = int(rng.integers(size // 16, size // 6))
        side = rng.integers(4)
        if side == 0:
            mask[:width] = True
        elif side == 1:
            mask[-width:] = True
        elif side == 2:
            mask[:, :width] = True
        else:
            mask[:, -width:] = True
    return mask
