"""Demo data laid out like Sen1Floods11 v1.1, hand-labelled part::

    <out>/sen1floods11/v1.1/data/flood_events/HandLabeled/S2Hand/<chip>_S2Hand.tif
    <out>/sen1floods11/v1.1/data/flood_events/HandLabeled/LabelHand/<chip>_LabelHand.tif
    <out>/sen1floods11/splits/{train,val,test,bolivia}_split.txt

The chip ids are the first ones of the real split files (data_splits/sen1floods11/), and each written split file
lists the chips written for it. As in the real chips, S2Hand holds the 13 Sentinel-2 bands B1 ... B12 (with B8A) as
int16 reflectance x 10000 with nodata -9999, and LabelHand is int16: 1 water, 0 no water, -1 no data (also its
nodata value), both in EPSG:4326. Water has its own spectrum (dark in the infrared); about a third of the chips miss a
strip along one edge.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.transform import from_origin

from geospatial_mm.datasets.geospatial_seg import read_split_file
from geospatial_mm.io.atomic import write_text_atomic
from geospatial_mm.io.geotiff import write_geotiff
from . import DATA_SPLITS
from .shapes import blobs, missing_strip

SPLIT_FILES = DATA_SPLITS / 'sen1floods11'
# B1 ... B12 digital numbers (reflectance x 10000) of dry land and of open water
S2_LAND = np.array([1400, 1200, 1100, 1000, 1300, 2000, 2300, 2500, 2600, 800, 30, 2000, 1300], float)
S2_WATER = np.array([1300, 1100, 900, 700, 600, 500, 450, 400, 380, 200, 10, 150, 100], float)
NODATA = -9999
CRS = 'EPSG:4326'


def chip(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``(13, size, size)`` int16 Sentinel-2 chip with flood water (nodata where a strip is missing) and its int16
    label (1 water, 0 no water, -1 missing)."""
    water = blobs(rng, size, int(rng.integers(1, 4)), (0.08, 0.3))
    missing = missing_strip(rng, size)
    spectra = np.where(water[None], S2_WATER[:, None, None], S2_LAND[:, None, None])
    img = spectra * (1 + rng.normal(0, 0.15, (13, size, size)))
    img = np.clip(img, 0, 10000).astype(np.int16)
    img[:, missing] = NODATA
    label = water.astype(np.int16)
    label[missing] = -1
    return img, label


def make(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    """Write ``n_train`` train chips, ``n_val`` val and test chips and half as many (at least one) Bolivia chips of
    ``size`` pixels, with their split files; returns ``<out>/sen1floods11``."""
    rng = np.random.default_rng(seed)
    root = Path(out) / 'sen1floods11'
    hand = root / 'v1.1' / 'data' / 'flood_events' / 'HandLabeled'
    counts = dict(train=n_train, val=n_val, test=n_val, bolivia=max(1, n_val // 2))
    for split, n in counts.items():
        ids = read_split_file(str(SPLIT_FILES / f'{split}_split.txt'))[:n]
        for k, chip_id in enumerate(ids):
            img, label = chip(rng, size)
            transform = from_origin(-60 + 0.05 * k, 10 - 0.01 * k, 0.0001, 0.0001)
            write_geotiff(hand / 'S2Hand' / f'{chip_id}_S2Hand.tif', img, crs=CRS, transform=transform,
                          nodata=NODATA)
            write_geotiff(hand / 'LabelHand' / f'{chip_id}_LabelHand.tif', label, crs=CRS, transform=transform,
                          nodata=-1)
        write_text_atomic(root / 'splits' / f'{split}_split.txt', '\n'.join(ids) + '\n')
    return root
