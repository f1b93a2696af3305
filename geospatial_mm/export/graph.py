"""The computation an exported model holds: tiles as the loader reads them -> the model's normalised input -> logits.

Between the loader and the segmentor, a config's test pipeline and data preprocessor do per-channel affine work
(``TorchNormalize``, the preprocessor's mean/std) and lay stacked frames out as ``(C, T, H, W)``. Rather than
re-implement those transforms, :func:`measure_input_map` runs the config's own pipeline and preprocessor on probe
rasters, reads the same rasters the way the exported model will (:class:`~geospatial_mm.io.band_reader.BandReader`),
fits one scale and shift per channel, and checks the fit on a second probe: a pipeline that does anything else is
refused rather than exported wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torch.nn as nn
from numpy.typing import NDArray

from geospatial_mm.errors import GeospatialMMError


class ExportError(GeospatialMMError, ValueError):
    """A config, checkpoint or option that cannot be exported (the message says why)."""


class Segmentor(Protocol):
    """What :class:`TileGraph` needs of a segmentor: mmseg's ``encode_decode``."""

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: list[dict[str, object]]) -> torch.Tensor:
        """Logits ``(B, K, H, W)`` of a batch of inputs, each with its data sample's metainfo."""


@dataclass
class InputMap:
    """Per-channel ``scale`` and ``shift`` from read values to the model's input, and the frames that input has.

    Attributes:
        scale: ``(C*T,)`` float32, multiplies the read values.
        shift: ``(C*T,)`` float32, added after scaling.
        frames: T of a ``(C, T, H, W)`` input made from frame-major ``(C*T, H, W)``; None: a plain ``(C, H, W)``
            input.
    """
    scale: NDArray[np.float32]
    shift: NDArray[np.float32]
    frames: int | None

    def apply(self, x: NDArray[np.floating]) -> NDArray[np.floating]:
        """The map on one read tile ``(C*T, H, W)`` (numpy; the exported graph does the same in torch).

        Returns:
            The model's input, ``(C, T, H, W)`` with frames, else ``(C, H, W)``.
        """
        y = x * self.scale[:, None, None] + self.shift[:, None, None]
        if self.frames:
            y = y.reshape(self.frames, -1, *y.shape[1:]).transpose(1, 0, 2, 3)
        return y


def frame_major(y: NDArray[np.floating]) -> tuple[NDArray[np.floating], int | None]:
    """A model input ``(C, T, H, W)`` as frame-major ``(C*T, H, W)``, or ``(C, H, W)`` as it is.

    Returns:
        ``(frame-major input, T)``, or ``(y, None)`` for a ``(C, H, W)`` input.
    """
    if y.ndim == 4:
        return y.transpose(1, 0, 2, 3).reshape(-1, *y.shape[2:]), y.shape[1]
    return y, None


def fit_input_map(read: NDArray[np.floating], model_input: NDArray[np.floating]) -> InputMap:
    """One scale and shift per channel with ``model_input == map(read)``, by least squares over the probe's pixels.

    Returns:
        The fitted map, with the frames of ``model_input``.

    Raises:
        ExportError: ``model_input`` is not the shape of a per-channel map of ``read`` (a resize or crop), or a
            channel's read values do not vary, so it cannot be fitted.
    """
    y, frames = frame_major(model_input)
    if y.shape != read.shape:
        raise ExportError(f'the test pipeline turns a read tile of {read.shape} into a model input of '
                          f'{tuple(model_input.shape)}: not a per-channel map (a resize or crop cannot be exported)')
    x = read.reshape(read.shape[0], -1).astype(np.float64)
    y = y.reshape(y.shape[0], -1).astype(np.float64)
    dx = x - x.mean(1, keepdims=True)
    var = (dx ** 2).sum(1)
    if (var <= 0).any():
        raise ExportError(f'probe channels {np.flatnonzero(var <= 0).tolist()} do not vary after the loader '
                          '(a constant clip range?): the input map cannot be measured')
    scale = (dx * (y - y.mean(1, keepdims=True))).sum(1) / var
    shift = y.mean(1) - scale * x.mean(1)
    return InputMap(scale.astype(np.float32), shift.astype(np.float32), frames)


def check_input_map(input_map: InputMap, read: NDArray[np.floating], model_input: NDArray[np.floating],
                    tolerance: float = 1e-4) -> None:
    """Check that ``map(read)`` equals the pipeline's model input (relative ``tolerance``).

    Raises:
        ExportError: it does not: the pipeline does more than a per-channel affine map and frame layout.
    """
    expected = model_input.astype(np.float64)
    got = input_map.apply(read.astype(np.float64))
    error = np.abs(got - expected) / (1.0 + np.abs(expected))
    if got.shape != expected.shape or error.max() > tolerance:
        worst = float(error.max()) if got.shape == expected.shape else float('inf')
        raise ExportError(f'the test pipeline and data preprocessor are not a per-channel affine map of the read '
                          f'values (relative error {worst:.2e} on a second probe): this config cannot be exported')


class TileGraph(nn.Module):
    """``(B, C, H, W)`` read tiles -> ``(B, K, H, W)`` float32 logits.

    The measured per-channel map, the frames' layout, and the segmentor's own ``encode_decode`` with the metadata its
    test pipeline gives one tile.

    Args:
        network: the segmentor (an ``nn.Module``, registered as the graph's submodule).
        input_map: the measured map from read values to the model's input.
        metas: the metainfo of one tile's data sample, in a list.
    """

    scale: torch.Tensor  # buffers, (1, C*T, 1, 1)
    shift: torch.Tensor

    def __init__(self, network: Segmentor, input_map: InputMap, metas: list[dict[str, object]]) -> None:
        super().__init__()
        self.network = network
        self.register_buffer('scale', torch.from_numpy(input_map.scale).view(1, -1, 1, 1))
        self.register_buffer('shift', torch.from_numpy(input_map.shift).view(1, -1, 1, 1))
        self.frames = input_map.frames
        self.metas = metas

    def forward(self, tiles: torch.Tensor) -> torch.Tensor:
        """The logits of a batch of read tiles.

        Returns:
            ``(B, K, H, W)`` float32 logits.
        """
        x = tiles * self.scale + self.shift
        if self.frames:
            b, c, h, w = x.shape
            x = x.reshape(b, self.frames, c // self.frames, h, w).permute(0, 2, 1, 3, 4)
        return self.network.encode_decode(x, self.metas).float()
