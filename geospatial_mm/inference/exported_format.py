"""The model files of tools/export.py: a program with the metadata that makes it self-describing.

The file is a ``torch.export`` program (``.pt2``) or an ONNX model (``.onnx``), its metadata stored inside it.

The program maps a batch of tiles as read from the rasters, ``(B, C, H, W)`` float32 in the units the config's
loader produces (bands, frames, scale, offset, clip, NaN and nodata handling: :class:`~geospatial_mm.io.band_reader.
BandReader`), to ``(B, K, H, W)`` float32 logits; the normalisation, the frames' layout and the model are inside it.
The metadata (JSON) says everything else the streaming predictor needs: what to read and how (``spec``), the tile and
stride, classes and palette, how logits become classes and probabilities, and where the model came from. In a
``.pt2`` it is the archive's extra file ``geospatial_mm.json``; in an ``.onnx`` the model's metadata property
``geospatial_mm``.

The metadata is checked by one schema (:func:`check_metadata`) before anything uses it: types, ranges and the
agreement of fields, with bounds that keep every allocation it drives finite (:data:`LIMITS`). A bad field is an
error naming the file, the field and its value. The metadata's fields are typed by :class:`ExportMetadata`, which
tools/export.py (:mod:`geospatial_mm.export.exporter`) writes.
"""
from __future__ import annotations

import dataclasses
import json
import math
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast, overload

from geospatial_mm.errors import GeospatialMMError
from geospatial_mm.io.atomic import JSONValue
from geospatial_mm.io.band_reader import READER_ARGS
from geospatial_mm.models.probabilities import RULES
from .input_spec import InputSpec

FORMAT = 'geospatial_mm.exported_model'
FORMAT_VERSION = 1
METADATA_NAME = 'geospatial_mm.json'  # the .pt2 archive's extra file
ONNX_METADATA_KEY = 'geospatial_mm'  # the .onnx model's metadata property
SUFFIXES = {'.pt2': 'torch', '.onnx': 'onnx'}
# bounds of the metadata (docs/deploy.md): what one batch of tiles may allocate stays finite whatever a file says
LIMITS = dict(
    tile=4096,  # px, the side of a square tile
    batch=4096,  # tiles of a dynamic-batch program (torch.export's bound) or of a static one
    channels=1024,  # input channels of a tile
    classes=255,  # uint8 class maps keep 255 for nodata
    band_index=65535,  # 0-based band of an input file
    frames=64,  # dates of a multi-temporal input
    batch_elements=2 ** 30,  # float32 values of one static batch of tiles (4 GiB)
)
BACKENDS = ('rasterio', 'tifffile')
SPEC_FIELDS = frozenset(field.name for field in dataclasses.fields(InputSpec))


class ExportedModelError(GeospatialMMError, ValueError):
    """A model file that is not one tools/export.py wrote, or of a version this package cannot read."""


class Normalisation(TypedDict):
    """The measured per-channel map from read values to the model's input.

    (:class:`~geospatial_mm.export.graph.InputMap` measures it.)
    """
    scale: list[float]
    shift: list[float]


class InputMetadata(TypedDict):
    """What an exported model takes.

    Attributes:
        channels: the channels of a tile.
        dtype: their data type.
        frames: the frames (dates) of the model's input (None: none).
        batch: ``'dynamic'`` or the static batch size.
        normalisation: the map from read values to the model's input, inside the program.
    """
    channels: int
    dtype: str
    frames: int | None
    batch: int | str
    normalisation: Normalisation


class PreviewMetadata(TypedDict):
    """The channels (``rgb_bands``) and ``brightness`` of preview composites."""
    rgb_bands: list[int]
    brightness: float | None


class QuantizationMetadata(TypedDict):
    """How an int8 model was quantized and how well its class map agreed with the fp32 model's.

    (:func:`~geospatial_mm.export.exporter.int8_model` measures it.)
    """
    dtype: str
    method: str
    agreement_percent: float
    probe_pixels: int
    probe_source: str
    min_agreement_percent: float
    onnxruntime: str


class CheckMetadata(TypedDict):
    """The check of the exported file against the config's model on a probe."""
    max_abs_logit_difference: float


