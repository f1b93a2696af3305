"""Choosing a random window of a raster before it is loaded, so that the loaders read only its pixels."""
from __future__ import annotations

import functools
import os
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

from geospatial_mm.io import read_bands, read_meta


@functools.lru_cache(maxsize=1 << 16)
def _cached_size(path: str, mtime_ns: int, nbytes: int, backend: str) -> tuple[int, int]:
    meta = read_meta(path, backend)
    return meta.height, meta.width


def raster_size(path: str, backend: str = 'rasterio') -> tuple[int, int]:
    """``(height, width)`` of a raster, remembered per file version (path, modification time, size): training
    draws windows from the same files epoch after epoch, and opening a GeoTIFF's header costs as much as reading a
    224x224 window of it."""
    try:
        st = os.stat(path)
    except OSError:
        meta = read_meta(path, backend)  # its error names the file and the problem
        return meta.height, meta.width
    return _cached_size(path, st.st_mtime_ns, st.st_size, backend)


@TRANSFORMS.register_module()
class RandomWindow(BaseTransform):
    """Choose a random ``crop_size`` window before loading, so the loaders read only its pixels.

    Put it before :class:`LoadGeospatialImageFromFile` / :class:`LoadGeospatialAnnotations`; they read
    ``results['read_window']``. With ``cat_max_ratio < 1`` the label window is read (cheap: one band) and the draw is
    repeated, up to 10 times, until no single class covers more than that fraction of the labelled pixels (pixels equal
    to ``ignore_index`` or to the label's nodata are not counted), as mmseg's RandomCrop does.
    A raster smaller than the crop gives the whole raster.
    """

    def __init__(self, crop_size: int | Sequence[int], cat_max_ratio: float = 1.0, ignore_index: int = 255,
                 path_key: str = 'img_path', seg_path_key: str = 'seg_map_path', backend: str = 'rasterio',
                 window_key: str = 'read_window') -> None:
        self.crop_size = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index
        self.path_key = path_key
        self.seg_path_key = seg_path_key
        self.backend = backend
        self.window_key = window_key

    def _draw(self, height: int, width: int) -> tuple[int, int, int, int]:
        h, w = min(self.crop_size[0], height), min(self.crop_size[1], width)
        row = np.random.randint(0, height - h + 1)
        col = np.random.randint(0, width - w + 1)
        return row, col, h, w

    def transform(self, results: dict) -> dict:
        path = results[self.path_key]
        path = os.fspath(path if isinstance(path, (str, os.PathLike)) else path[0])
        height, width = raster_size(path, self.backend)
        window = self._draw(height, width)
        seg_path = results.get(self.seg_path_key)
        if self.cat_max_ratio < 1.0 and seg_path is not None:
            seg_meta = read_meta(seg_path, self.backend)
            for _ in range(10):
                label = read_bands(seg_path, [0], window, self.backend, seg_meta)[0]
                valid = label != self.ignore_index
                if seg_meta.nodata is not None:
                    valid &= label != seg_meta.nodata
                _, counts = np.unique(label[valid], return_counts=True)
                if len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio:
                    break
                window = self._draw(height, width)
        results[self.window_key] = window
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size}, cat_max_ratio={self.cat_max_ratio})'
