"""Writing GeoTIFFs (and Cloud-Optimised GeoTIFFs) window by window.

A file is written under a temporary name that becomes the final one only when the file is complete
(:mod:`geospatial_mm.io.atomic`); :func:`write_geotiff` writes a whole array.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Mapping, NotRequired, Self, Sequence, TypedDict

import numpy as np
from numpy.typing import NDArray

from .atomic import JSONValue, remove_stale_temporaries, temporary_path
from .redaction import redact

if TYPE_CHECKING:
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.io import DatasetWriter


class GeoTiffProfile(TypedDict):
    """The creation options of a GeoTIFF (:attr:`GeoTiffWriter.profile`), as ``rasterio.open`` takes them."""
    driver: str
    height: int
    width: int
    count: int
    dtype: str
    nodata: float | None
    bigtiff: str
    compress: NotRequired[str]
    predictor: NotRequired[int]
    tiled: NotRequired[bool]
    blockxsize: NotRequired[int]
    blockysize: NotRequired[int]
    crs: NotRequired[str | CRS]
    transform: NotRequired[Affine]


class GeoTiffWriter:
    """A GeoTIFF written window by window and renamed into place by :meth:`commit`.

    Args:
        path: the final path.
        height: the raster's height in pixels.
        width: the raster's width in pixels.
        count: its number of bands.
        dtype: its data type (numpy's name, e.g. ``'uint8'``).
        crs: its CRS (WKT, ``'EPSG:...'`` or a rasterio CRS).
        transform: its affine transform (a tuple ``(a, b, c, d, e, f)`` or an ``Affine``).
        nodata: the nodata value written into the header.
        colormap: ``{value: (r, g, b)}`` embedded as the colour table of band 1 (uint8 rasters only).
        tags: dataset-level metadata; values that are not strings are stored as JSON.
        band_descriptions: one per band.
        cog: write a Cloud-Optimised GeoTIFF (tiled, with overviews) instead of a plain tiled GeoTIFF.
        overview_resampling: 'nearest' for class maps, 'average' for continuous values.
        block: the tiles' size (0: strips; so are rasters smaller than a block).
        compress: deflate with the predictor that suits the dtype.
    """

    def __init__(self, path: str | os.PathLike[str], height: int, width: int, count: int, dtype: str,
                 crs: str | CRS | None = None, transform: Affine | Sequence[float] | None = None,
                 nodata: float | None = None, colormap: Mapping[int, Sequence[int]] | None = None,
                 tags: Mapping[str, JSONValue] | None = None, band_descriptions: Sequence[str] | None = None,
                 cog: bool = False, overview_resampling: str = 'nearest', block: int = 256,
                 compress: bool = True) -> None:
        self.path = Path(path)
        self.cog = cog
        self.overview_resampling = overview_resampling
        self.tmp = temporary_path(self.path, '.tif')
        tile_size = block if block and min(height, width) >= block else 0
        self.profile = GeoTiffProfile(driver='GTiff', height=height, width=width, count=count, dtype=dtype,
                                      nodata=nodata, bigtiff='if_safer')
        if compress:
            self.profile['compress'] = 'deflate'
            self.profile['predictor'] = 2 if np.dtype(dtype).kind in 'iu' else 3
        if tile_size:
            self.profile['tiled'] = True
            self.profile['blockxsize'] = self.profile['blockysize'] = tile_size
        if crs is not None:
            self.profile['crs'] = crs
        if transform is not None:
            from affine import Affine
            self.profile['transform'] = transform if isinstance(transform, Affine) else Affine(*transform[:6])
        self.colormap = colormap
        self.tags: Mapping[str, JSONValue] = tags or {}
        self.band_descriptions = band_descriptions
        self._dst: DatasetWriter | None = None

    def __enter__(self) -> Self:
        import rasterio
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path)
        dst = self._dst = rasterio.open(self.tmp, 'w', **self.profile)
        if self.colormap:
            dst.write_colormap(1, {int(k): tuple(int(c) for c in v[:3]) + (255,) for k, v in self.colormap.items()})
        if self.tags:
            # a tag may name an input (``source``): without the secrets of its URL
            dst.update_tags(**{k: redact(v if isinstance(v, str) else json.dumps(v)) for k, v in self.tags.items()})
        for i, text in enumerate(self.band_descriptions or (), 1):
            dst.set_band_description(i, text)
        return self

    def write(self, data: NDArray[np.generic], row: int, col: int = 0) -> None:
        """Write ``(count, h, w)`` (or ``(h, w)`` for one band) at ``(row, col)``."""
        from rasterio.windows import Window
        assert self._dst is not None, f'{self.path}: write() needs the writer open (in its with block)'
        data = data[None] if data.ndim == 2 else data
        self._dst.write(data, window=Window(col, row, data.shape[2], data.shape[1]))

    def commit(self) -> Path:
        """Close the file and move it to its final name (converted to a COG first when asked).

        Returns:
            The final path.
        """
        assert self._dst is not None, f'{self.path}: commit() needs the writer open (in its with block)'
        self._dst.close()
        self._dst = None
        source = self.tmp
        if self.cog:
            from rasterio.shutil import copy as raster_copy
            cog_tmp = temporary_path(self.path, '.cog.tif')
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
        """Close the file if open and delete its temporaries: nothing appears under the final name."""
        if self._dst is not None:
            self._dst.close()
            self._dst = None
        for tmp in (self.tmp, temporary_path(self.path, '.cog.tif')):
            tmp.unlink(missing_ok=True)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None or self._dst is not None:  # an error, or left without commit()
            self.abort()


def write_geotiff(path: str | os.PathLike[str], data: NDArray[np.generic], crs: str | CRS | None = None,
                  transform: Affine | Sequence[float] | None = None, nodata: float | None = None, tiled: bool = True,
                  block: int = 256, colormap: Mapping[int, Sequence[int]] | None = None,
                  tags: Mapping[str, JSONValue] | None = None, band_descriptions: Sequence[str] | None = None,
                  compress: bool = True) -> Path:
    """Write a whole ``(C, H, W)`` (or ``(H, W)``) array as a GeoTIFF in its own dtype, atomically.

    It is deflate-compressed (unless ``compress`` is False), in ``block`` x ``block`` tiles (strips when ``tiled`` is
    False or the raster is smaller than a block); the other arguments are :class:`GeoTiffWriter`'s.

    Returns:
        ``path``, as a path.

    Raises:
        ValueError: ``data`` has neither two nor three dimensions.
    """
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    if data.ndim != 3:
        raise ValueError(f'{path}: a GeoTIFF takes a (C, H, W) or (H, W) array, got shape {data.shape}')
    writer = GeoTiffWriter(path, height=data.shape[1], width=data.shape[2], count=data.shape[0],
                           dtype=data.dtype.name, crs=crs, transform=transform, nodata=nodata, colormap=colormap,
                           tags=tags, band_descriptions=band_descriptions, block=block if tiled else 0,
                           compress=compress)
    with writer:
        writer.write(data, 0)
        return writer.commit()
