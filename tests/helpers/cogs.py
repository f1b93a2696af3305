"""Writes small Cloud-Optimised GeoTIFFs for the tests of reading from HTTP and STAC.

One band per file, internally tiled, with a real projected CRS and geotransform, written by GDAL's COG driver (the
layout a COG reader expects: header and tile offsets first, overviews before full-resolution data). ``write_scene``
writes one file per band of a scene at the bands' own pixel sizes over one extent, like a Sentinel-2 item with 10 m
and 20 m bands.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.transform import Affine
from rasterio.warp import transform_bounds

UTM_10N = 'EPSG:32610'
ORIGIN = (500000.0, 4200000.0)  # upper-left corner (x, y) in UTM zone 10N, near 37.9 N 123 W


@dataclass(frozen=True)
class CogInfo:
    """What was written: the file, its shape (rows, cols), geotransform, CRS, block size, overview factors, nodata
    and its bounds in the CRS and in WGS84 longitude/latitude."""

    path: Path
    shape: tuple[int, int]
    transform: Affine
    crs: str
    block: int
    overviews: tuple[int, ...]
    nodata: float | None
    dtype: str

    @property
    def epsg(self) -> int | None:
        return CRS.from_user_input(self.crs).to_epsg()

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the file's CRS."""
        h, w = self.shape
        left, top = self.transform.c, self.transform.f
        return left, top + h * self.transform.e, left + w * self.transform.a, top

    @property
    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        return tuple(transform_bounds(self.crs, 'EPSG:4326', *self.bounds, densify_pts=21))

    @property
    def stac_transform(self) -> list[float]:
        """The geotransform in the order of STAC's ``proj:transform`` (the first six coefficients of the Affine)."""
        return list(self.transform)[:6]


def north_up(origin: tuple[float, float], pixel: float) -> Affine:
    """The geotransform of square ``pixel``-sized pixels from the upper-left corner ``origin`` (x, y)."""
    return Affine(pixel, 0.0, origin[0], 0.0, -pixel, origin[1])


def synthetic_band(height: int, width: int, seed: int = 0, dtype: str = 'uint16', nodata: float | None = None,
                   nodata_fraction: float = 0.0) -> np.ndarray:
    """A deterministic band: a smooth gradient plus seeded noise (so tiles do not compress to nothing and every
    pixel differs from its neighbours), with an optional share of ``nodata`` pixels in the last rows."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    info = np.iinfo(dtype) if np.dtype(dtype).kind in 'iu' else None
    top = min(info.max, 10000) if info else 1.0
    data = (rows * 0.37 + cols * 0.61) % (top / 2) + rng.uniform(0, top / 2, (height, width))
    data = data.astype(dtype)
    if nodata is not None:
        data[data == nodata] = nodata + 1 if info is None or nodata < info.max else nodata - 1
        if nodata_fraction > 0:
            data[height - max(1, int(round(height * nodata_fraction))):] = nodata
    return data


def write_cog(path: str | Path, data: np.ndarray, transform: Affine, crs: str = UTM_10N, *, block: int = 256,
              overviews: Sequence[int] = (), nodata: float | None = None, compress: str = 'DEFLATE',
              description: str | None = None) -> CogInfo:
    """Write ``data`` (H, W), one band, as a COG with ``block`` x ``block`` internal tiles (a multiple of 16),
    ``overviews`` (decimation factors, e.g. (2, 4); none by default) and ``compress`` (DEFLATE, NONE, ...)."""
    if data.ndim != 2:
        raise ValueError(f'write_cog: expected one band (H, W), found shape {data.shape}')
    if block % 16:
        raise ValueError(f'write_cog: expected a block size that is a multiple of 16, found {block}')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = data.shape
    profile = dict(driver='GTiff', height=height, width=width, count=1, dtype=data.dtype.name, crs=crs,
                   transform=transform, nodata=nodata, tiled=True, blockxsize=block, blockysize=block)
    with MemoryFile() as mem:
        with mem.open(**profile) as tmp:
            tmp.write(data, 1)
            if description:
                tmp.set_band_description(1, description)
            if overviews:
                tmp.build_overviews(list(overviews), rasterio.enums.Resampling.average)
        with mem.open() as src:
            rasterio.shutil.copy(src, path, driver='COG', BLOCKSIZE=block, COMPRESS=compress,
                                 OVERVIEWS='FORCE_USE_EXISTING' if overviews else 'NONE')
    with rasterio.open(path) as check:
        if check.block_shapes[0] != (block, block) or check.overviews(1) != list(overviews):
            raise RuntimeError(f'{path}: expected {block}x{block} tiles and overviews {list(overviews)}, found '
                               f'{check.block_shapes[0]} and {check.overviews(1)}')
    return CogInfo(path, (height, width), transform, crs, block, tuple(overviews), nodata, data.dtype.name)


def write_scene(folder: str | Path, stem: str, bands: Mapping[str, float], *, extent: tuple[float, float],
                origin: tuple[float, float] = ORIGIN, crs: str = UTM_10N, block: int = 256,
                overviews: Sequence[int] = (), dtype: str = 'uint16', nodata: float | None = 0, seed: int = 0,
                compress: str = 'DEFLATE') -> dict[str, CogInfo]:
    """Write one COG per band, ``{folder}/{stem}_{band}.tif``, each at its own pixel size (``bands`` maps a band
    name to metres per pixel) over the same ``extent`` (width, height in CRS units) from ``origin`` (upper left).
    The extent must be a whole number of pixels at every pixel size. Returns the CogInfo of each band."""
    out = {}
    for i, (band, pixel) in enumerate(bands.items()):
        width, height = extent[0] / pixel, extent[1] / pixel
        if width != int(width) or height != int(height):
            raise ValueError(f'write_scene: extent {extent} is not a whole number of {pixel} m pixels')
        data = synthetic_band(int(height), int(width), seed=seed * 1000 + i, dtype=dtype, nodata=nodata)
        out[band] = write_cog(Path(folder) / f'{stem}_{band}.tif', data, north_up(origin, pixel), crs,
                              block=block, overviews=overviews, nodata=nodata, compress=compress,
                              description=band)
    return out
