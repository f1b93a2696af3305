"""A ResNet on N-band images, optionally started from an RGB checkpoint, for the configs of mmseg and mmdet.

mmseg's ResNet (a superset of mmdet's: dilations, contract_dilation, multi-grid) whose first convolution takes
``in_channels`` bands. An RGB checkpoint (torchvision's ``resnet50-*.pth``, or an OpenMMLab detector, segmentor or
classifier checkpoint with ``backbone.`` keys; a local file or a URL) is loaded strictly through the package's
``StrictPretrained`` initialiser with the ``resnet`` state-dict filter, and its first convolution's ``(out, 3, k, k)``
kernels are adapted to ``(out, N, k, k)`` (:func:`~geospatial_mm.models.pretrained.adapt_input_conv`):

* each band listed in ``checkpoint_bands`` takes the kernel of the checkpoint channel given there
  (e.g. ``(2, 1, 0, None, None, None)`` for blue, green, red, NIR, SWIR1, SWIR2 inputs and an R, G, B checkpoint);
* every other band takes the mean of the checkpoint's kernels;
* all kernels are then multiplied by ``3 / N``, so that when R, G and B are each mapped once, an input whose bands
  all hold the same value gives the first layer the same response as the checkpoint's RGB input did.

Every key of the checkpoint that the backbone lacks, or that the backbone has and the checkpoint lacks (BN step
counters aside), is an error unless allowed by ``allow_unexpected_keys`` (default: the classifier, ``fc.*``) /
``allow_missing_keys`` (fnmatch patterns). Without a checkpoint the backbone initialises as mmseg's ResNet does.
"""
from __future__ import annotations

from typing import Sequence

from mmdet.registry import MODELS as MMDET_MODELS
from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS as MMSEG_MODELS


@MMSEG_MODELS.register_module()
@MMDET_MODELS.register_module()
class MultiBandResNet(ResNet):
    """mmseg's ResNet with ``in_channels`` bands and an optional RGB ``checkpoint`` adapted to them (also registered
    for mmdet configs).

    Args:
        in_channels: number of input bands.
        checkpoint: a local file or URL; None trains from scratch (or from the model's ``load_from``).
        checkpoint_bands: for each input band, the checkpoint channel whose kernel it takes, or None (default: the
            first bands are the checkpoint's channels in order, the rest None).
        allow_missing_keys, allow_unexpected_keys: fnmatch patterns of keys that may be missing / left over.
        **kwargs: the arguments of mmseg's ResNet (``depth``, ``strides``, ``dilations``, ``frozen_stages``,
            ``norm_eval``, ...).
    """

    def __init__(self, in_channels: int = 3, checkpoint: str | None = None,
                 checkpoint_bands: Sequence[int | None] | None = None, allow_missing_keys: Sequence[str] = (),
                 allow_unexpected_keys: Sequence[str] = ('fc.*',), **kwargs) -> None:
        if checkpoint_bands is not None and len(checkpoint_bands) != in_channels:
            raise ValueError(f'checkpoint_bands {list(checkpoint_bands)} needs one entry per input band '
                             f'({in_channels})')
        if checkpoint is not None:
            if kwargs.get('init_cfg') or kwargs.get('pretrained'):
                raise ValueError('give the RGB checkpoint as checkpoint=..., not also as init_cfg/pretrained (those '
                                 'load it without adapting the first convolution)')
            first_conv = 'stem.0.weight' if kwargs.get('deep_stem') else 'conv1.weight'
            kwargs['init_cfg'] = dict(
                type='StrictPretrained', checkpoint=checkpoint, filter='resnet',
                input_conv=dict(key=first_conv, bands=checkpoint_bands, extend=True, option='checkpoint_bands',
                                mismatch='a different ResNet'),
                allow_missing=list(allow_missing_keys), allow_unexpected=list(allow_unexpected_keys))
        super().__init__(in_channels=in_channels, **kwargs)
        self.in_channels = in_channels
        self.checkpoint = checkpoint
        self.checkpoint_bands = checkpoint_bands
