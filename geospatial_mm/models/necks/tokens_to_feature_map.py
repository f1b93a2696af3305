"""Turn ViT tokens into a feature map for a segmentation head."""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@MODELS.register_module()
class TokensToFeatureMap(BaseModule):
    """Tokens ``(B, 1 + T'·H'·W', D)`` -> feature map ``(B, out_channels, H'·2^k, W'·2^k)``.

    The cls token is dropped, the tokens are put back on their ``(T', H', W')`` grid, the frames are concatenated
    along channels (``D·T'`` channels) and ``num_upsamples`` stride-2 transposed convolutions (LayerNorm + GELU
    between them) bring the map back towards pixel resolution (4 of them for a patch of 16).

    Args:
        embed_dim: token width D.
        out_channels: channels of the feature map.
        num_frames: token frames T' (input frames / tubelet size).
        num_upsamples: number of stride-2 transposed convolutions.
        drop_cls_token: whether the first token is a cls token.
        in_index: which backbone output to use.
    """

    def __init__(self, embed_dim: int, out_channels: int = 768, num_frames: int = 1, num_upsamples: int = 4,
                 drop_cls_token: bool = True, in_index: int = -1, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.embed_dim = embed_dim
        self.num_frames = num_frames
        self.drop_cls_token = drop_cls_token
        self.in_index = in_index
        layers = []
        channels = embed_dim * num_frames
        for i in range(num_upsamples):
            layers.append(nn.ConvTranspose2d(channels, out_channels, kernel_size=2, stride=2))
            if i < num_upsamples - 1:
                layers += [LayerNorm2d(out_channels, eps=1e-6), nn.GELU()]
            channels = out_channels
        self.upsample = nn.Sequential(*layers)

    def forward(self, inputs: Sequence[torch.Tensor], grid: Sequence[int] | None = None) -> tuple[torch.Tensor]:
        x = inputs[self.in_index]
        if self.drop_cls_token:
            x = x[:, 1:]
        b, n, d = x.shape
        if d != self.embed_dim:
            raise ValueError(f'expected tokens of width {self.embed_dim}, got {d}')
        if grid is None:  # square patch grid
            side = math.isqrt(n // self.num_frames)
            grid = (self.num_frames, side, side)
        t, h, w = grid
        if t * h * w != n or t != self.num_frames:
            raise ValueError(f'{n} tokens do not form the grid {tuple(grid)} with num_frames={self.num_frames}')
        x = x.reshape(b, t, h, w, d).permute(0, 4, 1, 2, 3).reshape(b, d * t, h, w)
        return (self.upsample(x),)
