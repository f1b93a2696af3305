"""The model files of tools/export.py: a ``torch.export`` program (``.pt2``) or an ONNX model (``.onnx``) with the
metadata that makes them self-describing, stored inside the file.

The program maps a batch of tiles as read from the rasters, ``(B, C, H, W)`` float32 in the units the config's
loader produces (bands, frames, scale, offset, clip, NaN and nodata handling: :class:`~geospatial_mm.io.band_reader.
BandReader`), to ``(B, K, H, W)`` float32 logits; the normalisation, the frames' layout and the model are inside it.
The metadata (JSON) says everything else the streaming predictor needs: what to read and how (``spec``), the tile and
stride, classes and palette, how logits become classes and probabilities, and where the model came from. In a
``.pt2`` it is the archive's extra file ``geospatial_mm.json``; in an ``.onnx`` the model's metadata property
``geospatial_mm``.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

FORMAT = 'geospatial_mm.exported_model'
FORMAT_VERSION = 1
METADATA_NAME = 'geospatial_mm.json'  # the .pt2 archive's extra file
ONNX_METADATA_KEY = 'geospatial_mm'  # the .onnx model's metadata property
SUFFIXES = {'.pt2': 'torch', '.onnx': 'onnx'}


class ExportedModelError(ValueError):
    """A model file that is not one tools/export.py wrote, or of a version this package cannot read."""


def runtime_of(path: str | Path) -> str:
    """``'torch'`` for a ``.pt2`` file, ``'onnx'`` for an ``.onnx`` file."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ExportedModelError(f'{path}: an exported model is a .pt2 (torch.export) or .onnx file (tools/export.py)')
    return SUFFIXES[suffix]


def read_pt2_metadata(path: str | Path) -> dict:
    """The metadata of a ``.pt2`` archive, read from the zip file itself (no torch needed)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(f'/extra/{METADATA_NAME}')]
            if not names:
                raise ExportedModelError(f'{path}: a torch.export archive without {METADATA_NAME}: not written by '
                                         'tools/export.py')
            return parse_metadata(archive.read(names[0]).decode('utf-8'), path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportedModelError(f'{path}: not a readable .pt2 archive ({exc})') from exc


def parse_metadata(text: str, path: str | Path) -> dict:
    """The metadata JSON, checked for its format and version."""
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportedModelError(f'{path}: its metadata is not valid JSON ({exc})') from exc
    if not isinstance(meta, dict) or meta.get('format') != FORMAT:
        raise ExportedModelError(f'{path}: its metadata is not that of {FORMAT}')
    if meta.get('format_version') != FORMAT_VERSION:
        raise ExportedModelError(f'{path}: exported model format version {meta.get("format_version")}, but this '
                                 f'package reads version {FORMAT_VERSION}: export the model again')
    return meta
