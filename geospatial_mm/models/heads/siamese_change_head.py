"""A UNet decoder pair over the two feature pyramids of a Siamese encoder: building localisation and damage."""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from ..probabilities import building_damage

FUSIONS = {'concat': 2, 'diff': 1, 'both': 3}  # fusion -> channels of the fused features, in units of one image's


class UNetDecoder(BaseModule):
    """UNet decoder over a feature pyramid (finest first): from the coarsest level, each block upsamples to the
    next finer level, concatenates it and applies two 3x3 convolutions; blocks beyond the pyramid's levels
    upsample x2 without a skip (as the decoder of a ResNet UNet does to reach full resolution)."""

    def __init__(self, in_channels: Sequence[int], channels: Sequence[int], conv_cfg=None, norm_cfg=None,
                 act_cfg=dict(type='ReLU'), upsample_mode: str = 'nearest') -> None:
        super().__init__()
        self.num_skips = len(in_channels) - 1
        if len(channels) < self.num_skips:
            raise ValueError(f'decoder_channels {list(channels)} needs at least one block per skip level '
                             f'({self.num_skips} for {len(in_channels)} input levels)')
        self.upsample_mode = upsample_mode
        self.blocks = nn.ModuleList()
        previous = in_channels[-1]
        for i, out in enumerate(channels):
            skip = in_channels[-2 - i] if i < self.num_skips else 0
            conv = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.blocks.append(nn.Sequential(ConvModule(previous + skip, out, 3, padding=1, **conv),
                                             ConvModule(out, out, 3, padding=1, **conv)))
            previous = out

    def _up(self, x: torch.Tensor, size) -> torch.Tensor:
        align = dict(align_corners=False) if self.upsample_mode in ('bilinear', 'bicubic') else {}
        return F.interpolate(x, size=size, mode=self.upsample_mode, **align)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        x = feats[-1]
        for i, block in enumerate(self.blocks):
            if i < self.num_skips:
                skip = feats[-2 - i]
                x = torch.cat([self._up(x, skip.shape[2:]), skip], dim=1)
            else:
                x = self._up(x, (x.shape[2] * 2, x.shape[3] * 2))
            x = block(x)
        return x