class ExportMetadata(TypedDict):
    """The metadata written with an exported model (:func:`check_metadata` checks it)."""
    format: str
    format_version: int
    package_version: str
    torch_version: str
    task: str
    runtime: str
    config: str
    checkpoint: str
    checkpoint_sha256: str
    classes: list[str]
    palette: list[list[int]] | None
    tile: int
    stride: int
    input: InputMetadata
    spec: dict[str, JSONValue]
    out_channels: int
    threshold: float
    probability_rule: str
    preview: PreviewMetadata
    quantization: NotRequired[QuantizationMetadata]
    check: NotRequired[CheckMetadata]


def runtime_of(path: str | Path) -> str:
    """The runtime that runs a model file, by its suffix.

    Returns:
        ``'torch'`` for a ``.pt2`` file, ``'onnx'`` for an ``.onnx`` file.

    Raises:
        ExportedModelError: the file is neither.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ExportedModelError(f'{path}: an exported model is a .pt2 (torch.export) or .onnx file (tools/export.py)')
    return SUFFIXES[suffix]


def read_pt2_metadata(path: str | Path) -> ExportMetadata:
    """The metadata of a ``.pt2`` archive, read from the zip file itself (no torch needed).

    Returns:
        The metadata, checked (:func:`parse_metadata`).

    Raises:
        ExportedModelError: the file is not a readable archive, holds no metadata, or its metadata is bad.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(f'/extra/{METADATA_NAME}')]
            if not names:
                raise ExportedModelError(f'{path}: a torch.export archive without {METADATA_NAME}: not written by '
                                         'tools/export.py')
            return parse_metadata(archive.read(names[0]).decode('utf-8'), path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportedModelError(f'{path}: not a readable .pt2 archive ({exc})') from exc


def parse_metadata(text: str, path: str | Path) -> ExportMetadata:
    """The metadata JSON, checked for its format and version.

    Returns:
        The metadata, checked by :func:`check_metadata`.

    Raises:
        ExportedModelError: the text is not JSON, not this format's metadata, of another version, or a field is bad.
    """
    try:
        meta: Any = json.loads(text)  # JSON of any shape until it is checked
    except json.JSONDecodeError as exc:
        raise ExportedModelError(f'{path}: its metadata is not valid JSON ({exc})') from exc
    if not isinstance(meta, dict) or meta.get('format') != FORMAT:
        raise ExportedModelError(f'{path}: its metadata is not that of {FORMAT}')
    if meta.get('format_version') != FORMAT_VERSION:
        raise ExportedModelError(f'{path}: exported model format version {meta.get("format_version")}, but this '
                                 f'package reads version {FORMAT_VERSION}: export the model again')
    check_metadata(meta, path)
    return cast(ExportMetadata, meta)


class _Fields:
    """Reads fields of the metadata of ``path``; a missing or bad one raises naming the file, field and value."""

    def __init__(self, meta: dict[str, Any], path: str | Path) -> None:
        self.meta = meta
        self.path = path

    def bad(self, field: str, value: object, expected: str) -> ExportedModelError:
        return ExportedModelError(f'{self.path}: metadata field {field} = {value!r}: expected {expected}')

    def get(self, field: str) -> Any:  # a field of JSON: of any type until it is checked
        node: Any = self.meta
        for part in field.split('.'):
            if not isinstance(node, dict) or part not in node:
                raise ExportedModelError(f'{self.path}: metadata field {field} is missing')
            node = node[part]
        return node

    def integer(self, field: str, low: int, high: int, value: Any = None) -> int:
        value = self.get(field) if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.bad(field, value, f'an integer from {low} to {high}')
        return value

    @overload
    def number(self, field: str, value: Any, optional: Literal[False]) -> float: ...

    @overload
    def number(self, field: str, value: Any, optional: bool = True) -> float | None: ...

    def number(self, field: str, value: Any, optional: bool = True) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.bad(field, value, 'a finite number' + (' or null' if optional else ''))
        return float(value)

    def choice(self, field: str, choices: Collection[str]) -> str:
        value = self.get(field)
        if value not in choices:
            raise self.bad(field, value, f'one of {sorted(choices)}')
        return cast(str, value)

    def list_of(self, field: str, value: Any, length: int | None = None) -> list[Any]:
        if not isinstance(value, list) or (length is not None and len(value) != length):
            raise self.bad(field, value, 'a list' + (f' of {length} items' if length is not None else ''))
        return value


def check_metadata(meta: dict[str, Any], path: str | Path) -> None:
    """The schema of the metadata: every field the streaming predictor uses.

    Each field's type, range and agreement with the other fields (tile, stride, batch, channels, classes and palette,
    probability rule, input type, bands) are checked.

    Raises:
        ExportedModelError: a missing or bad field, naming the file, the field and the value.
    """
    f = _Fields(meta, path)
    f.choice('task', {'segmentation'})
    f.choice('runtime', set(SUFFIXES.values()))
    tile = f.integer('tile', 1, LIMITS['tile'])
    f.integer('stride', 1, tile)
    channels = f.integer('input.channels', 1, LIMITS['channels'])
    f.choice('input.dtype', {'float32'})
    batch = f.get('input.batch')
    if batch != 'dynamic':
        f.integer('input.batch', 1, LIMITS['batch'])
        if batch * channels * tile * tile > LIMITS['batch_elements']:
            raise f.bad('input.batch', batch, f'a batch of at most {LIMITS["batch_elements"]} float32 values '
                        f'({channels} channels of {tile} x {tile} px per tile)')
    if f.get('input.frames') is not None:
        f.integer('input.frames', 1, LIMITS['frames'])
    for key in ('scale', 'shift'):
        values = f.list_of(f'input.normalisation.{key}', f.get(f'input.normalisation.{key}'), channels)
        for i, v in enumerate(values):
            f.number(f'input.normalisation.{key}[{i}]', v, optional=False)
    _check_classes(f)
    f.number('threshold', meta.get('threshold', 0.5), optional=False)
    _check_spec(f, channels)
    quantization = meta.get('quantization')
    if quantization is not None:
        if not isinstance(quantization, dict) or quantization.get('dtype') != 'int8' or \
                quantization.get('method') not in ('dynamic', 'static') or meta['runtime'] != 'onnx':
            raise f.bad('quantization', quantization, "an .onnx model's dtype 'int8' and method 'dynamic' or 'static'")
        if not 0 <= f.number('quantization.agreement_percent', quantization.get('agreement_percent'),
                             optional=False) <= 100:
            raise f.bad('quantization.agreement_percent', quantization['agreement_percent'], 'a percentage')
    preview = meta.get('preview') or {}
    if preview.get('rgb_bands') is not None:
        for i, band in enumerate(f.list_of('preview.rgb_bands', preview['rgb_bands'], 3)):
            f.integer(f'preview.rgb_bands[{i}]', 0, channels - 1, band)
    if preview.get('brightness') is not None and not f.number('preview.brightness', preview['brightness'],
                                                                                 optional=False) > 0:
        raise f.bad('preview.brightness', preview['brightness'], 'a positive number')


def _check_classes(f: _Fields) -> None:
    """Class names, palette and the logits that the probability rule turns into them."""
    classes = f.get('classes')
    if not isinstance(classes, list) or not 1 <= len(classes) <= LIMITS['classes'] or \
            not all(isinstance(c, str) for c in classes):
        raise f.bad('classes', classes, f'a list of 1 to {LIMITS["classes"]} class names (uint8 class maps keep 255 '
                    'for nodata)')
    palette = f.meta.get('palette')
    if palette is not None:
        f.list_of('palette', palette, len(classes))
        for i, colour in enumerate(palette):
            f.list_of(f'palette[{i}]', colour, 3)
            for j, value in enumerate(colour):
                f.integer(f'palette[{i}][{j}]', 0, 255, value)
    rule = f.choice('probability_rule', set(RULES))
    expected = 1 if rule == 'binary_sigmoid' else len(classes)
    if rule == 'binary_sigmoid' and len(classes) != 2:
        raise f.bad('classes', classes, 'two classes for the binary_sigmoid rule')
    if f.get('out_channels') != expected or isinstance(f.get('out_channels'), bool):
        raise f.bad('out_channels', f.get('out_channels'), f'{expected} for {len(classes)} classes and the {rule} rule')


def _check_spec(f: _Fields, channels: int) -> None:
    """The input type (one file, one file per date, a pre/post pair, band groups of several files).

    And how each file's bands are read; the channels they give must be the program's.
    """
    spec = f.get('spec')
    if isinstance(spec, dict) and not set(spec) <= SPEC_FIELDS:
        raise f.bad('spec', sorted(spec), f'fields among {sorted(SPEC_FIELDS)}')
    if not isinstance(spec, dict) or not isinstance(spec.get('loader'), dict) or \
            not isinstance(spec['loader'].get('type'), str):
        raise f.bad('spec.loader', spec.get('loader') if isinstance(spec, dict) else spec, 'the loader\'s arguments '
                    'with its type')
    keys = f.list_of('spec.path_keys', f.get('spec.path_keys'))
    if not keys or len(set(keys)) != len(keys) or not all(isinstance(k, str) and k for k in keys):
        raise f.bad('spec.path_keys', keys, 'distinct non-empty names of path keys')
    frames = f.integer('spec.num_frames', 1, LIMITS['frames'])
    is_pair = f.get('spec.is_pair')
    stacked = f.get('spec.stacked_frames')
    sources = f.get('spec.source_bands')
    if not isinstance(is_pair, bool) or stacked not in (True, False, None):
        raise f.bad('spec.is_pair', is_pair, 'true or false (and spec.stacked_frames true, false or null)')
    kind_keys = 2 if is_pair else len(sources) if isinstance(sources, dict) else 1
    if (is_pair and sources is not None) or (sources is not None and not isinstance(sources, dict)) or \
            len(keys) != kind_keys or (isinstance(sources, dict) and set(sources) != set(keys)):
        raise f.bad('spec.path_keys', keys, 'one path key for one file, two for a pre/post pair, or one per band '
                    'group (spec.source_bands)')
    readers = f.get('spec.readers')
    if not isinstance(readers, dict) or set(readers) != set(keys):
        raise f.bad('spec.readers', readers, f'the reader arguments of each path key {keys}')
    files = frames if frames > 1 and stacked is False else 1
    total: int | None = 0
    for key in keys:
        read = _check_reader(f, f'spec.readers.{key}', readers[key])
        total = None if total is None or read is None else total + read * files
    if total is not None and total != channels:
        raise f.bad('input.channels', channels, f'{total}, the channels that spec.readers read')


def _check_reader(f: _Fields, field: str, args: Any) -> int | None:
    """One file's reader arguments (:class:`~geospatial_mm.io.band_reader.BandReader`).

    Returns the bands it reads (None: every band of the file).
    """
    if not isinstance(args, dict) or not set(args) <= set(READER_ARGS):
        raise f.bad(field, args, f'reader arguments among {list(READER_ARGS)}')
    bands, groups = args.get('bands'), args.get('frames')
    if groups is not None:
        if not isinstance(groups, list) or not groups or len({len(g) if isinstance(g, list) else -1
                                                              for g in groups}) != 1:
            raise f.bad(f'{field}.frames', groups, 'band groups of equal length')
        bands = [b for g in groups for b in g]
    if bands is not None:
        if not f.list_of(f'{field}.bands', bands):
            raise f.bad(f'{field}.bands', bands, 'at least one band')
        for i, band in enumerate(bands):
            f.integer(f'{field}.bands[{i}]', 0, LIMITS['band_index'], band)
    for key in ('scale', 'offset', 'nan_replace'):
        f.number(f'{field}.{key}', args.get(key))
    nodata = args.get('nodata')
    if not (isinstance(nodata, float) and math.isnan(nodata)):  # NaN is a float raster's nodata value
        f.number(f'{field}.nodata', nodata)
    f.number(f'{field}.nodata_replace', args.get('nodata_replace', 0.0), optional=False)
    clip = args.get('clip')
    if clip is not None:
        f.list_of(f'{field}.clip', clip, 2)
        low, high = (f.number(f'{field}.clip', c, optional=False) for c in clip)
        if low > high:
            raise f.bad(f'{field}.clip', clip, '[low, high] with low <= high')
    for key in ('nan_is_nodata', 'to_float32'):
        if not isinstance(args.get(key, True), bool):
            raise f.bad(f'{field}.{key}', args[key], 'true or false')
    if args.get('backend', 'rasterio') not in BACKENDS:
        raise f.bad(f'{field}.backend', args['backend'], f'one of {list(BACKENDS)}')
    return len(bands) if bands is not None else None
