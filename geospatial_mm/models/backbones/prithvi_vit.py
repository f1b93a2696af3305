"""Prithvi: the ViT encoder of the HLS foundation models (Prithvi-100M v1, Prithvi-EO-2.0), for mmseg.

Input ``(B, C, T, H, W)`` (a 4-D ``(B, C, H, W)`` input is one frame). A 3-D convolution cuts ``tubelet_size`` frames
by ``patch_size``² pixels into tokens; a cls token and a fixed 3-D sin-cos position embedding (recomputed for every
input size and frame count, never learned or loaded) are added; transformer blocks use
``torch.nn.functional.scaled_dot_product_attention``. The EO-2.0 "TL" variants add temporal (year, day of year per
frame) and location (lat, lon per sample) encodings, passed to :meth:`forward` as ``temporal_coords`` ``(B, T, 2)``
and ``location_coords`` ``(B, 2)``.

The output is a tuple with the tokens ``(B, 1 + T'·H'·W', D)`` of each block in ``out_indices`` (the last one after the
final norm), the layout :class:`~geospatial_mm.models.necks.TokensToFeatureMap` turns into a feature map.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch.utils.checkpoint import checkpoint

ARCHS = {
    # name: (embed_dim, depth, num_heads, patch_size, tubelet_size, default frames, temporal/location encodings)
    'prithvi_100m': dict(embed_dim=768, depth=12, num_heads=12, patch_size=16, tubelet_size=1, num_frames=3,
                         coords_encoding=False),
    'prithvi_eo_v2_300m': dict(embed_dim=1024, depth=24, num_heads=16, patch_size=16, tubelet_size=1, num_frames=4,
                               coords_encoding=False),
    'prithvi_eo_v2_300m_tl': dict(embed_dim=1024, depth=24, num_heads=16, patch_size=16, tubelet_size=1,
                                  num_frames=4, coords_encoding=True),
    'prithvi_eo_v2_600m': dict(embed_dim=1280, depth=32, num_heads=16, patch_size=14, tubelet_size=1, num_frames=4,
                               coords_encoding=False),
    'prithvi_eo_v2_600m_tl': dict(embed_dim=1280, depth=32, num_heads=16, patch_size=14, tubelet_size=1,
                                  num_frames=4, coords_encoding=True),
    'prithvi_eo_v2_tiny_tl': dict(embed_dim=192, depth=12, num_heads=3, patch_size=16, tubelet_size=1, num_frames=4,
                                  coords_encoding=True),
    # for tests and the demo: same structure, a few hundred thousand parameters
    'tiny': dict(embed_dim=64, depth=4, num_heads=4, patch_size=16, tubelet_size=1, num_frames=1,
                 coords_encoding=False),
}


# ------------------------------------------------------------------------------------------ position embeddings
def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """``(N,) -> (N, dim)``: sin of position x frequencies, then cos, frequencies 1 / 10000^(2i/dim)."""
    if dim % 2:
        raise ValueError(f'sin-cos embedding needs an even dimension, got {dim}')
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
    angles = positions.double().reshape(-1, 1) * omega.reshape(1, -1)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sincos_3d(dim: int, grid: Sequence[int], cls_token: bool = True) -> torch.Tensor:
    """Fixed 3-D position embedding of a ``(T, H, W)`` token grid: 6/16 of the channels encode the column, 6/16 the
    row and 4/16 the frame (the Prithvi pretraining layout); a zero row for the cls token comes first."""
    if dim % 16:
        raise ValueError(f'the 3-D sin-cos embedding needs embed_dim divisible by 16, got {dim}')
    t, h, w = grid
    w_dim = h_dim = dim // 16 * 6
    t_dim = dim // 16 * 4
    tt, hh, ww = torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing='ij')
    emb = torch.cat([sincos_1d(w_dim, ww.flatten()), sincos_1d(h_dim, hh.flatten()), sincos_1d(t_dim, tt.flatten())],
                    dim=1)
    if cls_token:
        emb = torch.cat([torch.zeros(1, dim, dtype=emb.dtype), emb], dim=0)
    return emb.float()


class TemporalEncoder(nn.Module):
    """(year, day of year) per frame -> a sin-cos embedding, half the channels each, times a scale."""

    def __init__(self, embed_dim: int, trainable_scale: bool = False) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.year_dim = embed_dim // 2
        self.day_dim = embed_dim - self.year_dim
        if trainable_scale:
            self.scale = nn.Parameter(torch.full((1,), 0.1))
        else:
            self.register_buffer('scale', torch.ones(1))

    def forward(self, coords: torch.Tensor, tokens_per_frame: int) -> torch.Tensor:
        b, t, _ = coords.shape
        year = sincos_1d(self.year_dim, coords[..., 0].flatten()).reshape(b, t, -1)
        day = sincos_1d(self.day_dim, coords[..., 1].flatten()).reshape(b, t, -1)
        emb = torch.cat([year, day], dim=-1).to(coords.device, torch.float32) * self.scale
        return emb.repeat_interleave(tokens_per_frame, dim=1)


class LocationEncoder(nn.Module):
    """(lat, lon) per sample -> a sin-cos embedding, half the channels each, times a scale."""

    def __init__(self, embed_dim: int, trainable_scale: bool = False) -> None:
        super().__init__()
        self.lat_dim = embed_dim // 2
        self.lon_dim = embed_dim - self.lat_dim
        if trainable_scale:
            self.scale = nn.Parameter(torch.full((1,), 0.1))
        else:
            self.register_buffer('scale', torch.ones(1))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        lat = sincos_1d(self.lat_dim, coords[:, 0])
        lon = sincos_1d(self.lon_dim, coords[:, 1])
        return (torch.cat([lat, lon], dim=-1).to(coords.device, torch.float32) * self.scale)[:, None]


# ------------------------------------------------------------------------------------------ transformer
class Attention(nn.Module):

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_impl: str = 'sdpa') -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed_dim {dim} is not divisible by num_heads {num_heads}')
        if attn_impl not in ('sdpa', 'math'):
            raise ValueError(f"attn_impl must be 'sdpa' or 'math', not {attn_impl!r}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_impl = attn_impl

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        if self.attn_impl == 'sdpa':
            out = F.scaled_dot_product_attention(q, k, v)
        else:  # explicit softmax attention, kept for comparison (tools/benchmark/prithvi_backbone.py)
            attn = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
            out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, attn_impl: str = 'sdpa') -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, attn_impl=attn_impl)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed3D(nn.Module):

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, tubelet_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=(tubelet_size, patch_size, patch_size),
                              stride=(tubelet_size, patch_size, patch_size))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        _, _, t, h, w = x.shape
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f'input of {h}x{w} pixels is not divisible by the patch size {self.patch_size}')
        if t % self.tubelet_size:
            raise ValueError(f'{t} frames are not divisible by the tubelet size {self.tubelet_size}')
        x = self.proj(x)
        grid = tuple(x.shape[2:])
        return x.flatten(2).transpose(1, 2), grid


@MODELS.register_module()
class PrithviViT(BaseModule):
    """The Prithvi encoder.

    Args:
        arch: a name from :data:`ARCHS` or a dict with ``embed_dim, depth, num_heads, patch_size, tubelet_size``.
        in_chans: input bands.
        num_frames: frames per sample (only used for the default position-embedding grid; any count divisible by
            the tubelet size runs).
        img_size: accepted for configs written for the original Prithvi, not used: any input whose sides are multiples
            of the patch runs (the position embedding is recomputed for each input size).
        out_indices: blocks whose tokens are returned (-1: the last, after the final norm).
        coords_encoding: add temporal/location encodings (None: as the arch says).
        trainable_coords_scale: learn the scales of those encodings.
        with_cp: gradient checkpointing of the blocks while training.
        frozen: freeze every parameter (and keep the module in eval mode).
        attn_impl: 'sdpa' (torch's fused attention) or 'math' (explicit softmax, for comparison).
        pretrained: a checkpoint (local file, or URL) in an official layout, or an mmseg checkpoint of a model with
            this backbone: :meth:`init_weights` loads it through the package's ``StrictPretrained`` initialiser with
            the ``prithvi`` state-dict filter (:mod:`geospatial_mm.models.pretrained`).
        pretrained_band_indices: for each input band, the index of the checkpoint band it corresponds to (None: the
            checkpoint's bands, which must then be ``in_chans``).
        allow_missing_keys / allow_unexpected_keys: key patterns (fnmatch) that may be missing from / left over in
            the checkpoint; any other mismatch is an error.
    """

    def __init__(self, arch: str | dict = 'prithvi_100m', in_chans: int = 6, num_frames: int | None = None,
                 img_size: int = 224, out_indices: Sequence[int] = (-1,), coords_encoding: bool | None = None,
                 trainable_coords_scale: bool = False, mlp_ratio: float = 4.0, with_cp: bool = False,
                 frozen: bool = False, attn_impl: str = 'sdpa', pretrained: str | None = None,
                 pretrained_band_indices: Sequence[int] | None = None, allow_missing_keys: Sequence[str] = (),
                 allow_unexpected_keys: Sequence[str] = (), init_cfg=None) -> None:
        if pretrained:
            if init_cfg is not None:
                raise ValueError('give the Prithvi checkpoint either as pretrained=... or as init_cfg, not both')
            init_cfg = dict(type='StrictPretrained', checkpoint=pretrained, filter='prithvi',
                            input_conv=dict(key='patch_embed.proj.weight', bands=pretrained_band_indices,
                                            extend=False, option='pretrained_band_indices',
                                            mismatch='a different Prithvi variant'),
                            allow_missing=list(allow_missing_keys), allow_unexpected=list(allow_unexpected_keys))
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch not in ARCHS:
                raise KeyError(f'unknown Prithvi arch {arch!r}; choose from {sorted(ARCHS)}')
            spec = dict(ARCHS[arch])
        else:
            spec = dict(dict(num_frames=1, coords_encoding=False), **arch)
        self.arch = arch if isinstance(arch, str) else 'custom'
        self.embed_dim = spec['embed_dim']
        self.depth = spec['depth']
        self.patch_size = spec['patch_size']
        self.tubelet_size = spec['tubelet_size']
        self.num_frames = num_frames or spec['num_frames']
        self.in_chans = in_chans
        self.coords_encoding = spec['coords_encoding'] if coords_encoding is None else coords_encoding
        self.out_indices = [i if i >= 0 else self.depth + i for i in out_indices]
        if any(not 0 <= i < self.depth for i in self.out_indices):
            raise ValueError(f'out_indices {tuple(out_indices)} out of range for depth {self.depth}')
        self.with_cp = with_cp
        self.frozen = frozen
        self.pretrained = pretrained
        self.pretrained_band_indices = list(pretrained_band_indices) if pretrained_band_indices is not None else None
        self.allow_missing_keys = list(allow_missing_keys)
        self.allow_unexpected_keys = list(allow_unexpected_keys)

        self.patch_embed = PatchEmbed3D(in_chans, self.embed_dim, self.patch_size, self.tubelet_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
        if self.coords_encoding:
            self.temporal_embed_enc = TemporalEncoder(self.embed_dim, trainable_coords_scale)
            self.location_embed_enc = LocationEncoder(self.embed_dim, trainable_coords_scale)
        self.blocks = nn.ModuleList(Block(self.embed_dim, spec['num_heads'], mlp_ratio, attn_impl)
                                    for _ in range(self.depth))
        self.norm = nn.LayerNorm(self.embed_dim, eps=1e-6)
        self._pos_cache: dict = {}
        self._init_random()
        if frozen:
            self._freeze()

    # -- weights ---------------------------------------------------------------------------------------------
    def _init_random(self) -> None:
        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def init_weights(self) -> None:
        super().init_weights()
        if self.frozen:
            self._freeze()

    def _freeze(self) -> None:
        for p in self.parameters():
            p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode and not self.frozen)
        return self

    # -- forward ---------------------------------------------------------------------------------------------
    def pos_embed(self, grid: tuple[int, int, int], device, dtype) -> torch.Tensor:
        key = (grid, device, dtype)
        if key not in self._pos_cache:
            self._pos_cache[key] = sincos_3d(self.embed_dim, grid).to(device=device, dtype=dtype)[None]
        return self._pos_cache[key]

    def forward(self, x: torch.Tensor, temporal_coords: torch.Tensor | None = None,
                location_coords: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        if x.ndim == 4:
            x = x.unsqueeze(2)
        if x.ndim != 5 or x.shape[1] != self.in_chans:
            raise ValueError(f'expected input (B, {self.in_chans}, T, H, W), got {tuple(x.shape)}')
        tokens, grid = self.patch_embed(x)
        tokens = tokens + self.pos_embed(grid, tokens.device, tokens.dtype)[:, 1:]
        if self.coords_encoding:
            if temporal_coords is not None:
                per_frame = grid[1] * grid[2]
                coords = temporal_coords[:, ::self.tubelet_size] if self.tubelet_size > 1 else temporal_coords
                tokens = tokens + self.temporal_embed_enc(coords.float(), per_frame)
            if location_coords is not None:
                tokens = tokens + self.location_embed_enc(location_coords.float())
        cls = self.cls_token + self.pos_embed(grid, tokens.device, tokens.dtype)[:, :1]
        x = torch.cat([cls.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        outs = []
        for i, block in enumerate(self.blocks):
            if self.with_cp and self.training and x.requires_grad:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
            if i in self.out_indices:
                outs.append(self.norm(x) if i == self.depth - 1 else x)
        return tuple(outs)

    def token_grid(self, input_shape: Sequence[int]) -> tuple[int, int, int]:
        """The (frames, rows, columns) of tokens the patch embedding makes of an input of ``input_shape``,
        ``(B, C, T, H, W)`` or ``(B, C, H, W)`` (one frame).

        Returns:
            The token grid; the patch embedding refuses inputs whose sides are not multiples of the patch.
        """
        frames = input_shape[2] if len(input_shape) == 5 else 1
        return (frames // self.tubelet_size, input_shape[-2] // self.patch_size,
                input_shape[-1] // self.patch_size)
