"""Demo data laid out like the retrogressive thaw slump data (a WorldView scene and a class raster drawn over part of
it), the input of ``tools/raster_to_coco.py``::

    <out>/slumps/WV02_20160709_M1BS_10300100591D6600-toa_pansharpen.tif    6 bands, uint16 TOA reflectance x 10000
    <out>/slumps/trialrun_label.tif                 uint8 class raster: 1 slump, 0 background
    <out>/slumps/scenes/slump_scene_000.tif         a separate scene for tools/model_inference.py
    <out>/slumps/scene_labels/slump_scene_000.tif   its class raster

The rasters are in UTM zone 8N (EPSG:32608) with 2 m pixels; the scene's nodata is 0, and a strip along its west edge
is nodata, outside the labelled part. Slumps are irregular patches of bright, wet bare soil (low near infrared) in
textured tundra, some with an island of tundra left inside (a hole).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.transform import from_origin
from scipy import ndimage

from geospatial_mm.io.geotiff import write_geotiff

SCENE = 'WV02_20160709_M1BS_10300100591D6600-toa_pansharpen'
TUNDRA = np.array([420, 610, 560, 2900, 2300, 1500], float)  # TOA reflectance x 10000, 6 bands
SOIL = np.array([900, 1150, 1350, 1700, 3300, 2900], float)  # bare, wet thaw-slump floor: bright, low NIR
CRS = 'EPSG:32608'
ORIGIN = (512000.0, 7620000.0)  # Tuktoyaktuk coastlands
PIXEL = 2  # metres
MARGIN = 24  # pixels of the scene around the labelled part


def shapes(rng: np.random.Generator, height: int, width: int, count: int,
           centres: list[tuple[float, float, float]] | None = None) -> np.ndarray:
    """uint8 class raster (1 slump, 0 background) of ``count`` separate irregular slumps, about a third of the large
    ones with a vegetated island (a hole); ``centres`` (row, col, radius) places slumps without a hole there first."""
    yy, xx = np.mgrid[:height, :width]
    label = np.zeros((height, width), np.uint8)
    placed = list(centres or [])
    given = len(placed)
    attempts = 0
    while len(placed) < count and attempts < 200 * count:
        attempts += 1
        r = float(rng.uniform(6, 14))
        cy, cx = rng.uniform(r, height - r), rng.uniform(r, width - r)
        if all((cy - py) ** 2 + (cx - px) ** 2 > (r + pr + 6) ** 2 for py, px, pr in placed):
            placed.append((cy, cx, r))
    for k, (cy, cx, r) in enumerate(placed):
        angle = np.arctan2(yy - cy, xx - cx)
        wobble = 1 + 0.18 * np.sin(3 * angle + rng.uniform(0, 6.3)) + 0.1 * np.sin(5 * angle + rng.uniform(0, 6.3))
        dist = np.hypot((yy - cy) / rng.uniform(0.7, 1.0), xx - cx)
        shape = dist <= r * wobble
        island = r > 9 and rng.random() < 0.35
        if island and k >= given:  # an island of tundra left inside the scar (not in the slumps placed on purpose)
            shape &= np.hypot(yy - cy, xx - cx) > 0.3 * r
        label[shape] = 1
    return label


def image(rng: np.random.Generator, label: np.ndarray) -> np.ndarray:
    """6-band uint16 TOA reflectance x 10000 of the class raster ``label``: tundra with a patchy texture, bare soil
    on the slumps; never 0 (the nodata value)."""
    h, w = label.shape
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), 3) * 6
    img = TUNDRA[:, None, None] * (1 + 0.08 * texture[None])
    img = np.where(label[None] == 1, SOIL[:, None, None], img)
    img *= 1 + rng.normal(0, 0.06, img.shape)
    return np.clip(img, 1, 10000).astype(np.uint16)


def make(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    """Write a 6-band scene ``<SCENE>.tif`` of ``size + 48`` pixels and its class raster ``trialrun_label.tif``, which
    covers a ``size`` x ``size`` part of it, and ``scenes/slump_scene_000.tif`` (a separate ``size`` x ``size``
    scene) with its class raster in ``scene_labels/``, one slump straddling the scene's middle column; returns
    ``<out>/slumps``. ``n_train`` and ``n_val`` are not used: tools/raster_to_coco.py cuts the training and
    validation tiles."""
    rng = np.random.default_rng(seed)
    root = Path(out) / 'slumps'
    full = size + 2 * MARGIN
    label = shapes(rng, full, full, max(2, int(full * full / 1500)))
    label[:, :MARGIN // 2] = 0  # nodata strip at the swath edge, outside the labelled area
    img = image(rng, label)
    img[:, :, :MARGIN // 2] = 0
    write_geotiff(root / f'{SCENE}.tif', img, crs=CRS, transform=from_origin(*ORIGIN, PIXEL, PIXEL), nodata=0)
    left = MARGIN + 8  # the labelled part is off-centre: its grid starts 32 pixels east and 24 south of the scene's
    write_geotiff(root / 'trialrun_label.tif', label[MARGIN:MARGIN + size, left:left + size], crs=CRS,
                  transform=from_origin(ORIGIN[0] + PIXEL * left, ORIGIN[1] - PIXEL * MARGIN, PIXEL, PIXEL))
    scene_label = shapes(rng, size, size, max(2, int(size * size / 1500)), [(size / 2, size / 2, 13.0)])
    scene_transform = from_origin(ORIGIN[0] + PIXEL * full + 1000, ORIGIN[1], PIXEL, PIXEL)
    write_geotiff(root / 'scenes' / 'slump_scene_000.tif', image(rng, scene_label), crs=CRS, transform=scene_transform,
                  nodata=0)
    write_geotiff(root / 'scene_labels' / 'slump_scene_000.tif', scene_label, crs=CRS, transform=scene_transform)
    return root
