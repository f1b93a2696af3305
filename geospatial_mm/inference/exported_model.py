"""A model file of tools/export.py as a :class:`~geospatial_mm.inference.tile_model.TileModel`.

The streaming predictors run it with torch alone (``.pt2``) or onnxruntime and numpy alone (``.onnx``), without mmcv,
mmengine, mmseg, mmdet or mmpretrain.

Windows are read by the same :class:`~geospatial_mm.io.band_reader.BandReader` the config's loaders are built on,
with the settings the metadata records; the exported program does the rest (normalisation, frames, the model).
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from geospatial_mm.io.band_reader import ReaderArgs
from geospatial_mm.io.raster import Window
from .arrays import Array, ArrayBackend, ArrayT
from .exported_format import ExportedModelError, ExportMetadata, runtime_of
from .input_spec import InputSpec, SamplePaths, Scaling, override_loader
from .tile_model import TileInputs, TileModel, WindowInputs

if TYPE_CHECKING:
    import torch


class ExportedRuntime(Protocol[ArrayT]):
    """What runs an exported program, on arrays of type ``ArrayT``.

    :class:`~.exported_torch.TorchProgram` runs a ``.pt2`` on torch tensors, :class:`~.exported_onnx.OnnxSession` an
    ``.onnx`` on numpy arrays; which one is known when the file is opened (``ExportedRuntime[Any]``).
    """

    @property
    def metadata(self) -> ExportMetadata:
        """The file's metadata, checked by the format's schema."""
        ...

    @property
    def device(self) -> str | torch.device:
        """Where the program runs."""
        ...

    @property
    def arrays(self) -> ArrayBackend[ArrayT]:
        """The array operations of the blending, on the program's arrays."""
        ...

    def host(self, array: Array) -> ArrayT:
        """A tile as the program's contiguous input array.

        Returns:
            The array.
        """
        ...

    def pad(self, array: ArrayT, size: int) -> ArrayT:
        """A tile padded with zeros to ``size`` x ``size`` pixels.

        Returns:
            The padded array.
        """
        ...

    def reader_context(self) -> contextlib.AbstractContextManager[None]:
        """What each reader thread runs in.

        Returns:
            A context manager.
        """
        ...

    def run(self, inputs: list[ArrayT]) -> ArrayT:
        """The float32 logits of a batch of tiles.

        Returns:
            ``(B, K, H, W)`` logits.
        """
        ...


