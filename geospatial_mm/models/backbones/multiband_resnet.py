"""MMDetection's ResNet on N-band images, optionally started from a local RGB checkpoint.

The first convolution takes ``in_channels`` bands. An RGB checkpoint (torchvision's ``resnet50-*.pth``, or an
MMDetection / mmpretrain checkpoint whose backbone keys start with ``backbone.``) is loaded strictly, and its first
convolution's ``(out, 3, k, k)`` kernels are adapted to ``(out, N, k, k)``:

* each band listed in ``checkpoint_bands`` takes the kernel of the checkpoint channel given there
  (e.g. ``(2, 1, 0, None, None, None)`` for blue, green, red, NIR, SWIR1, SWIR2 inputs and an R, G, B checkpoint);
* every other band takes the mean of the checkpoint's kernels;
* all kernels are then multiplied by ``3 / N``, so that when R, G and B are each mapped once, an input whose bands
  all hold the same value gives the first layer the same response as the checkpoint's RGB input did.

Every key of the checkpoint that the backbone lacks, or that the backbone has and the checkpoint lacks (BN step
counters aside), is an error unless allowed by ``allow_unexpected_keys`` (default: the classifier, ``fc.*``) / ``allow_missing_keys`` (fnmatch
patterns).
"""
from __future__ import annotations

import os
from typing import Sequence

import torch
from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from mmengine.logging import print_log

from geospatial_mm.compat import safe_torch_load
from .prithvi_loading import PretrainedMismatchError, _match, _state_dict

OTHER_PARTS = ('neck.', 'rpn_head.', 'roi_head.', 'bbox_head.', 'mask_head.', 'head.', 'data_preprocessor.')


def adapt_first_conv(weight: torch.Tensor, in_channels: int,
                     checkpoint_bands: Sequence[int | None] | None = None) -> torch.Tensor:
    """``(out, C, k, k)`` kernels of a checkpoint -> ``(out, in_channels, k, k)`` (see the module docstring).

    ``checkpoint_bands[i]`` is the checkpoint channel of input band ``i`` (None: none). Default: the first
    ``min(C, in_channels)`` bands are channels 0, 1, 2 in that order.
    """
    c = weight.shape[1]
    if checkpoint_bands is None:
        checkpoint_bands = [i if i < c else None for i in range(in_channels)]
    checkpoint_bands = list(checkpoint_bands)
    if len(checkpoint_bands) != in_channels:
        raise ValueError(f'checkpoint_bands has {len(checkpoint_bands)} entries; expected one per input band '
                         f'({in_channels})')
    bad = [b for b in checkpoint_bands if b is not None and not 0 <= b < c]
    if bad:
        raise ValueError(f'checkpoint_bands {checkpoint_bands}: channel {bad[0]} does not exist in the checkpoint\'s '
                         f'{c}-channel first convolution')
    mean = weight.mean(dim=1)
    columns = [weight[:, b] if b is not None else mean for b in checkpoint_bands]
    return (torch.stack(columns, dim=1) * (c / in_channels)).contiguous()


def backbone_state_dict(sd: dict, path: str) -> tuple[dict, list[str]]:
    """The backbone's keys of a torchvision, MMDetection or mmpretrain checkpoint, and the keys left aside."""
    if any(k.startswith('backbone.') for k in sd):
        kept = {k[len('backbone.'):]: v for k, v in sd.items() if k.startswith('backbone.')}
        return kept, [k for k in sd if not k.startswith('backbone.')]
    if any(k.startswith(OTHER_PARTS) for k in sd):
        raise PretrainedMismatchError(f'{path}: a detector or classifier checkpoint without backbone weights (keys '
                                      f'start with {sorted({k.split(".")[0] for k in sd})})')
    return dict(sd), []


