"""PNGs without georeference (xBD images and targets, Hephaestus interferograms and masks).

Grey images are read as stored; 8- and 16-bit images are written atomically.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .atomic import atomic_path
from .raster import RasterError


def write_png(path: str | os.PathLike[str], data: NDArray[np.uint8 | np.uint16]) -> Path:
    """Write a uint8 or uint16 ``(H, W)`` or ``(C, H, W)`` array as a PNG, atomically.

    Returns:
        ``path``.

    Raises:
        ValueError: ``data`` is not a uint8 or uint16 array of two or three dimensions.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    path = Path(path)
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    if data.ndim != 3 or data.dtype not in (np.uint8, np.uint16):
        raise ValueError(f'{path}: a PNG takes a uint8 or uint16 (H, W) or (C, H, W) array, got {data.dtype} '
                         f'{data.shape}')
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with rasterio.open(tmp, 'w', driver='PNG', width=data.shape[2], height=data.shape[1], count=data.shape[0],
                           dtype=data.dtype.name) as dst:
            dst.write(data)
    return path


def read_gray_png(path: str | os.PathLike[str]) -> NDArray[np.uint8 | np.uint16]:
    """A grey PNG as a 2-D array.

    Returns:
        ``(H, W)``: 8-bit grey (``L``) and 16-bit grey (``I;16``) as stored (uint8, uint16 in native byte order),
        colour or palette images converted to 8-bit luminance.

    Raises:
        RasterError: the file does not exist, is not a readable image, is truncated or corrupt, or holds 32-bit
            values.
    """
    from PIL import Image, UnidentifiedImageError
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise RasterError(f'{path}: image file not found')
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ('L', 'I;16', 'I;16B', 'I;16L'):
                array = np.asarray(img)
            elif img.mode == 'I':  # Pillow opens 16-bit grey PNGs as 32-bit integers
                array = np.asarray(img)
                if array.size and (array.min() < 0 or array.max() > 65535):
                    raise RasterError(f'{path}: expected an 8- or 16-bit image, found 32-bit values '
                                      f'{array.min()}..{array.max()}')
                array = array.astype(np.uint16)
            elif img.mode == 'F':
                raise RasterError(f'{path}: expected an 8- or 16-bit image, found 32-bit floats')
            else:
                array = np.asarray(img.convert('L'))
    except UnidentifiedImageError:
        raise RasterError(f'{path}: not a readable image') from None
    except OSError as exc:
        raise RasterError(f'{path}: failed to read pixels, the file may be truncated or corrupt ({exc})') from None
    return array.astype(np.uint16) if array.dtype.itemsize == 2 else array  # native byte order
