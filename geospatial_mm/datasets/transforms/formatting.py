"""Packing channels-first tensors into the data samples of mmseg and mmdet.

mmseg's and mmdet's packers expect ``(H, W, C)`` numpy images; these accept the tensors of the Torch* transforms
(``(C, H, W)`` or ``(C, T, H, W)``) as well as numpy images, and keep the raster metadata (``geo_meta``) and frame
count in the sample's metainfo. Several image keys (a pre/post pair) are concatenated along channels into
``inputs``; ``img_keys`` and ``img_channels`` in the metainfo say how to split them again. mmpretrain's own
``PackInputs`` already takes tensors as they are: use it with ``meta_keys`` that include ``geo_meta``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS
from mmengine.structures import PixelData

GEO_META_KEYS = ('geo_meta', 'num_frames', 'img_keys', 'img_channels')
SEG_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
                 'flip_direction', 'reduce_zero_label') + GEO_META_KEYS


def to_chw_tensor(img, key: str = 'img') -> torch.Tensor:
    """A numpy ``(H, W[, C])`` image or a channels-first tensor -> a contiguous channels-first tensor."""
    if isinstance(img, torch.Tensor):
        return img.contiguous()
    if isinstance(img, np.ndarray):
        img = img[..., None] if img.ndim == 2 else img
        if img.ndim != 3:
            raise ValueError(f'{key}: a numpy image must be (H, W) or (H, W, C), found shape {img.shape}')
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    raise TypeError(f'{key}: expected a tensor or an array, found {type(img).__name__}')


def pack_images(results: dict) -> torch.Tensor:
    keys = [k for k in results.get('img_keys', ['img']) if k in results] or ['img']
    tensors = [to_chw_tensor(results[k], k) for k in keys]
    results['img_channels'] = [t.shape[0] for t in tensors]
    results['img_keys'] = keys
    if len(tensors) == 1:
        return tensors[0]
    shapes = {tuple(t.shape[1:]) for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f'images {keys} have different shapes {[tuple(t.shape) for t in tensors]}')
    return torch.cat(tensors, dim=0)


@TRANSFORMS.register_module()
class PackGeospatialSegInputs(BaseTransform):
    """Pack for mmseg: ``inputs`` (C[,T],H,W) and a ``SegDataSample`` with ``gt_sem_seg`` (1,H,W) int64, the nodata
    mask as ``nodata_mask`` pixel data, and ``meta_keys`` (mmseg's plus ``geo_meta``, ``num_frames``, ...).

    ``seg_keys`` maps label maps of the results to fields of the data sample; by default ``gt_seg_map`` becomes
    ``gt_sem_seg``. A model with a second target adds it, e.g. ``dict(gt_seg_map='gt_sem_seg',
    gt_loc_seg_map='gt_loc_seg')``; every listed map present in the results is packed as int64 pixel data.
    """

    pointwise = True  # pixel by pixel: streaming inference may run it once on a strip and cut the tiles out

    def __init__(self, meta_keys: Sequence[str] = SEG_META_KEYS,
                 seg_keys: dict | None = None) -> None:
        self.meta_keys = tuple(meta_keys)
        self.seg_keys = dict(seg_keys) if seg_keys is not None else dict(gt_seg_map='gt_sem_seg')

    def transform(self, results: dict) -> dict:
        from mmseg.structures import SegDataSample
        packed = dict(inputs=pack_images(results))
        sample = SegDataSample()
        for key, field in self.seg_keys.items():
            if key not in results:
                continue
            seg = results[key]
            seg = torch.from_numpy(np.ascontiguousarray(seg)) if isinstance(seg, np.ndarray) else seg
            if seg.ndim != 2:
                raise ValueError(f'{key} must be (H, W), found {tuple(seg.shape)} ({results.get("seg_map_path")})')
            sample.set_data({field: PixelData(data=seg[None].long())})
        if 'nodata_mask' in results:
            mask = results['nodata_mask']
            mask = torch.from_numpy(np.ascontiguousarray(mask)) if isinstance(mask, np.ndarray) else mask
            sample.set_data(dict(nodata_mask=PixelData(data=mask[None].bool())))
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        packed['data_samples'] = sample
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys}, seg_keys={self.seg_keys})'


@TRANSFORMS.register_module()
class PackGeospatialDetInputs(BaseTransform):
    """Pack for mmdet: mmdet's ``PackDetInputs`` on an N-band image given as a tensor or an array, with
    ``geo_meta`` in the metainfo (and ``scale_factor`` (1, 1) when no transform resized the image)."""

    def __init__(self, meta_keys: Sequence[str] = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                                    'flip', 'flip_direction') + GEO_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        from mmdet.datasets.transforms import PackDetInputs
        inputs = pack_images(results)
        staged = dict(results)
        staged['img'] = inputs.permute(1, 2, 0).numpy()  # mmdet's packer wants (H, W, C); its copy is replaced below
        # mmdet's heads map predictions back by scale_factor: an image no transform resized has (1, 1)
        staged.setdefault('scale_factor', (1.0, 1.0))
        packed = PackDetInputs(meta_keys=self.meta_keys).transform(staged)
        packed['inputs'] = inputs
        return packed
