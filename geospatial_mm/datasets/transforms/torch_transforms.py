"""Transforms on channels-first torch tensors (the convention of the Prithvi recipes).

Images are ``(C, H, W)`` or, after :class:`Reshape`, ``(C, T, H, W)``; segmentation maps ``(H, W)``. Every random
transform draws once per sample and applies the draw to every image key (``results['img_keys']``: pre/post images,
frames) and every map in ``results['seg_fields']`` (and ``nodata_mask``), so they stay pixel-aligned.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

SPATIAL_EXTRA_KEYS = ('nodata_mask',)


def _image_keys(results: dict, keys: Sequence[str] | None) -> list[str]:
    if keys is not None:
        return list(keys)
    return [k for k in results.get('img_keys', ['img']) if k in results]


def _map_keys(results: dict) -> list[str]:
    keys = list(results.get('seg_fields', []))
    keys += [k for k in SPATIAL_EXTRA_KEYS if k in results and k not in keys]
    return keys


def _as_tensor(value, key: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    raise TypeError(f'{key}: expected a tensor or an array, found {type(value).__name__}')


@TRANSFORMS.register_module()
class TorchFromNumpy(BaseTransform):
    """``(H, W, C)`` numpy images -> float ``(C, H, W)`` tensors; ``(H, W)`` maps -> tensors (labels int64,
    nodata mask bool)."""

    pointwise = True  # pixel by pixel: streaming inference may run it once on a strip and cut the tiles out

    def __init__(self, keys: Sequence[str] | None = None) -> None:
        self.keys = keys

    def transform(self, results: dict) -> dict:
        for key in _image_keys(results, self.keys):
            img = results[key]
            if isinstance(img, np.ndarray):
                img = img[..., None] if img.ndim == 2 else img
                results[key] = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        for key in _map_keys(results):
            if isinstance(results[key], np.ndarray):
                results[key] = torch.from_numpy(np.ascontiguousarray(results[key]))
        return results


@TRANSFORMS.register_module()
class TorchNormalize(BaseTransform):
    """``(x - mean) / std`` per band. ``means``/``stds`` have one value per band; for stacked frames the values
    repeat for every frame (a ``(C*T, H, W)`` image with C-long means) and for ``(C, T, H, W)`` they apply along C."""

    pointwise = True  # pixel by pixel: streaming inference may run it once on a strip and cut the tiles out

    def __init__(self, means: Sequence[float], stds: Sequence[float], keys: Sequence[str] | None = None) -> None:
        if len(means) != len(stds):
            raise ValueError(f'{len(means)} means but {len(stds)} stds')
        if any(s == 0 for s in stds):
            raise ValueError('stds must be non-zero')
        self.means = torch.tensor(means, dtype=torch.float32)
        self.stds = torch.tensor(stds, dtype=torch.float32)
        # (x - mean) / std as x * scale + shift: one pass over the image
        self.scale = 1.0 / self.stds
        self.shift = -self.means * self.scale
        self.keys = keys

    def transform(self, results: dict) -> dict:
        for key in _image_keys(results, self.keys):
            img = _as_tensor(results[key], key).float()
            channels = img.shape[0]
            n = len(self.means)
            if channels == n:
                scale, shift = self.scale, self.shift
            elif img.ndim == 3 and channels % n == 0:
                scale, shift = self.scale.repeat(channels // n), self.shift.repeat(channels // n)
            else:
                raise ValueError(f'{key}: {channels} channels cannot be normalised with {n} means/stds '
                                 f'(image shape {tuple(img.shape)}, path {results.get("img_path")})')
            shape = (-1,) + (1,) * (img.ndim - 1)
            results[key] = torch.addcmul(shift.view(shape), img, scale.view(shape))
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(means={self.means.tolist()}, stds={self.stds.tolist()})'


@TRANSFORMS.register_module()
class TorchRandomCrop(BaseTransform):
    """Random ``crop_size`` crop of every image and map. With ``cat_max_ratio < 1`` the crop is drawn again (up to 10
    times) until no class covers more than that fraction of the non-ignored label pixels (mmseg's rule)."""

    def __init__(self, crop_size: int | Sequence[int], cat_max_ratio: float = 1.0, ignore_index: int = 255,
                 keys: Sequence[str] | None = None) -> None:
        self.crop_size = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index
        self.keys = keys

    def _draw(self, height: int, width: int) -> tuple[int, int, int, int]:
        h, w = min(self.crop_size[0], height), min(self.crop_size[1], width)
        return np.random.randint(0, height - h + 1), np.random.randint(0, width - w + 1), h, w

    def transform(self, results: dict) -> dict:
        img_keys = _image_keys(results, self.keys)
        height, width = _as_tensor(results[img_keys[0]], img_keys[0]).shape[-2:]
        crop = self._draw(height, width)
        seg = results.get('gt_seg_map')
        if self.cat_max_ratio < 1.0 and seg is not None:
            seg = _as_tensor(seg, 'gt_seg_map')
            for _ in range(10):
                r, c, h, w = crop
                patch = seg[r:r + h, c:c + w]
                _, counts = torch.unique(patch[patch != self.ignore_index], return_counts=True)
                if len(counts) > 1 and counts.max().item() / counts.sum().item() < self.cat_max_ratio:
                    break
                crop = self._draw(height, width)
        r, c, h, w = crop
        for key in img_keys + _map_keys(results):
            results[key] = _as_tensor(results[key], key)[..., r:r + h, c:c + w]
        results['img_shape'] = (h, w)
        results['crop_window'] = crop
        return results


@TRANSFORMS.register_module()
class TorchRandomFlip(BaseTransform):
    """Flip every image and map with probability ``prob``; ``direction`` is 'horizontal', 'vertical' or a list to
    draw one from."""

    def __init__(self, prob: float = 0.5, direction: str | Sequence[str] = 'horizontal',
                 keys: Sequence[str] | None = None) -> None:
        directions = [direction] if isinstance(direction, str) else list(direction)
        bad = [d for d in directions if d not in ('horizontal', 'vertical')]
        if bad:
            raise ValueError(f'unknown flip direction(s) {bad}')
        self.prob = prob
        self.directions = directions
        self.keys = keys

    def transform(self, results: dict) -> dict:
        flip = np.random.rand() < self.prob
        direction = self.directions[np.random.randint(len(self.directions))] if flip else None
        if flip:
            dim = -1 if direction == 'horizontal' else -2
            for key in _image_keys(results, self.keys) + _map_keys(results):
                results[key] = torch.flip(_as_tensor(results[key], key), dims=(dim,))
        results['flip'] = flip
        results['flip_direction'] = direction
        return results


@TRANSFORMS.register_module()
class TorchRandomRotate90(BaseTransform):
    """With probability ``prob`` rotate every image and map by k x 90 degrees, k drawn from 1-3."""

    def __init__(self, prob: float = 0.5, keys: Sequence[str] | None = None) -> None:
        self.prob = prob
        self.keys = keys

    def transform(self, results: dict) -> dict:
        k = int(np.random.randint(1, 4)) if np.random.rand() < self.prob else 0
        if k:
            for key in _image_keys(results, self.keys) + _map_keys(results):
                results[key] = torch.rot90(_as_tensor(results[key], key), k, dims=(-2, -1))
            first = results[_image_keys(results, self.keys)[0]]
            results['img_shape'] = tuple(first.shape[-2:])
        results['rotate90_k'] = k
        return results


@TRANSFORMS.register_module()
class TorchPermute(BaseTransform):
    """Permute the dimensions of the given tensors, e.g. ``order=(1, 0, 2, 3)`` for ``(T, C, H, W) -> (C, T, H, W)``."""

    def __init__(self, keys: Sequence[str], order: Sequence[int]) -> None:
        self.keys = list(keys)
        self.order = tuple(order)

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            tensor = _as_tensor(results[key], key)
            if tensor.ndim != len(self.order):
                raise ValueError(f'{key}: order {self.order} does not fit a tensor of shape {tuple(tensor.shape)}')
            results[key] = tensor.permute(*self.order).contiguous()
        return results


@TRANSFORMS.register_module()
class Reshape(BaseTransform):
    """Move between stacked frames ``(C*T, H, W)`` and ``(C, T, H, W)``.

    ``new_shape`` may use -1 for its last two entries (the tensor's current height and width). The loaders stack
    frames frame-major (frame 0's bands first); with ``frames_first=True`` (default) that order is respected:
    ``(C*T, H, W)`` is viewed as ``(T, C, H, W)`` and permuted to ``(C, T, H, W)``, and back. With
    ``frames_first=False`` it is a plain reshape.
    """

    pointwise = True  # pixel by pixel: streaming inference may run it once on a strip and cut the tiles out

    def __init__(self, keys: Sequence[str], new_shape: Sequence[int], frames_first: bool = True) -> None:
        self.keys = list(keys)
        self.new_shape = tuple(new_shape)
        self.frames_first = frames_first

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            tensor = _as_tensor(results[key], key)
            shape = list(self.new_shape)
            if len(shape) >= 2 and shape[-1] == -1 and shape[-2] == -1:
                shape[-2:] = tensor.shape[-2:]
            if int(np.prod(shape)) != tensor.numel():
                raise ValueError(f'{key}: cannot reshape {tuple(tensor.shape)} to {tuple(shape)}')
            if self.frames_first and tensor.ndim == 3 and len(shape) == 4:
                c, t, h, w = shape
                tensor = tensor.reshape(t, c, h, w).permute(1, 0, 2, 3)
            elif self.frames_first and tensor.ndim == 4 and len(shape) == 3:
                tensor = tensor.permute(1, 0, 2, 3).reshape(shape)
            else:
                tensor = tensor.reshape(shape)
            results[key] = tensor.contiguous()
        return results


@TRANSFORMS.register_module()
class CastTensor(BaseTransform):
    """Cast the given tensors to ``dtype`` (a torch dtype name such as 'float32' or 'int64')."""

    pointwise = True  # pixel by pixel: streaming inference may run it once on a strip and cut the tiles out

    def __init__(self, keys: Sequence[str], dtype: str = 'float32') -> None:
        self.keys = list(keys)
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ValueError(f'unknown torch dtype {dtype!r}')
        self.dtype = getattr(torch, dtype)

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = _as_tensor(results[key], key).to(self.dtype)
        return results


@TRANSFORMS.register_module()
class TorchResize(BaseTransform):
    """Resize every image (bilinear, or ``interpolation``) and map (nearest) to ``scale`` = (height, width)."""

    def __init__(self, scale: int | Sequence[int], interpolation: str = 'bilinear',
                 keys: Sequence[str] | None = None) -> None:
        self.scale = (scale, scale) if isinstance(scale, int) else tuple(scale)
        self.interpolation = interpolation
        self.keys = keys

    def transform(self, results: dict) -> dict:
        for key in _image_keys(results, self.keys):
            img = _as_tensor(results[key], key).float()
            batch = img.unsqueeze(0) if img.ndim == 3 else img.flatten(0, 1).unsqueeze(0)  # (C,T,H,W) -> (1,C*T,H,W)
            kwargs = {} if self.interpolation == 'nearest' else dict(align_corners=False)
            out = F.interpolate(batch, size=self.scale, mode=self.interpolation, **kwargs)[0]
            results[key] = out if img.ndim == 3 else out.view(*img.shape[:2], *self.scale)
        for key in _map_keys(results):
            m = _as_tensor(results[key], key)
            out = F.interpolate(m[None, None].float(), size=self.scale, mode='nearest')[0, 0]
            results[key] = out.to(m.dtype)
        results['img_shape'] = self.scale
        return results
