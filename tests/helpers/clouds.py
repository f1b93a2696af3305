"""Generated scenes for the "your own data" guide (docs/own_data.md): a Landsat-8 Collection 2 Level-1 scene with a
cloud label raster, and a Sentinel-2 Level-1C scene of the same kind of land, each in its product's units.

Both show smooth land with soft-edged bright clouds over it; surface and cloud reflectances per band are the typical
values of the bands B2, B3, B4, NIR, SWIR1, SWIR2 (clouds bright everywhere, cooler in SWIR2). The Landsat scene is
stored as Level-1 DN (reflectance = DN * 2e-5 - 0.1, nodata 0) with a fill corner, as a scene's rotated footprint
leaves; the Sentinel-2 scene as L1C digital numbers (reflectance = DN / 10000, nodata 0), all 13 bands, on another
grid and CRS.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.transform import from_origin

from geospatial_mm.demo.shapes import blobs
from helpers.rasters import write_geotiff

SURFACE = np.array([0.06, 0.08, 0.07, 0.28, 0.20, 0.12])  # land: blue, green, red, NIR, SWIR1, SWIR2
CLOUD = np.array([0.62, 0.60, 0.60, 0.62, 0.42, 0.28])
S2_BANDS = ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B10', 'B11', 'B12')
S2_USED = (1, 2, 3, 8, 11, 12)  # B02 B03 B04 B8A B11 B12 among the 13


def smooth(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """A smooth random field in 0..1 (bilinear upsampling of a coarse grid)."""
    coarse = rng.random((height // cell + 2, width // cell + 2))
    rows, cols = np.arange(height) / cell, np.arange(width) / cell
    r0, c0 = rows.astype(int), cols.astype(int)
    fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
    top = coarse[r0][:, c0] * (1 - fc) + coarse[r0][:, c0 + 1] * fc
    bottom = coarse[r0 + 1][:, c0] * (1 - fc) + coarse[r0 + 1][:, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


def reflectance(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(6, H, W)`` reflectance of a cloudy scene and its ``(H, W)`` cloud mask."""
    size = max(height, width)
    cloud = blobs(rng, size, count=10, radius=(0.04, 0.12))[:height, :width]
    # soft cloud edges: cloud fraction from 0 outside to 1 a few pixels inside
    soft = np.clip(smooth(rng, height, width, 8) * 0.6 + cloud * 0.7, 0, 1) * cloud
    land = SURFACE[:, None, None] * (0.6 + 0.8 * smooth(rng, height, width, 48))[None]
    land += rng.normal(0, 0.004, land.shape)
    refl = land * (1 - soft) + CLOUD[:, None, None] * soft
    return refl, cloud


def landsat_scene(image: Path, label: Path, size: int = 1536, seed: int = 0) -> None:
    """A Landsat-8 L1 scene (six reflective bands B2-B7 as uint16 DN, nodata 0) and its cloud label raster (uint8:
    0 clear, 1 cloud, 255 nodata where the scene has no data), on one 30 m UTM grid."""
    rng = np.random.default_rng(seed)
    refl, cloud = reflectance(rng, size, size)
    dn = np.clip(np.round((refl + 0.1) / 2e-5), 1, 65535).astype(np.uint16)
    yy, xx = np.mgrid[:size, :size]
    fill = yy + xx < size // 4  # the fill corner outside the scene's footprint
    dn[:, fill] = 0
    classes = np.where(fill, 255, cloud.astype(np.uint8)).astype(np.uint8)
    transform = from_origin(399960.0, 4900020.0, 30.0, 30.0)
    names = ['B2', 'B3', 'B4', 'B5', 'B6', 'B7']
    write_geotiff(image, dn, tiled=True, block=256, nodata=0, crs='EPSG:32633', transform=transform,
                  descriptions=names)
    write_geotiff(label, classes, tiled=True, block=256, nodata=255, crs='EPSG:32633', transform=transform)


def sentinel2_scene(image: Path, height: int = 600, width: int = 800, seed: int = 1) -> np.ndarray:
    """A Sentinel-2 L1C scene (13 bands as uint16 DN = reflectance x 10000, nodata 0) on a 20 m grid in another
    UTM zone; returns its cloud mask."""
    rng = np.random.default_rng(seed)
    refl, cloud = reflectance(rng, height, width)
    dn = np.zeros((len(S2_BANDS), height, width), np.uint16)
    dn[:] = np.clip(np.round(refl.mean(0) * 10000), 1, 65535).astype(np.uint16)  # bands the model does not use
    dn[list(S2_USED)] = np.clip(np.round(refl * 10000), 1, 65535).astype(np.uint16)
    transform = from_origin(600000.0, 5300040.0, 20.0, 20.0)
    write_geotiff(image, dn, tiled=True, block=256, nodata=0, crs='EPSG:32634', transform=transform,
                  descriptions=list(S2_BANDS))
    return cloud
