"""Writing PNGs (xBD images and targets) through rasterio, atomically."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np


def write_png(path: str | os.PathLike, data: np.ndarray) -> Path:
    """Write a uint8 ``(H, W)`` or ``(C, H, W)`` array as a PNG without georeference, under a temporary name in the
    same folder that is renamed into place when complete."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    path = Path(path)
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    if data.ndim != 3 or data.dtype != np.uint8:
        raise ValueError(f'{path}: a PNG takes a uint8 (H, W) or (C, H, W) array, got {data.dtype} {data.shape}')
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp.png')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            with rasterio.open(tmp, 'w', driver='PNG', width=data.shape[2], height=data.shape[1],
                               count=data.shape[0], dtype='uint8') as dst:
                dst.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + '.aux.xml').unlink(missing_ok=True)
    return path
