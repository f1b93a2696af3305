"""What the streaming predictors need of a model.

That is what it reads, how a window of a raster becomes its input, and the logits of a batch of tiles.

Two kinds of model implement it: :class:`~geospatial_mm.inference.openmmlab_model.OpenMMLabModel` (a config and its
checkpoint, through the OpenMMLab stack) and :class:`~geospatial_mm.inference.exported_model.ExportedModel` (a file
written by tools/export.py, with torch alone or with onnxruntime alone). The predictors (windows, blending, the rolling
band of rows, nodata, outputs) are the same for both.
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from geospatial_mm.io.raster import RasterMeta, Window
from geospatial_mm.models.probabilities import probability_rule
from .arrays import Array, ArrayBackend
from .input_spec import InputSpec, SamplePaths

if TYPE_CHECKING:
    import torch
    from mmengine.structures import BaseDataElement

    from geospatial_mm.io.band_reader import BandReader


@dataclass
class WindowInputs:
    """A window of a raster prepared as the model's input."""
    inputs: Array  # channels first, (C, H, W) or (C, T, H, W): a torch tensor or a numpy array, in host memory
    nodata: NDArray[np.bool_] | None  # (H, W) of the window: pixels that are nodata in any band
    meta: BaseDataElement | None = None  # what the model takes with them (the OpenMMLab data sample), else None


class TileInputs(Protocol):
    """What a model's :meth:`~TileModel.forward` and :meth:`~TileModel.detect` read of each tile of a batch.

    :class:`WindowInputs` and the predictors' prepared tiles have it.
    """

    @property
    def inputs(self) -> Array:
        """The model's input, as :attr:`WindowInputs.inputs`."""
        ...

    @property
    def meta(self) -> BaseDataElement | None:
        """What the model takes with it, as :attr:`WindowInputs.meta`."""
        ...


# per tile of a batch: masks (n, tile, tile) bool, labels (n,) and scores (n,) of the instances above the threshold
Detections = list[tuple[NDArray[np.bool_], NDArray[np.integer[Any]], NDArray[np.floating[Any]]]]
# the input panels of a preview: (name, [(path key, file band, reader) for red, green, blue])
PreviewPanels = list[tuple[str, list[tuple[str, int, 'BandReader']]]]


