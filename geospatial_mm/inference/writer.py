"""Writing prediction rasters block by block, under a temporary name that becomes the final one only when the file
is complete.

A run that crashes or is killed leaves at most a hidden ``.<name>.<pid>.tmp.tif`` next to the output, never a file
under the final name; the next run for that output removes such leftovers of processes that no longer exist.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

# GDAL's block cache defaults to 5 % of the machine's memory; streaming needs far less, and a large cache makes memory
# grow with the raster's size. A GDAL_CACHEMAX set in the environment wins (GDAL reads it itself).
DEFAULT_GDAL_CACHEMAX = 64 * 1024 * 1024


def gdal_env(cachemax: int | None = None, **options):
    """A rasterio environment with a bounded block cache of ``cachemax`` bytes (default 64 MiB).

    rasterio hands an integer GDAL_CACHEMAX to GDAL as a number of bytes (GDAL itself reads small numbers in the
    environment variable as megabytes): 64 means 64 bytes, i.e. no cache at all, and every overlapping window would
    decode its compressed blocks again. The cache is one per process.
    """
    import rasterio
    if 'GDAL_CACHEMAX' not in os.environ:
        options.setdefault('GDAL_CACHEMAX', max(int(cachemax or 0), DEFAULT_GDAL_CACHEMAX))
    return rasterio.Env(**options)


def streaming_cache_bytes(metas, out_bytes_per_pixel: int = 1, rows: int = 256) -> int:
    """A block cache that holds, across the whole width, the input blocks that consecutive rows of overlapping tiles
    share (up to three block rows of every input) and the output blocks being filled (``rows`` rows): then every
    compressed block is decoded once. It grows with the raster's width, not its height."""
    total = 0
    for meta in metas:
        block_rows = (meta.block_shape or (rows, meta.width))[0]
        total += 3 * min(block_rows, meta.height) * meta.width * meta.count * np.dtype(meta.dtype).itemsize
    width = max(m.width for m in metas)
    return total + rows * width * out_bytes_per_pixel + 16 * 1024 * 1024


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(final: Path) -> list[Path]:
    """Delete ``.<name>.<pid>.tmp*`` files of ``final`` left by processes that no longer run."""
    removed = []
    for tmp in final.parent.glob(f'.{final.name}.*.tmp*'):
        parts = tmp.name[len(final.name) + 2:].split('.')
        if parts and parts[0].isdigit() and int(parts[0]) != os.getpid() and not _pid_alive(int(parts[0])):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


class AtomicRasterWriter:
    """A GeoTIFF written window by window and renamed into place by :meth:`commit`.

    Args:
        path: the final path.
        height, width, count, dtype: the raster's shape and type.
        crs, transform: its georeference (WKT / affine tuple or rasterio objects).
        nodata: the nodata value written into the header.
        colormap: ``{value: (r, g, b)}`` embedded as the colour table of band 1 (uint8 rasters only).
        tags: dataset-level metadata; values that are not strings are stored as JSON.
        band_descriptions: one per band.
        cog: write a Cloud-Optimised GeoTIFF (tiled, with overviews) instead of a plain tiled GeoTIFF.
        overview_resampling: 'nearest' for class maps, 'average' for continuous values.
    """

    def __init__(self, path: str | os.PathLike, height: int, width: int, count: int, dtype: str, crs=None,
                 transform=None, nodata: float | None = None, colormap: dict | None = None, tags: dict | None = None,
                 band_descriptions: Sequence[str] | None = None, cog: bool = False,
                 overview_resampling: str = 'nearest', block: int = 256) -> None:
        self.path = Path(path)
        self.cog = cog
        self.overview_resampling = overview_resampling
        self.tmp = self.path.with_name(f'.{self.path.name}.{os.getpid()}.tmp.tif')
        block = block if min(height, width) >= block else None
        self.profile = dict(driver='GTiff', height=height, width=width, count=count, dtype=dtype, nodata=nodata,
                            compress='deflate', predictor=2 if np.dtype(dtype).kind in 'iu' else 3, bigtiff='if_safer')
        if block:
            self.profile.update(tiled=True, blockxsize=block, blockysize=block)
        if crs is not None:
            self.profile['crs'] = crs
        if transform is not None:
            from affine import Affine
            self.profile['transform'] = transform if isinstance(transform, Affine) else Affine(*transform[:6])
        self.colormap = colormap
        self.tags = tags or {}
        self.band_descriptions = band_descriptions
        self._dst = None

    def __enter__(self) -> 'AtomicRasterWriter':
        import rasterio
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path)
        self._dst = rasterio.open(self.tmp, 'w', **self.profile)
        if self.colormap:
            self._dst.write_colormap(1, {int(k): tuple(int(c) for c in v[:3]) + (255,)
                                         for k, v in self.colormap.items()})
        if self.tags:
            self._dst.update_tags(**{k: v if isinstance(v, str) else json.dumps(v) for k, v in self.tags.items()})
        for i, text in enumerate(self.band_descriptions or (), 1):
            self._dst.set_band_description(i, text)
        return self

    def write(self, data: np.ndarray, row: int, col: int = 0) -> None:
        """Write ``(count, h, w)`` (or ``(h, w)`` for one band) at ``(row, col)``."""
        from rasterio.windows import Window
        data = data[None] if data.ndim == 2 else data
        self._dst.write(data, window=Window(col, row, data.shape[2], data.shape[1]))

    def commit(self) -> Path:
        """Close the file and move it to its final name (converted to a COG first when asked)."""
        self._dst.close()
        self._dst = None
        source = self.tmp
        if self.cog:
            from rasterio.shutil import copy as raster_copy
            cog_tmp = self.path.with_name(f'.{self.path.name}.{os.getpid()}.tmp.cog.tif')
            try:
                raster_copy(str(self.tmp), str(cog_tmp), driver='COG', compress='DEFLATE', blocksize=256,
                            overview_resampling=self.overview_resampling.upper(), bigtiff='IF_SAFER')
            except BaseException:
                cog_tmp.unlink(missing_ok=True)
                raise
            self.tmp.unlink()
            source = cog_tmp
        os.replace(source, self.path)
        return self.path

    def abort(self) -> None:
        if self._dst is not None:
            self._dst.close()
            self._dst = None
        for tmp in (self.tmp, self.path.with_name(f'.{self.path.name}.{os.getpid()}.tmp.cog.tif')):
            tmp.unlink(missing_ok=True)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self._dst is not None:  # an error, or left without commit()
            self.abort()


def write_png_atomic(path: str | os.PathLike, save) -> Path:
    """Call ``save(tmp_path)`` and rename the result to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp.png')
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
