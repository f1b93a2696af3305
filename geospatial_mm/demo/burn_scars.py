"""Demo data laid out like HLS Burn Scar Scenes (the Prithvi burn-scar dataset)::

    <out>/hls_burn_scars/training/subsetted_512x512_HLS.S30.T<tile>.<yyyyddd>.v1.4_merged.tif
    <out>/hls_burn_scars/training/subsetted_512x512_HLS.S30.T<tile>.<yyyyddd>.v1.4.mask.tif
    <out>/hls_burn_scars/validation/...                   (the same names)
    <out>/hls_burn_scars/scenes/subsetted_<side>x<side>_HLS...   (only with ``scene_sizes``: for model_inference)

As in the real files, a scene holds the 6 HLS bands B02 B03 B04 B8A B11 B12 as float32 reflectance with nodata -9999
(UTM, 30 m pixels) and its mask is int16: 1 burn scar, 0 unburnt, -1 missing. Burned ground is darker in the
near infrared and brighter in the shortwave infrared than the surrounding land; about a third of the scenes miss a
strip along one edge.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from rasterio.transform import from_origin

from geospatial_mm.io.geotiff import write_geotiff
from .shapes import blobs, missing_strip

HLS_MEANS = np.array([0.0333, 0.0570, 0.0589, 0.2323, 0.1973, 0.1194])  # B02 B03 B04 B8A B11 B12 reflectance
HLS_STDS = np.array([0.0227, 0.0268, 0.0400, 0.0779, 0.0871, 0.0724])
BURN_SHIFT = np.array([0.0, -0.01, 0.01, -0.12, 0.06, 0.09])  # burned ground: darker NIR, brighter SWIR
NODATA = -9999
TILES = ('10SEH', '10SFH', '11SKU', '11SLT', '12SVD', '13SDV')
CRS = 'EPSG:32611'


def scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``(6, size, size)`` float32 reflectance scene with burn scars (nodata where a strip is missing) and its
    int16 mask (1 burned, 0 unburnt, -1 missing)."""
    blob_count = max(1, int(rng.integers(1, 4) * (size / 512) ** 2))
    burned = blobs(rng, size, blob_count, (0.06 * min(1.0, 512 / size), 0.2 * min(1.0, 512 / size)))
    missing = missing_strip(rng, size)
    img = HLS_MEANS[:, None, None] + HLS_STDS[:, None, None] * rng.normal(0, 0.6, (6, size, size))
    img += BURN_SHIFT[:, None, None] * burned
    img = np.clip(img, 0.0, 1.0).astype(np.float32)
    img[:, missing] = NODATA
    mask = burned.astype(np.int16)
    mask[missing] = -1
    return img, mask


def make(out: Path, size: int, n_train: int, n_val: int, seed: int, scene_sizes: Sequence[int] = ()) -> Path:
    """Write ``n_train`` training and ``n_val`` validation scenes of ``size`` pixels and, with ``scene_sizes``, one
    scene of each of those sides in ``scenes/`` (for tools/model_inference.py); returns ``<out>/hls_burn_scars``.
    Scenes of 512 pixels are named ``subsetted_512x512_...`` like the real chips, the others after their side."""
    rng = np.random.default_rng(seed)
    root = Path(out) / 'hls_burn_scars'
    splits = [('training', size, n_train), ('validation', size, n_val)]
    splits += [('scenes', side, 1) for side in scene_sizes]
    i = 0  # runs over every scene written: tile, date and position differ between all of them
    for split, side, n in splits:
        for _ in range(n):
            tile = TILES[i % len(TILES)]
            date = f'{2018 + i % 4}{100 + 11 * i:03d}'
            name = 'subsetted_512x512' if side == 512 else f'subsetted_{side}x{side}'
            stem = f'{name}_HLS.S30.T{tile}.{date}.v1.4'
            img, mask = scene(rng, side)
            transform = from_origin(300000 + 15360 * i, 4200000, 30, 30)
            write_geotiff(root / split / f'{stem}_merged.tif', img, crs=CRS, transform=transform, nodata=NODATA)
            write_geotiff(root / split / f'{stem}.mask.tif', mask, crs=CRS, transform=transform)
            i += 1
    return root