@MODELS.register_module()
class MultiBandResNet(ResNet):
    """mmdet's ResNet with ``in_channels`` bands and an optional local RGB ``checkpoint`` adapted to them.

    Args:
        in_channels: number of input bands.
        checkpoint: a local file (never downloaded); None trains from scratch (or from the detector's ``load_from``).
        checkpoint_bands: for each input band, the checkpoint channel whose kernel it takes, or None.
        allow_missing_keys, allow_unexpected_keys: fnmatch patterns of keys that may be missing / left over.
        **kwargs: mmdet's ResNet arguments (``depth``, ``frozen_stages``, ``norm_eval``, ...).
    """

    def __init__(self, in_channels: int = 3, checkpoint: str | None = None,
                 checkpoint_bands: Sequence[int | None] | None = None, allow_missing_keys: Sequence[str] = (),
                 allow_unexpected_keys: Sequence[str] = ('fc.*',), **kwargs) -> None:
        if checkpoint is not None and (kwargs.get('init_cfg') or kwargs.get('pretrained')):
            raise ValueError('give the RGB checkpoint as checkpoint=..., not also as init_cfg/pretrained (those load '
                             'it without adapting the first convolution)')
        super().__init__(in_channels=in_channels, **kwargs)
        if checkpoint_bands is not None and len(checkpoint_bands) != in_channels:
            raise ValueError(f'checkpoint_bands {list(checkpoint_bands)} needs one entry per input band '
                             f'({in_channels})')
        self.in_channels = in_channels
        self.checkpoint = checkpoint
        self.checkpoint_bands = checkpoint_bands
        self.allow_missing_keys = tuple(allow_missing_keys)
        self.allow_unexpected_keys = tuple(allow_unexpected_keys)

    @property
    def first_conv_key(self) -> str:
        return 'stem.0.weight' if self.deep_stem else 'conv1.weight'

    def init_weights(self) -> None:
        super().init_weights()
        if self.checkpoint is not None:
            self.load_rgb_checkpoint(self.checkpoint)
            self._freeze_stages()

    def load_rgb_checkpoint(self, path: str) -> dict:
        """Load ``path`` strictly, adapting its first convolution; returns a report of what was loaded."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{path}: backbone checkpoint not found')
        sd, dropped = backbone_state_dict(dict(_state_dict(safe_torch_load(path, map_location='cpu'), path)), path)
        key = self.first_conv_key
        own = self.state_dict()
        source_channels = sd[key].shape[1] if key in sd and sd[key].ndim == 4 else None
        if key in sd:
            weight = sd[key]
            if weight.ndim != 4 or weight.shape[0] != own[key].shape[0] or weight.shape[2:] != own[key].shape[2:]:
                raise PretrainedMismatchError(f'{path}: first convolution {tuple(weight.shape)} does not fit the '
                                              f'backbone\'s {tuple(own[key].shape)}: a different ResNet')
            sd[key] = adapt_first_conv(weight, self.in_channels, self.checkpoint_bands)
        shape_errors = [f'{k}: checkpoint {tuple(v.shape)} vs backbone {tuple(own[k].shape)}'
                        for k, v in sd.items() if k in own and own[k].shape != v.shape]
        if shape_errors:
            raise PretrainedMismatchError(f'{path}: shapes do not match (another depth or width?): '
                                          + '; '.join(shape_errors[:5]))
        result = self.load_state_dict(sd, strict=False)
        # BN step counters are not weights; torchvision's checkpoints do not have them
        missing = [k for k in result.missing_keys
                   if not _match(k, self.allow_missing_keys + ('*num_batches_tracked',))]
        unexpected = [k for k in result.unexpected_keys if not _match(k, self.allow_unexpected_keys)]
        print_log(f'ResNet weights from {path}: {len(sd) - len(result.unexpected_keys)} tensors loaded, first '
                  f'convolution adapted from {source_channels} to {self.in_channels} bands '
                  f'(checkpoint_bands={self.checkpoint_bands}); {len(dropped)} non-backbone keys left aside; missing '
                  f'{result.missing_keys or "none"}; unexpected {result.unexpected_keys or "none"}', logger='current')
        if missing or unexpected:
            raise PretrainedMismatchError(
                f'{path}: the checkpoint does not match the backbone: missing keys {missing[:10]}, unexpected keys '
                f'{unexpected[:10]}. If that is intended, allow them with allow_missing_keys / allow_unexpected_keys '
                '(fnmatch patterns) in the backbone config')
        return dict(path=path, missing=list(result.missing_keys), unexpected=list(result.unexpected_keys),
                    dropped=dropped)
