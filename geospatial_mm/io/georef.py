"""Georeference helpers: the transform of a window, whether two rasters are co-registered, comparing CRSs."""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from .raster import RasterMeta, Transform


def window_transform(transform: Transform | None, window: Sequence[int] | None) -> Transform | None:
    """The affine transform of a window ``(row, col, h, w)`` of a raster with ``transform``.

    Returns:
        The window's transform; ``transform`` itself when either is None (no georeference, or the whole raster).
    """
    if transform is None or window is None:
        return transform
    a, b, c, d, e, f = transform
    row, col = window[0], window[1]
    return (a, b, c + col * a + row * b, d, e, f + col * d + row * e)


def coregistration_problem(m1: RasterMeta, m2: RasterMeta) -> str | None:
    """Why two rasters are not co-registered.

    Returns:
        How the size, CRS or transform of ``m2`` differs from ``m1``'s, or None when they agree.
    """
    if (m1.height, m1.width) != (m2.height, m2.width):
        return f'size {m2.height}x{m2.width} differs from {m1.height}x{m1.width}'
    if (m1.crs is None) != (m2.crs is None) or (m1.crs and m2.crs and not crs_equal(m1.crs, m2.crs)):
        return f'CRS differs ({short_crs(m2.crs)} vs {short_crs(m1.crs)})'
    if m1.transform is not None and m2.transform is not None and not np.allclose(m1.transform, m2.transform,
                                                                                   rtol=0, atol=1e-6):
        return f'transform {tuple(m2.transform)} differs from {tuple(m1.transform)}'
    return None


@functools.lru_cache(maxsize=256)
def crs_equal(a: str, b: str) -> bool:
    """Whether two CRSs given as WKT are the same (equal text first; remembered per pair).

    Returns:
        True when the texts are equal or describe the same CRS.
    """
    if a == b:
        return True
    from rasterio.crs import CRS
    same: bool = CRS.from_wkt(a) == CRS.from_wkt(b)
    return same


def short_crs(wkt: str | None) -> str:
    """A short name of a CRS given as WKT, for messages.

    Returns:
        ``EPSG:32610``, the start of the WKT of a CRS without an EPSG code, or ``'none'`` for None.
    """
    if wkt is None:
        return 'none'
    from rasterio.crs import CRS
    crs = CRS.from_wkt(wkt)
    return crs.to_string() if crs.to_epsg() else wkt[:40] + '...'
