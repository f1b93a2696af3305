"""Loading a Hephaestus interferogram folder (``InSAR.png`` + ``Coherence.png``) as one multi-channel image."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

from geospatial_mm.datasets.hephaestus_schema import COHERENCE_FILE, INSAR_FILE, read_interferogram


@TRANSFORMS.register_module()
class LoadHephaestusInterferogram(BaseTransform):
    """Stack the images of an interferogram folder as channels: ``img`` is ``(H, W, len(files))``, by default
    channel 0 the wrapped interferogram and channel 1 the coherence, with their stored values (0-255 for 8-bit PNGs).

    Required keys: ``img_path`` (the folder). Added keys: ``img``, ``img_shape``, ``ori_shape``.

    Args:
        files: the images to stack, in channel order.
        to_float32: float32 output (else the images' own uint8/uint16).
    """

    def __init__(self, files: Sequence[str] = (INSAR_FILE, COHERENCE_FILE), to_float32: bool = True) -> None:
        if not files:
            raise ValueError('files must name at least one image')
        self.files = tuple(files)
        self.to_float32 = to_float32

    def transform(self, results: dict) -> dict:
        img = read_interferogram(results['img_path'], self.files)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(files={self.files}, to_float32={self.to_float32})'
