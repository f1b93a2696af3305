"""Random Gaussian blur and noise for ``(H, W, C)`` images with any number of channels (mmpretrain's GaussianBlur goes
through PIL, which takes neither float images nor two channels). Both draw once per call, so inside mmpretrain's
``MultiView`` every view gets its own draw."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS


def _range(value: float | Sequence[float], name: str) -> tuple[float, float]:
    low, high = (value, value) if isinstance(value, (int, float)) else tuple(value)
    if not 0 <= low <= high:
        raise ValueError(f'{name} must be a number >= 0 or a range (low, high) with 0 <= low <= high, found {value}')
    return float(low), float(high)


def _check_image(img, transform: str) -> None:
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        raise TypeError(f'{transform} takes (H, W) or (H, W, C) numpy images, found '
                        f'{type(img).__name__} {getattr(img, "shape", "")}')


@TRANSFORMS.register_module()
class RandomGaussianBlur(BaseTransform):
    """With probability ``prob`` blur ``img`` with a Gaussian of standard deviation drawn uniformly from
    ``sigma`` (pixels; MoCo v2 uses 0.1-2.0), every channel alike."""

    def __init__(self, sigma: float | Sequence[float] = (0.1, 2.0), prob: float = 0.5) -> None:
        self.sigma = _range(sigma, 'sigma')
        if self.sigma[0] <= 0:
            raise ValueError(f'sigma must be positive, found {sigma}')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        import cv2
        img = results['img']
        _check_image(img, type(self).__name__)
        if np.random.rand() < self.prob:
            sigma = np.random.uniform(*self.sigma)
            blurred = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
            results['img'] = blurred.reshape(img.shape)  # cv2 drops a trailing channel axis of size 1
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(sigma={self.sigma}, prob={self.prob})'


@TRANSFORMS.register_module()
class RandomGaussianNoise(BaseTransform):
    """With probability ``prob`` add zero-mean Gaussian noise, its standard deviation drawn uniformly from ``std``
    (in the image's units), independently per pixel and channel; the result is clipped to ``clip`` (low, high) if
    given. Integer images are returned as float32."""

    def __init__(self, std: float | Sequence[float] = (0.0, 8.0), prob: float = 0.5,
                 clip: Sequence[float] | None = None) -> None:
        self.std = _range(std, 'std')
        self.prob = prob
        if clip is not None and (len(clip) != 2 or clip[0] >= clip[1]):
            raise ValueError(f'clip must be (low, high) with low < high, found {clip}')
        self.clip = tuple(clip) if clip is not None else None

    def transform(self, results: dict) -> dict:
        img = results['img']
        _check_image(img, type(self).__name__)
        if np.random.rand() < self.prob:
            std = np.random.uniform(*self.std)
            noisy = img.astype(np.float32) + np.random.normal(0.0, std, img.shape).astype(np.float32)
            if self.clip is not None:
                np.clip(noisy, *self.clip, out=noisy)
            results['img'] = noisy
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(std={self.std}, prob={self.prob}, clip={self.clip})'