class ExportedModel(TileModel):
    """An exported segmentation model.

    Args:
        path: the ``.pt2`` or ``.onnx`` file.
        device: 'cpu', 'cuda', 'cuda:1', ...
        precision: ``'fp32'``; a ``.pt2`` also runs under torch's autocast in ``'bf16'`` or ``'fp16'``.
        bands, input_scaling: as for a config (:func:`~geospatial_mm.inference.input_spec.override_loader`): other
            band positions in the files, another sensor's scaling.
    """

    runtime: ExportedRuntime[Any]  # torch tensors (.pt2) or numpy arrays (.onnx), known when the file is opened
    metadata: ExportMetadata

    def __init__(self, path: str, device: str = 'cpu', precision: str = 'fp32', bands: Sequence[int] | None = None,
                 input_scaling: Scaling | None = None) -> None:
        path = str(path)
        if not Path(path).is_file():
            raise FileNotFoundError(f'{path}: model file not found')
        kind = runtime_of(path)
        if kind == 'torch':
            from .exported_torch import TorchProgram
            self.runtime = TorchProgram(path, device, precision)
        else:
            from .exported_onnx import OnnxSession
            self.runtime = OnnxSession(path, device, precision)
        meta = self.metadata = self.runtime.metadata  # checked by the format's schema
        self.path = path
        self.name = Path(path).name
        self.device = self.runtime.device
        self.precision = precision
        quantized = meta.get('quantization')
        if quantized:  # int8 weights (and activations): what runs is the file's own precision
            self.precision = 'int8'
            self.precision_reason = (f'the file is quantized to int8 ({quantized["method"]}; its class map agreed with '
                                     f'fp32 on {quantized["agreement_percent"]:.2f} % of '
                                     f'{quantized.get("probe_pixels", "the")} pixels of '
                                     f'{quantized.get("probe_source", "probes")} at export)')
        self.arrays = self.runtime.arrays
        self.classes = list(meta['classes'])
        palette = meta.get('palette')
        self.palette = [tuple(int(c) for c in p) for p in palette] if palette else None
        spec = InputSpec.from_dict(meta['spec'])
        spec.loader = override_loader(spec.loader, spec.multi_source, bands, input_scaling)
        if not spec.multi_source:  # the overridden loader arguments are those of each of its files
            readers = spec.readers or {}  # the schema asks for the readers of every path key
            spec.readers = {key: cast(ReaderArgs, {**args, **{k: spec.loader[k] for k in args if k in spec.loader}})
                            for key, args in readers.items()}
        self.spec = spec
        self.readers = spec.band_readers()
        self.channels = int(meta['input']['channels'])
        self.batch = meta['input']['batch']  # 'dynamic' or the one batch size the program takes
        self.out_channels = int(meta['out_channels'])
        self.threshold = float(meta.get('threshold', 0.5))
        self.rule = meta['probability_rule']
        self.preview_rgb_bands = list(meta.get('preview', {}).get('rgb_bands', [0, 1, 2]))
        self.preview_brightness = meta.get('preview', {}).get('brightness')
        self.pointwise = True  # BandReader and the program's per-pixel normalisation

    # -- sizes ------------------------------------------------------------------------------------------------
    def tile_and_stride(self, tile: int | None, stride: int | None) -> tuple[int, int]:
        """The tile the model was exported for (another is refused) and the given stride, else the exported one.

        Returns:
            ``(tile, stride)`` in pixels.

        Raises:
            ValueError: ``tile`` is not the exported tile.
        """
        exported = int(self.metadata['tile'])
        if tile is not None and int(tile) != exported:
            raise ValueError(f'{self.path} was exported for tiles of {exported} px, not {tile}: export it again with '
                             f'--tile {tile}, or leave --tile out')
        return exported, int(stride or self.metadata['stride'])

    def default_readers(self) -> int:
        """Reader threads when none are asked for.

        Returns:
            1 on the CPU (the model needs the cores), else 4.
        """
        return 1 if str(self.device).startswith('cpu') else 4

    # -- inputs -----------------------------------------------------------------------------------------------
    def read(self, paths: SamplePaths, window: Window) -> WindowInputs:
        """``window`` ``(row, col, h, w)`` of a sample's files (``{path key: path or paths}``) as the model's input.

        Returns:
            The window's input and nodata mask.

        Raises:
            ExportedModelError: the files give another number of channels than the model was exported for.
        """
        image, nodata = self.spec.read(self.readers, paths, window)
        if image.shape[0] != self.channels:
            first = paths[self.spec.path_keys[0]]
            raise ExportedModelError(f'{first if isinstance(first, str) else first[0]}: {image.shape[0]} channels '
                                     f'read, but the model was exported for {self.channels}')
        return WindowInputs(image, nodata)

    def crop(self, strip: WindowInputs, col: int, width: int, window: Window) -> WindowInputs:
        """The columns ``col:col + width`` of a strip read at once (a tile whose window is ``window``), contiguous.

        Returns:
            The tile's input.
        """
        nodata = strip.nodata[:, col:col + width] if strip.nodata is not None else None
        return WindowInputs(self.runtime.host(strip.inputs[..., col:col + width]), nodata)

    def host(self, item: WindowInputs) -> WindowInputs:
        """The item with its input ready for the program's batches (contiguous; in pinned memory for a GPU).

        Returns:
            The item.
        """
        item.inputs = self.runtime.host(item.inputs)
        return item

    def pad(self, item: WindowInputs, size: int) -> WindowInputs:
        """The input padded with zeros to ``size`` x ``size`` pixels (a raster smaller than a tile).

        Returns:
            The padded item.
        """
        item.inputs = self.runtime.pad(self.runtime.host(item.inputs), size)
        return item

    def reader_context(self) -> contextlib.AbstractContextManager[None]:
        """What each reader thread runs in (the runtime's).

        Returns:
            A context manager.
        """
        return self.runtime.reader_context()

    # -- outputs ----------------------------------------------------------------------------------------------
    def forward(self, batch: Sequence[TileInputs], size: tuple[int, int] | None = None) -> Any:
        """The logits of a batch of prepared tiles (a static-batch program's last batch filled with empty tiles).

        Returns:
            ``(B, K, h, w)`` float32 logits: torch tensors (``.pt2``) or numpy arrays (``.onnx``).

        Raises:
            ValueError: more tiles than a static-batch program takes.
            ExportedModelError: the program's logits are not of ``size``.
        """
        inputs = [b.inputs for b in batch]
        n = len(inputs)
        if self.batch != 'dynamic':  # a program of one batch size: fill the last batch with empty tiles
            if n > int(self.batch):
                raise ValueError(f'{self.path} takes batches of {self.batch} tiles: use --batch-size {self.batch}')
            inputs = inputs + [inputs[0] * 0] * (int(self.batch) - n)
        logits = self.runtime.run(inputs)[:n]
        if size is not None and tuple(logits.shape[-2:]) != tuple(size):
            raise ExportedModelError(f'{self.path} gives logits of {tuple(logits.shape[-2:])} px for tiles of '
                                     f'{tuple(size)}')
        return logits