class TileModel:
    """The interface (and the shared parts) of the models the streaming predictors run; models subclass it.

    Detection is part of the interface (:meth:`detect`), so that predictors ask a model's ``task``, never what methods
    it has. It is a base class rather than a ``typing.Protocol`` because it carries the parts both models share.

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
    task: str = 'segmentation'
    classes: list[str]
    palette: list[tuple[int, ...]] | None
    spec: InputSpec
    arrays: ArrayBackend[Any]  # numpy or torch, chosen when the model is loaded
    device: str | torch.device = 'cpu'
    precision: str = 'fp32'
    precision_reason: str = 'asked for'
    pointwise: bool = True
    out_channels: int
    threshold: float = 0.5
    rule: str = 'softmax'
    preview_rgb_bands: list[int] = [0, 1, 2]  # each model sets its own
    preview_brightness: float | None = None
    label_suffix: str = '.tif'
    name: str = ''

    # -- sizes ------------------------------------------------------------------------------------------------
    def tile_and_stride(self, tile: int | None, stride: int | None) -> tuple[int, int]:
        """The sliding window's size and step: the given ones, else the model's defaults.

        Returns:
            ``(tile, stride)`` in pixels.

        Raises:
            NotImplementedError: the model does not say (each model does).
        """
        raise NotImplementedError

    def default_readers(self) -> int:
        """Reader threads when none are asked for.

        Returns:
            1: on the CPU, the model needs the cores.
        """
        return 1

    # -- inputs -----------------------------------------------------------------------------------------------
    def read(self, paths: SamplePaths, window: Window) -> WindowInputs:
        """``window`` ``(row, col, h, w)`` of a sample's files (``{path key: path or paths}``) as the model's input.

        Returns:
            The window's input, nodata mask and metadata.

        Raises:
            NotImplementedError: the model does not read (each model does).
        """
        raise NotImplementedError

    def crop(self, strip: WindowInputs, col: int, width: int, window: Window) -> WindowInputs:
        """The columns ``col:col + width`` of a strip read at once (a tile whose window is ``window``), contiguous.

        Returns:
            The tile's input.

        Raises:
            NotImplementedError: the model does not crop (each model does).
        """
        raise NotImplementedError

    def pad(self, item: WindowInputs, size: int) -> WindowInputs:
        """The input padded with zeros to ``size`` x ``size`` pixels (a raster smaller than a tile).

        Returns:
            The padded item.

        Raises:
            NotImplementedError: the model does not pad (each model does).
        """
        raise NotImplementedError

    def host(self, item: WindowInputs) -> WindowInputs:
        """The item with its input ready for the model's batches (contiguous; in pinned memory for a GPU).

        Returns:
            The item.
        """
        return item

    def reader_context(self) -> contextlib.AbstractContextManager[None]:
        """What each reader thread runs in (besides the GDAL environment).

        Returns:
            A context manager (by default one that does nothing).
        """
        return contextlib.nullcontext()

    # -- outputs ----------------------------------------------------------------------------------------------
    def forward(self, batch: Sequence[TileInputs], size: tuple[int, int] | None = None) -> Any:
        """The logits of a batch of prepared tiles.

        Returns:
            ``(B, K, h, w)`` float32 logits, as arrays of the model's ``arrays`` (numpy or torch, so Any here),
            resized to ``size`` when the model gives another size.

        Raises:
            NotImplementedError: the model does not say (each model does).
        """
        raise NotImplementedError

    def detect(self, batch: Sequence[TileInputs], score_thr: float) -> Detections:
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

    def probabilities(self, logits: Any) -> Any:
        """Class probabilities of blended ``(K, h, w)`` logits (the model's rule).

        Returns:
            ``(K, h, w)`` probabilities, arrays of the model's ``arrays`` as the logits are.
        """
        return probability_rule(self.rule)(logits, self.arrays.xp)

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.classes)

    # -- previews ---------------------------------------------------------------------------------------------
    def preview_panels(self) -> PreviewPanels:
        """The input panels of a preview.

        Returns:
            ``(name, [(path key, file band, reader) for red, green, blue])`` per panel: the ``preview_rgb_bands``
            (indices among the loaded channels) and the reader whose ``convert`` turns their file values into what
            the model sees.

        Raises:
            ValueError: ``preview_rgb_bands`` names a channel the loader does not give.
        """
        rgb_idx = [int(i) for i in self.preview_rgb_bands]
        readers = dict(zip(self.spec.path_keys, self.spec.band_readers()))
        source_bands = self.spec.source_bands
        if source_bands is not None:  # several files (multi_source)
            channels = [(key, band) for key in self.spec.path_keys for band in source_bands[key]]
            if max(rgb_idx) >= len(channels):
                raise ValueError(f'preview_rgb_bands {rgb_idx} out of range: the loader gives {len(channels)} '
                                 'channels')
            return [('input', [(key, band, readers[key]) for key, band in (channels[i] for i in rgb_idx)])]
        panels: PreviewPanels = []
        for key, reader in readers.items():
            frame_bands = reader.frames[0] if reader.frames else reader.bands
            if frame_bands is not None and max(rgb_idx) >= len(frame_bands):
                raise ValueError(f'preview_rgb_bands {rgb_idx} out of range: the loader reads {len(frame_bands)} '
                                 'bands')
            name = 'input' if len(readers) == 1 else key.replace('_path', '').replace('img', 'image')
            panels.append((name, [(key, frame_bands[i] if frame_bands is not None else i, reader) for i in rgb_idx]))
        return panels

    def label_converter(self) -> LabelConverter | None:
        """What turns a label raster's values into class indices for previews.

        Returns:
            A converter (with ``convert(raw, meta, path)``), or None when the model cannot read labels.
        """
        return None


class LabelConverter(Protocol):
    """What turns a label raster's values into class indices (a label loader of the package)."""

    @property
    def band(self) -> int:
        """The band of a label raster that holds the labels."""
        ...

    def convert(self, raw: NDArray[Any], meta: RasterMeta, path: str) -> NDArray[Any]:
        """Class indices of the label values ``raw`` of ``path`` (``meta`` its header).

        Returns:
            The class indices.
        """
        ...
