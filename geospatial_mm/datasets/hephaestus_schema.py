"""Hephaestus InSAR annotations as published: the classes, the annotation JSON (validated), and the interferogram
PNGs of a labelled pair.

The raw dataset is laid out as ``<root>/<FrameID>/interferograms/<primary>_<secondary>/{InSAR.png, Coherence.png}``
with one annotation JSON per labelled interferogram. Polygon vertices are pixel coordinates of the interferogram,
``x`` the column and ``y`` the row, given either flat (``[x0, y0, x1, y1, ...]``) or as pairs
(``[[x0, y0], [x1, y1], ...]``); a polygon may also be a list of flat parts. The i-th polygon has the i-th
``activity_type`` and ``intensity_level`` (a single intensity applies to every polygon). The crops that
:mod:`geospatial_mm.converters.hephaestus` writes carry a label record whose multi-label targets
:func:`multilabel_targets` reads.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from geospatial_mm.errors import GeospatialMMError
from geospatial_mm.io import RasterError, png

ACTIVITY_CLASSES = ('Mogi', 'Dyke', 'Sill', 'Spheroid', 'Earthquake', 'Unidentified')  # mask values 1-6
INTENSITY_LEVELS = ('Low', 'Medium', 'High')
NO_DEFORMATION = 'Non_Deformation'
DEFORMATION = 'Deformation'
QUALITY_FLAGS = ('corrupted', 'processing_error', 'glacier_fringes', 'orbital_fringes', 'atmospheric_fringes',
                 'low_coherence', 'no_info', 'image_artifacts')
# the multi-label targets of a crop: deformation present, activity types, intensity levels
MULTILABEL_CLASSES = (DEFORMATION,) + ACTIVITY_CLASSES + INTENSITY_LEVELS
INSAR_FILE = 'InSAR.png'
COHERENCE_FILE = 'Coherence.png'
_DATE = re.compile(r'^\d{8}$')


class AnnotationError(GeospatialMMError, ValueError):
    """An annotation or interferogram could not be used: the message names the file, what was expected and found."""


# ------------------------------------------------------------------------------------------------------ reading
@dataclass
class Annotation:
    """One Hephaestus annotation JSON, validated."""
    path: str
    unique_id: int | str
    frame_id: str
    primary_date: str
    secondary_date: str
    label: list[str]
    activity_type: list[str]
    intensity_level: list[str]
    polygons: list[list[np.ndarray]]  # per polygon, its parts as (N, 2) float arrays of (x, y)
    is_crowd: int = 0
    phase: str | None = None
    confidence: float | None = None
    caption: str | None = None
    flags: dict = field(default_factory=dict)

    @property
    def pair(self) -> str:
        return f'{self.primary_date}_{self.secondary_date}'

    def interferogram_dir(self, raw_root: str | os.PathLike) -> str:
        return osp.join(os.fspath(raw_root), self.frame_id, 'interferograms', self.pair)

    def intensity_of(self, index: int) -> str | None:
        """Intensity level of polygon ``index`` (None where the annotation says 'None')."""
        value = self.intensity_level[index] if len(self.intensity_level) > 1 else self.intensity_level[0]
        return None if value == 'None' else value


def _field(path: str, data: dict, name: str, types: type | tuple, default=...):
    if name not in data:
        if default is not ...:
            return default
        raise AnnotationError(f'{path}: the field {name!r} is missing')
    value = data[name]
    if not isinstance(value, types):
        expected = ' or '.join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise AnnotationError(f'{path}: {name!r} must be {expected}, found {type(value).__name__} {value!r}')
    return value


def _string_list(path: str, data: dict, name: str) -> list[str]:
    value = _field(path, data, name, list)
    bad = [v for v in value if not isinstance(v, str)]
    if bad:
        raise AnnotationError(f'{path}: {name!r} must be a list of strings, found {bad[0]!r}')
    return list(value)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_polygon(path: str, index: int, polygon) -> list[np.ndarray]:
    """A polygon of the JSON -> its parts as ``(N, 2)`` arrays of (x, y)."""
    where = f'{path}: segmentation_mask[{index}]'
    if not isinstance(polygon, list) or not polygon:
        raise AnnotationError(f'{where} must be a non-empty list of vertices, found {polygon!r:.80}')
    if all(_is_number(v) for v in polygon):  # flat [x0, y0, x1, y1, ...]
        parts = [polygon]
    elif all(isinstance(v, list) and len(v) == 2 and all(_is_number(c) for c in v) for v in polygon):  # [[x, y], ...]
        parts = [[c for v in polygon for c in v]]
    elif all(isinstance(p, list) and all(_is_number(c) for c in p) for p in polygon):  # several flat parts
        parts = polygon
    else:
        raise AnnotationError(f'{where}: expected [x0, y0, x1, y1, ...], [[x0, y0], ...] or a list of flat parts, '
                              f'found {polygon!r:.80}')
    arrays = []
    for part in parts:
        if len(part) % 2 or len(part) < 6:
            raise AnnotationError(f'{where}: a polygon needs at least 3 (x, y) vertices, found {len(part)} numbers')
        arrays.append(np.asarray(part, dtype=np.float64).reshape(-1, 2))
    return arrays


def read_annotation(path: str | os.PathLike) -> Annotation:
    """Read and check one annotation JSON."""
    path = os.fspath(path)
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        raise AnnotationError(f'{path}: annotation file not found') from None
    except json.JSONDecodeError as exc:
        raise AnnotationError(f'{path}: not valid JSON ({exc})') from None
    if not isinstance(data, dict):
        raise AnnotationError(f'{path}: expected a JSON object, found {type(data).__name__}')
    unique_id = _field(path, data, 'uniqueID', (int, str))
    frame_id = _field(path, data, 'frameID', str)
    dates = [_field(path, data, name, (str, int)) for name in ('primary_date', 'secondary_date')]
    dates = [str(d) for d in dates]
    for name, value in zip(('primary_date', 'secondary_date'), dates):
        if not _DATE.match(value):
            raise AnnotationError(f'{path}: {name} must be a date YYYYMMDD, found {value!r}')
    label = _string_list(path, data, 'label')
    activity = _string_list(path, data, 'activity_type')
    intensity = _string_list(path, data, 'intensity_level')
    raw_polygons = _field(path, data, 'segmentation_mask', list)
    polygons = [parse_polygon(path, i, p) for i, p in enumerate(raw_polygons)]

    unknown = [a for a in activity if a not in ACTIVITY_CLASSES]
    if unknown:
        raise AnnotationError(f'{path}: unknown activity_type {unknown[0]!r}; expected one of {ACTIVITY_CLASSES}')
    if len(activity) != len(polygons):
        raise AnnotationError(f'{path}: {len(polygons)} polygon(s) in segmentation_mask but {len(activity)} '
                              f'activity_type(s); each polygon needs its activity type')
    unknown = [i for i in intensity if i not in INTENSITY_LEVELS + ('None',)]
    if unknown:
        raise AnnotationError(f'{path}: unknown intensity_level {unknown[0]!r}; expected one of '
                              f'{INTENSITY_LEVELS + ("None",)}')
    if polygons and len(intensity) not in (1, len(polygons)):
        raise AnnotationError(f'{path}: {len(polygons)} polygon(s) but {len(intensity)} intensity_level(s); expected '
                              f'one per polygon or a single one for all')
    is_crowd = _field(path, data, 'is_crowd', (int, bool), 0)
    confidence = _field(path, data, 'confidence', (int, float, type(None)), None)
    flags = {}
    for name in QUALITY_FLAGS:
        if name in data:
            flags[name] = _field(path, data, name, (int, float, bool))
    return Annotation(path=path, unique_id=unique_id, frame_id=frame_id, primary_date=dates[0],
                      secondary_date=dates[1], label=label, activity_type=activity, intensity_level=intensity,
                      polygons=polygons, is_crowd=int(is_crowd), phase=data.get('phase'), confidence=confidence,
                      caption=data.get('caption'), flags=flags)


def read_gray_png(path: str | os.PathLike) -> np.ndarray:
    """An interferogram or coherence PNG as a 2-D array (8- or 16-bit grey as stored, colour converted to 8-bit
    luminance, as the original dataset tools read them)."""
    try:
        return png.read_gray_png(path)
    except RasterError as exc:
        raise AnnotationError(str(exc)) from None


def read_interferogram(folder: str | os.PathLike, files: Sequence[str] = (INSAR_FILE, COHERENCE_FILE)) -> np.ndarray:
    """The images of one interferogram folder stacked as ``(H, W, len(files))`` in the files' dtype."""
    folder = os.fspath(folder)
    arrays = [read_gray_png(osp.join(folder, name)) for name in files]
    for name, array in zip(files[1:], arrays[1:]):
        if array.shape != arrays[0].shape:
            raise AnnotationError(f'{osp.join(folder, name)}: size {array.shape[0]}x{array.shape[1]} differs from '
                                  f'{files[0]} ({arrays[0].shape[0]}x{arrays[0].shape[1]})')
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) != 1:
        raise AnnotationError(f'{folder}: the images {list(files)} have different bit depths '
                              f'{sorted(map(str, dtypes))}')
    return np.stack(arrays, axis=-1)


def multilabel_targets(record: dict) -> list[str]:
    """The multi-label class names of a crop record: its label, activity types and intensity levels."""
    return list(record.get('label', [])) + list(record.get('activity_type', [])) + \
        list(record.get('intensity_level', []))
