"""Writes small GeoTIFFs for the tests (striped or internally tiled, any dtype, optional nodata)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

CRS = 'EPSG:32610'
TRANSFORM = from_origin(500000.0, 4200000.0, 30.0, 30.0)


def write_geotiff(path, data: np.ndarray, tiled: bool = False, nodata=None, crs=CRS, transform=TRANSFORM,
                  block: int = 16, descriptions=None) -> Path:
    """Write ``data`` (C, H, W) or (H, W) with its dtype. Tiled files use ``block``x``block`` tiles."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if data.ndim == 2:
        data = data[None]
    profile = dict(driver='GTiff', height=data.shape[1], width=data.shape[2], count=data.shape[0],
                   dtype=data.dtype.name, crs=crs, transform=transform, nodata=nodata)
    if tiled:
        profile.update(tiled=True, blockxsize=block, blockysize=block)
    else:
        profile.update(tiled=False, blockysize=1)
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)
        if descriptions:
            for i, d in enumerate(descriptions, 1):
                dst.set_band_description(i, d)
    return path


def ramp(count: int, height: int, width: int, dtype) -> np.ndarray:
    """Distinct values per band, row and column: value = band*10000 + row*100 + col (fits int16 for small sizes)."""
    b, r, c = np.meshgrid(np.arange(count), np.arange(height), np.arange(width), indexing='ij')
    return (b * 1000 + r * 30 + c).astype(dtype)
