"""A tiny, learnable multi-band GeoTIFF segmentation set (img_dir/{train,val}/*.tif, ann_dir/{train,val}/*.tif).

6-band int16 reflectance x 10000 with nodata -9999 in a border strip; labels are int16 with -1 where the image is
nodata. Class 1 raises band 3, class 2 raises band 5.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.transform import from_origin

from .rasters import write_geotiff

CLASSES = ('background', 'burned', 'water')


def make_geotiff_seg_dataset(root, n_train: int = 8, n_val: int = 4, size: int = 64, seed: int = 0,
                             tiled: bool = False) -> Path:
    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, n in (('train', n_train), ('val', n_val)):
        for i in range(n):
            img = rng.normal(1500, 300, (6, size, size))
            label = np.zeros((size, size), np.int16)
            for cls, band in ((1, 3), (2, 5)):
                r, c = rng.integers(0, size // 2, 2)
                h, w = rng.integers(size // 6, size // 2, 2)
                label[r:r + h, c:c + w] = cls
                img[band][label == cls] += 2500
            img = np.clip(img, 0, 10000).astype(np.int16)
            strip = rng.integers(0, 6)
            img[:, :strip, :] = -9999
            label[:strip, :] = -1
            transform = from_origin(600000 + 30 * size * i, 4100000, 30, 30)
            write_geotiff(root / 'img_dir' / split / f'scene_{i:03d}.tif', img, nodata=-9999, transform=transform,
                          tiled=tiled, block=16)
            write_geotiff(root / 'ann_dir' / split / f'scene_{i:03d}.tif', label, nodata=-1, transform=transform)
    return root