@MODELS.register_module()
class SiameseChangeHead(BaseDecodeHead):
    """Building localisation from the pre-event pyramid and damage from the fused pre/post pyramids.

    Takes ``(pre_features, post_features)`` from :class:`SiameseEncoderDecoder` (one encoder, shared weights).
    Each level of the two pyramids is fused (``fusion``: ``'concat'`` [pre, post], ``'diff'`` |post - pre|,
    ``'both'`` [pre, post, |post - pre|]) and projected back to the level's width by a 1x1 convolution. Two UNet
    decoders (``decoder_channels``, one block per skip level and one more per x2 upsampling beyond the pyramid's
    finest level) give localisation logits (2 classes: background, building) from the pre pyramid and damage
    logits (``num_classes``: background and the damage grades) from the fused one.

    Training: ``loss_decode`` on the damage logits against ``gt_sem_seg`` and ``loss_loc`` on the localisation
    logits against ``gt_loc_seg`` (the data sample field ``loc_gt_field``).

    Prediction (``predict``, hence the segmentor's ``encode_decode``) returns one map of ``num_classes`` logits
    folding localisation into damage (:meth:`fold`): channel 0 is ``log P(background)`` of the localisation and
    channel k >= 1 is ``log P(building) + d_k - max_j d_j`` over the damage logits d of the grades. Its argmax is
    background exactly where the localisation predicts background, and elsewhere the most likely grade: the damage
    prediction masked by the predicted buildings. Blending such maps of overlapping tiles and taking the argmax
    keeps that meaning; :meth:`probabilities_from_logits` turns them into ``P(background)`` and
    ``P(building) * P(grade | building)``.
    """

    def __init__(self, in_channels: Sequence[int], decoder_channels: Sequence[int] = (256, 128, 64, 32, 16),
                 fusion: str = 'concat', loss_loc=dict(type='CrossEntropyLoss', loss_weight=1.0),
                 loc_gt_field: str = 'gt_loc_seg', upsample_mode: str = 'nearest', in_index=None,
                 channels: int | None = None, init_cfg=dict(type='Normal', std=0.01,
                                                             override=[dict(name='conv_seg'), dict(name='conv_loc')]),
                 **kwargs) -> None:
        if fusion not in FUSIONS:
            raise ValueError(f'fusion must be one of {sorted(FUSIONS)}, got {fusion!r}')
        in_channels = list(in_channels)
        decoder_channels = list(decoder_channels)
        if channels is not None and channels != decoder_channels[-1]:
            raise ValueError(f'channels ({channels}) is the width of the last decoder block: '
                             f'decoder_channels[-1] = {decoder_channels[-1]}')
        if in_index is None:
            in_index = list(range(len(in_channels)))
        super().__init__(in_channels, decoder_channels[-1], input_transform='multiple_select', in_index=in_index,
                         init_cfg=init_cfg, **kwargs)
        if self.out_channels != self.num_classes or self.num_classes < 2:
            raise ValueError('SiameseChangeHead needs num_classes >= 2 (background + damage grades) and one output '
                             'channel per class')
        self.fusion = fusion
        self.loc_gt_field = loc_gt_field
        conv = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.fuse = nn.ModuleList(ConvModule(FUSIONS[fusion] * c, c, 1, **conv) for c in in_channels)
        self.loc_decoder = UNetDecoder(in_channels, decoder_channels, upsample_mode=upsample_mode, **conv)
        self.damage_decoder = UNetDecoder(in_channels, decoder_channels, upsample_mode=upsample_mode, **conv)
        self.conv_loc = nn.Conv2d(self.channels, 2, kernel_size=1)
        if isinstance(loss_loc, dict):
            self.loss_loc = MODELS.build(loss_loc)
        elif isinstance(loss_loc, (list, tuple)):
            self.loss_loc = nn.ModuleList(MODELS.build(loss) for loss in loss_loc)
        else:
            raise TypeError(f'loss_loc must be a dict or a list of dicts, got {type(loss_loc).__name__}')

    # -- forward --------------------------------------------------------------------------------------------------
    def _fuse(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        if self.fusion == 'concat':
            return torch.cat([pre, post], dim=1)
        diff = (post - pre).abs()
        return diff if self.fusion == 'diff' else torch.cat([pre, post, diff], dim=1)

    def forward(self, inputs) -> tuple[torch.Tensor, torch.Tensor]:
        """``(localisation logits (B, 2, h, w), damage logits (B, num_classes, h, w))``."""
        if not (isinstance(inputs, (tuple, list)) and len(inputs) == 2 and
                all(isinstance(x, (tuple, list)) for x in inputs)):
            raise TypeError('SiameseChangeHead takes (pre-event features, post-event features), two feature '
                            'pyramids as SiameseEncoderDecoder gives them')
        pre = self._transform_inputs(inputs[0])
        post = self._transform_inputs(inputs[1])
        fused = [fuse(self._fuse(a, b)) for fuse, a, b in zip(self.fuse, pre, post)]
        loc = self.loc_decoder(pre)
        if self.dropout is not None:
            loc = self.dropout(loc)
        return self.conv_loc(loc), self.cls_seg(self.damage_decoder(fused))

    # -- training -------------------------------------------------------------------------------------------------
    def _stack_loc_gt(self, batch_data_samples, shape) -> torch.Tensor:
        labels = []
        for sample in batch_data_samples:
            if self.loc_gt_field not in sample:
                raise KeyError(f'{sample.metainfo.get("img_path")}: the data sample has no {self.loc_gt_field!r}; '
                               f'pack the localisation target, e.g. PackGeospatialSegInputs(seg_keys=dict('
                               f'gt_seg_map=\'gt_sem_seg\', gt_loc_seg_map=\'{self.loc_gt_field}\'))')
            label = sample.get(self.loc_gt_field).data
            pad_h, pad_w = shape[-2] - label.shape[-2], shape[-1] - label.shape[-1]
            if pad_h < 0 or pad_w < 0:
                raise ValueError(f'{sample.metainfo.get("img_path")}: localisation target {tuple(label.shape)} is '
                                 f'larger than the damage target {tuple(shape)}')
            if pad_h or pad_w:  # the data preprocessor pads gt_sem_seg (bottom/right) but not other fields
                label = F.pad(label, (0, pad_w, 0, pad_h), value=self.ignore_index)
            labels.append(label)
        return torch.stack(labels, dim=0)

    def loss(self, inputs, batch_data_samples, train_cfg) -> dict:
        loc_logits, damage_logits = self.forward(inputs)
        losses = self.loss_by_feat(damage_logits, batch_data_samples)
        loc_label = self._stack_loc_gt(batch_data_samples, batch_data_samples[0].gt_sem_seg.data.shape)
        loc_logits = resize(loc_logits, size=loc_label.shape[2:], mode='bilinear', align_corners=self.align_corners)
        loc_label = loc_label.squeeze(1)
        loss_fns = self.loss_loc if isinstance(self.loss_loc, nn.ModuleList) else [self.loss_loc]
        for loss_fn in loss_fns:
            name = 'loc_' + loss_fn.loss_name
            value = loss_fn(loc_logits, loc_label, ignore_index=self.ignore_index)
            losses[name] = losses[name] + value if name in losses else value
        losses['loc_acc_seg'] = accuracy(loc_logits, loc_label, ignore_index=self.ignore_index)
        return losses

    # -- prediction -----------------------------------------------------------------------------------------------
    def predict(self, inputs, batch_img_metas: List[dict], test_cfg) -> torch.Tensor:
        loc_logits, damage_logits = self.forward(inputs)
        return self.fold(self.predict_by_feat(loc_logits, batch_img_metas),
                         self.predict_by_feat(damage_logits, batch_img_metas))

    @staticmethod
    def fold(loc_logits: torch.Tensor, damage_logits: torch.Tensor) -> torch.Tensor:
        """One map of logits whose argmax is the damage grade where a building is predicted, else background."""
        log_p = F.log_softmax(loc_logits.float(), dim=1)
        grades = damage_logits[:, 1:].float()
        grades = log_p[:, 1:2] + grades - grades.amax(dim=1, keepdim=True)
        return torch.cat([log_p[:, :1], grades], dim=1)

    probability_rule = 'building_damage'  # how blended folded logits become probabilities (models/probabilities)

    @staticmethod
    def probabilities_from_logits(logits):
        """Class probabilities from (blended) folded logits, classes on the first axis: ``P(background) =
        1 - P(building)`` and ``P(grade k) = P(building) * softmax(grades)_k``
        (:func:`~geospatial_mm.models.probabilities.building_damage`). Takes and returns a torch tensor (on any
        device) or a numpy array."""
        return building_damage(logits, np if isinstance(logits, np.ndarray) else torch)
