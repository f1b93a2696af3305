"""Demo data laid out like HLS Multi-Temporal Crop Classification (the Prithvi crop chips)::

    <out>/multi_temporal_crop_classification/training_chips/chip_<r>_<c>_merged.tif
    <out>/multi_temporal_crop_classification/training_chips/chip_<r>_<c>.mask.tif
    <out>/multi_temporal_crop_classification/validation_chips/...
    <out>/multi_temporal_crop_classification/{training,validation}_data.txt    the chip ids of each split

As in the real chips, an image holds 18 int16 bands, the 6 HLS bands of 3 dates one date after the other (EPSG:5070,
30 m pixels), and its mask is uint8: 0 no data, 1-13 the crop classes. Fields are a grid of parcels of one class
each; every class has its own spectrum and its own change between the dates (the near infrared follows the crop
calendar most), so a model must use all three dates.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.transform import from_origin

from geospatial_mm.io.atomic import write_text_atomic
from geospatial_mm.io.geotiff import write_geotiff
from .shapes import missing_strip

N_CLASSES = 13
BASE_SPECTRUM = np.array([500, 800, 900, 3000, 2600, 1700], float)  # digital numbers of the 6 HLS bands
SIGNATURE_SEED = 1234  # the class signatures are the same for every seed and split
PARCELS = 4  # parcels per side of a chip
CRS = 'EPSG:5070'


def signatures(rng: np.random.Generator) -> np.ndarray:
    """``(13 classes, 3 dates, 6 bands)`` digital numbers: each class its own spectrum and seasonal change."""
    sig = np.empty((N_CLASSES, 3, 6))
    for c in range(N_CLASSES):
        spectrum = BASE_SPECTRUM * rng.uniform(0.6, 1.4, 6)
        season = rng.uniform(0.6, 1.5, (3, 1))  # greening / harvest differ by class
        sig[c] = spectrum[None] * season
        sig[c, :, 3] *= rng.uniform(0.7, 1.6, 3)  # NIR follows the crop calendar most
    return sig


def chip_name(rng: np.random.Generator, taken: list[str]) -> str:
    """A ``chip_<row>_<col>`` id not in ``taken``."""
    name = f'chip_{rng.integers(0, 400):03d}_{rng.integers(0, 600):03d}'
    while name in taken:
        name = f'chip_{rng.integers(0, 400):03d}_{rng.integers(0, 600):03d}'
    return name


def chip(rng: np.random.Generator, size: int, sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An ``(18, size, size)`` int16 chip (date-major, like the real chips) and its uint8 mask (0 no data, 1-13)."""
    parcel = rng.integers(1, N_CLASSES + 1, (PARCELS, PARCELS))
    side = size // PARCELS + 1
    label = np.kron(parcel, np.ones((side, side), int))[:size, :size]
    nodata = missing_strip(rng, size)
    label = np.where(nodata, 0, label).astype(np.uint8)
    img = np.zeros((3, 6, size, size))
    for c in range(1, N_CLASSES + 1):
        where = label == c
        img[:, :, where] = sig[c - 1][:, :, None]
    img *= 1 + rng.normal(0, 0.12, img.shape)
    img = np.clip(img, 0, 10000).reshape(18, size, size).astype(np.int16)
    return img, label


def make(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    """Write ``n_train`` training and ``n_val`` validation chips of ``size`` pixels with their split files; returns
    ``<out>/multi_temporal_crop_classification``."""
    rng = np.random.default_rng(seed)
    root = Path(out) / 'multi_temporal_crop_classification'
    sig = signatures(np.random.default_rng(SIGNATURE_SEED))
    for split_file, folder, n in (('training_data.txt', 'training_chips', n_train),
                                  ('validation_data.txt', 'validation_chips', n_val)):
        ids = []
        for i in range(n):
            name = chip_name(rng, ids)
            ids.append(name)
            img, label = chip(rng, size, sig)
            transform = from_origin(-1000000 + 6720 * i, 2000000, 30, 30)
            write_geotiff(root / folder / f'{name}_merged.tif', img, crs=CRS, transform=transform)
            write_geotiff(root / folder / f'{name}.mask.tif', label, crs=CRS, transform=transform)
        write_text_atomic(root / split_file, '\n'.join(ids) + '\n')
    return root
