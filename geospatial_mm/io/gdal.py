"""The GDAL environment of streaming reads and writes: a bounded block cache, sized to what a sliding window reuses."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from rasterio.env import Env

    from .raster import RasterMeta

# GDAL's block cache defaults to 5 % of the machine's memory; streaming needs far less, and a large cache makes memory
# grow with the raster's size. A GDAL_CACHEMAX set in the environment wins (GDAL reads it itself).
DEFAULT_GDAL_CACHEMAX = 64 * 1024 * 1024


def gdal_env(cachemax: int | None = None, **options: str | int | bool) -> Env:
    """A rasterio environment with a bounded block cache of ``cachemax`` bytes (default 64 MiB).

    rasterio hands an integer GDAL_CACHEMAX to GDAL as a number of bytes (GDAL itself reads small numbers in the
    environment variable as megabytes): 64 means 64 bytes, i.e. no cache at all, and every overlapping window would
    decode its compressed blocks again. The cache is one per process.

    Args:
        cachemax: the block cache in bytes (at least the default; a GDAL_CACHEMAX set in the environment wins).
        **options: other GDAL configuration options.

    Returns:
        The environment, to be entered (``with gdal_env(...):``).
    """
    import rasterio
    if 'GDAL_CACHEMAX' not in os.environ:
        options.setdefault('GDAL_CACHEMAX', max(int(cachemax or 0), DEFAULT_GDAL_CACHEMAX))
    return rasterio.Env(**options)


def streaming_cache_bytes(metas: Sequence[RasterMeta], out_bytes_per_pixel: int = 1, rows: int = 256,
                          span: int | None = None) -> int:
    """The block cache in which every compressed block of a streaming prediction is decoded once.

    It holds, across the columns predicted at once (``span``, default the whole width), the input blocks that
    consecutive rows of overlapping tiles share (up to three block rows of every input) and the output blocks being
    filled (``rows`` rows). It grows with ``span``, not with the raster's height - except for inputs stored in strips,
    whose blocks are whole rows of the raster.

    Args:
        metas: the headers of the inputs.
        out_bytes_per_pixel: bytes of every output pixel, all outputs together.
        rows: the rows of output blocks being filled.
        span: the raster columns predicted at once (None: the whole width).

    Returns:
        The cache's size in bytes.
    """
    total = 0
    width = max(m.width for m in metas)
    span = min(span or width, width)
    for meta in metas:
        block_rows, block_cols = meta.block_shape or (rows, meta.width)
        cols = meta.width if block_cols >= meta.width else min(meta.width, span + 2 * block_cols)
        total += 3 * min(block_rows, meta.height) * cols * meta.count * np.dtype(meta.dtype).itemsize
    return total + rows * min(width, span + 512) * out_bytes_per_pixel + 16 * 1024 * 1024
