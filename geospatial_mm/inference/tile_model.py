"""What the streaming predictors need of a model: what it reads, how a window of a raster becomes its input, and the
logits of a batch of tiles.

Two kinds of model implement it: :class:`~geospatial_mm.inference.openmmlab_model.OpenMMLabModel` (a config and its
checkpoint, through the OpenMMLab stack) and :class:`~geospatial_mm.inference.exported_model.ExportedModel` (a file
written by tools/export.py, with torch alone or with onnxruntime alone). The predictors (windows, blending, the rolling
band of rows, nodata, outputs) are the same for both.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from geospatial_mm.models.probabilities import probability_rule
from .input_spec import InputSpec


@dataclass
class WindowInputs:
    """A window of a raster prepared as the model's input."""
    inputs: object  # channels first, (C, H, W) or (C, T, H, W): a torch tensor or a numpy array, in host memory
    nodata: np.ndarray | None  # (H, W) of the window: pixels that are nodata in any band
    meta: object = None  # what the model takes with them (the OpenMMLab data sample), else None


# per tile of a batch: masks (n, tile, tile) bool, labels (n,) and scores (n,) of the instances above the threshold
Detections = list[tuple[np.ndarray, np.ndarray, np.ndarray]]


class TileModel(Protocol):
    """The interface (and the shared parts) of the models the streaming predictors run; models subclass it.

    Attributes:
        task: ``'segmentation'`` or ``'detection'``.
        classes, palette: class names and their colours (or None).
        spec: what is read (:class:`~geospatial_mm.inference.input_spec.InputSpec`).
        arrays: the array operations of the blending and the rolling band (:mod:`.arrays`, :mod:`.torch_arrays`).
        device, precision: where and in which floating-point type the model runs; ``precision_reason`` says why
            (:func:`~.precision.choose_precision`).
        pointwise: every step from file values to the model's input works pixel by pixel, so a strip of tiles may
            be read at once and the tiles cut out of it.
        out_channels, threshold, rule: logit channels (1: one sigmoid output, class 1 above ``threshold``) and the
            name of the rule that turns logits into probabilities (:mod:`geospatial_mm.models.probabilities`).
        preview_rgb_bands, preview_brightness: the channels and brightness of preview composites.
        label_suffix: the file ending of label rasters (previews' ``--labels``).
        name: what the outputs' metadata names as the model (the checkpoint's or the model file's name).
    """
    task = 'segmentation'
    classes: list
    palette: list | None
    spec: InputSpec
    arrays: object
    device: str = 'cpu'
    precision: str = 'fp32'
    precision_reason: str = 'asked for'
    pointwise: bool = True
    out_channels: int
    threshold: float = 0.5
    rule: str = 'softmax'
    preview_rgb_bands: list = (0, 1, 2)
    preview_brightness: float | None = None
    label_suffix: str = '.tif'
    name: str = ''

    # -- sizes ------------------------------------------------------------------------------------------------
    def tile_and_stride(self, tile: int | None, stride: int | None) -> tuple[int, int]:
        """The sliding window's size and step: the given ones, else the model's defaults."""
        raise NotImplementedError

    def default_readers(self) -> int:
        """Reader threads when none are asked for: 1 on the CPU, where the model needs the cores."""
        return 1

    # -- inputs -----------------------------------------------------------------------------------------------
    def read(self, paths: dict, window: tuple) -> WindowInputs:
        """``window`` ``(row, col, h, w)`` of a sample's files (``{path key: path or paths}``) as the model's input."""
        raise NotImplementedError

    def crop(self, strip: WindowInputs, col: int, width: int, window: tuple) -> WindowInputs:
        """The columns ``col:col + width`` of a strip read at once (a tile whose window is ``window``), contiguous."""
        raise NotImplementedError

    def pad(self, item: WindowInputs, size: int) -> WindowInputs:
        """The input padded with zeros to ``size`` x ``size`` pixels (a raster smaller than a tile)."""
        raise NotImplementedError

    def host(self, item: WindowInputs) -> WindowInputs:
        """The item with its input ready for the model's batches (contiguous; in pinned memory for a GPU)."""
        return item

    def reader_context(self) -> contextlib.AbstractContextManager:
        """What each reader thread runs in (besides the GDAL environment)."""
        return contextlib.nullcontext()

    # -- outputs ----------------------------------------------------------------------------------------------
    def forward(self, batch: list[WindowInputs], size: tuple[int, int] | None = None):
        """``(B, K, h, w)`` float32 logits of a batch of prepared tiles, as ``arrays`` arrays, resized to ``size``
        when the model gives another size."""
        raise NotImplementedError

    def detect(self, batch: list[WindowInputs], score_thr: float) -> Detections:
        """The instances of a batch of prepared tiles (models whose ``task`` is ``'detection'``).

        Args:
            batch: the prepared tiles.
            score_thr: instances scoring below are left out.

        Returns:
            Per tile: ``(masks (n, tile, tile) bool, labels (n,), scores (n,))``.

        Raises:
            ValueError: the model is not a detector.
        """
        raise ValueError(f'{self.name or "this model"}: a {self.task} model does not detect instances')

    def probabilities(self, logits):
        """Class probabilities of blended ``(K, h, w)`` logits (the model's rule)."""
        return probability_rule(self.rule)(logits, self.arrays.xp)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    # -- previews ---------------------------------------------------------------------------------------------
    def preview_panels(self) -> list[tuple[str, list[tuple[str, int, object]]]]:
        """The input panels of a preview: ``(name, [(path key, file band, reader) for red, green, blue])``: the
        ``preview_rgb_bands`` (indices among the loaded channels) and the reader whose ``convert`` turns their file
        values into what the model sees."""
        rgb_idx = [int(i) for i in self.preview_rgb_bands]
        readers = dict(zip(self.spec.path_keys, self.spec.band_readers()))
        if self.spec.multi_source:
            channels = [(key, band) for key in self.spec.path_keys for band in self.spec.source_bands[key]]
            if max(rgb_idx) >= len(channels):
                raise ValueError(f'preview_rgb_bands {rgb_idx} out of range: the loader gives {len(channels)} '
                                 'channels')
            return [('input', [(key, band, readers[key]) for key, band in (channels[i] for i in rgb_idx)])]
        panels = []
        for key, reader in readers.items():
            frame_bands = reader.frames[0] if reader.frames else reader.bands
            if frame_bands is not None and max(rgb_idx) >= len(frame_bands):
                raise ValueError(f'preview_rgb_bands {rgb_idx} out of range: the loader reads {len(frame_bands)} '
                                 'bands')
            name = 'input' if len(readers) == 1 else key.replace('_path', '').replace('img', 'image')
            panels.append((name, [(key, frame_bands[i] if frame_bands is not None else i, reader) for i in rgb_idx]))
        return panels

    def label_converter(self):
        """What turns a label raster's values into class indices for previews (with ``convert(raw, meta, path)``),
        or None when the model cannot read labels."""
        return None
