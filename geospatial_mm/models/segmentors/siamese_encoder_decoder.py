"""Siamese encoder-decoder: one encoder with shared weights over a pre/post image pair."""
from __future__ import annotations

from typing import List

import torch
from mmseg.registry import MODELS

from .temporal_encoder_decoder import TemporalEncoderDecoder


@MODELS.register_module()
class SiameseEncoderDecoder(TemporalEncoderDecoder):
    """Run one backbone (and neck), with the same weights, over each image of a co-registered pair, and give the
    decode head both feature pyramids.

    Inputs are the images concatenated along channels, as ``PackGeospatialSegInputs`` packs a
    ``LoadGeospatialImagePair`` (its ``img_channels`` metainfo says where they split; without it the channels are
    split into ``num_images`` equal parts). The images go through the backbone as one batch, so batch-norm statistics
    cover both dates. The head (e.g. :class:`~geospatial_mm.models.heads.SiameseChangeHead`) receives
    ``(pre_features, post_features)``; any mmseg backbone that returns a feature pyramid works.

    Sliding-window inference blends overlapping windows as :class:`TemporalEncoderDecoder` does, which is what
    ``tools/model_inference.py`` does on large scenes.
    """

    def __init__(self, *args, num_images: int = 2, **kwargs) -> None:
        if kwargs.get('auxiliary_head') is not None:
            raise ValueError('SiameseEncoderDecoder has no auxiliary head: its decode head takes both pyramids')
        if num_images < 2:
            raise ValueError(f'num_images must be at least 2, got {num_images}')
        super().__init__(*args, **kwargs)
        self.num_images = num_images

    def split_images(self, inputs: torch.Tensor, batch_img_metas: List[dict] | None = None) -> list[torch.Tensor]:
        channels = inputs.shape[1]
        split = batch_img_metas[0].get('img_channels') if batch_img_metas else None
        if split is not None:
            split = [int(c) for c in split]
            if len(split) != self.num_images or sum(split) != channels or len(set(split)) != 1:
                raise ValueError(f'{batch_img_metas[0].get("img_path")}: images of {split} channels cannot feed a '
                                 f'shared encoder over {self.num_images} images of the same band count '
                                 f'({channels} input channels)')
        elif channels % self.num_images:
            raise ValueError(f'{channels} input channels do not split into {self.num_images} images')
        return list(inputs.split(channels // self.num_images, dim=1))

    def extract_feat(self, inputs: torch.Tensor, batch_img_metas: List[dict] | None = None):
        images = self.split_images(inputs, batch_img_metas)
        batch = inputs.shape[0]
        feats = self.backbone(torch.cat(images, dim=0))
        if self.with_neck:
            feats = self.neck(feats)
        return tuple(tuple(f[i * batch:(i + 1) * batch] for f in feats) for i in range(self.num_images))
