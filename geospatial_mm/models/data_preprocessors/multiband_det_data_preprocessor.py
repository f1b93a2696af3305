"""MMDetection's data preprocessor for images of any number of bands."""
from __future__ import annotations

from typing import Sequence

import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.registry import MODELS


@MODELS.register_module()
class MultiBandDetDataPreprocessor(DetDataPreprocessor):
    """mmdet's DetDataPreprocessor for ``(C, H, W)`` images with any C (its base, mmengine's ImgDataPreprocessor,
    takes 1 or 3 means).

    Each image is normalised band by band, then mmdet pads, batches and handles the masks as usual (padding after
    normalisation, so ``pad_value`` 0 is the mean):

    * ``mean``/``std`` (length C, or 1 for every band): ``(x - mean) / std``;
    * ``local_standardization=True``: instead, every image is standardised with its own per-band mean and standard
      deviation (the original slump pipeline's option), which removes scene-to-scene differences of illumination and
      calibration. ``nodata`` pixels (where every band equals it) are left out of those statistics and set to 0.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 local_standardization: bool = False, nodata: float | None = None, eps: float = 1e-6,
                 **kwargs) -> None:
        if kwargs.get('bgr_to_rgb') or kwargs.get('rgb_to_bgr'):
            raise ValueError('channel flipping makes no sense for multi-band inputs')
        if (mean is None) != (std is None):
            raise ValueError('give both mean and std, or neither')
        if local_standardization and mean is not None:
            raise ValueError('local_standardization replaces mean/std: give one or the other')
        super().__init__(mean=None, std=None, **kwargs)
        if mean is not None:
            if len(mean) != len(std):
                raise ValueError(f'mean has {len(mean)} values, std {len(std)}; expected one per band')
            if any(s <= 0 for s in std):
                raise ValueError(f'std must be positive, got {list(std)}')
        self.band_mean = torch.tensor(mean, dtype=torch.float32) if mean is not None else None
        self.band_std = torch.tensor(std, dtype=torch.float32) if std is not None else None
        self.local_standardization = local_standardization
        self.nodata = nodata
        self.eps = eps

    def normalize(self, img: torch.Tensor) -> torch.Tensor:
        """One ``(C, H, W)`` image -> float32, normalised."""
        img = img.float()
        if img.ndim != 3:
            raise ValueError(f'expected a (C, H, W) image, got shape {tuple(img.shape)}')
        if self.local_standardization:
            valid = torch.ones(img.shape[1:], dtype=torch.bool, device=img.device)
            if self.nodata is not None:
                valid = ~(img == self.nodata).all(dim=0)
            n = valid.sum().clamp(min=1)
            values = img * valid
            mean = values.sum(dim=(1, 2)) / n
            var = ((img - mean.view(-1, 1, 1)) ** 2 * valid).sum(dim=(1, 2)) / n
            out = (img - mean.view(-1, 1, 1)) / (var.sqrt().view(-1, 1, 1) + self.eps)
            return out * valid
        if self.band_mean is None:
            return img
        c = img.shape[0]
        if len(self.band_mean) not in (1, c):
            raise ValueError(f'the image has {c} bands, but the data preprocessor has {len(self.band_mean)} means '
                             '(one per band expected)')
        mean = self.band_mean.to(img.device).view(-1, 1, 1)
        std = self.band_std.to(img.device).view(-1, 1, 1)
        return (img - mean) / std

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, torch.Tensor):  # default_collate: a (B, C, H, W) batch
            inputs = torch.stack([self.normalize(x) for x in inputs])
        else:
            inputs = [self.normalize(x) for x in inputs]
        return super().forward(dict(data, inputs=inputs), training)
