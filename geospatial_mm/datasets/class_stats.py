"""Pixel counts per class of label rasters, and weights from inverse class frequency.

Used by ``tools/class_weights.py`` (focal-loss weights from the training masks, written to a JSON file) and by
:class:`~geospatial_mm.datasets.rare_class_weighted_sampler.RareClassWeightedSampler` (which images hold rare classes).
"""
from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np

from geospatial_mm.io import RasterError, read_raster


def label_histogram(path: str | os.PathLike, num_classes: int, ignore_index: int = 255, band: int = 0) -> np.ndarray:
    """Pixels of each class ``0 .. num_classes-1`` in band ``band`` of a label raster; ``ignore_index`` is not
    counted, any other value outside the classes is an error naming the file."""
    path = os.fspath(path)
    data, _ = read_raster(path, [band])
    label = data[0]
    if label.dtype.kind == 'f':
        if not np.array_equal(label, np.round(label)):
            raise RasterError(f'{path}: label raster holds non-integer values; expected class indices')
    label = label.astype(np.int64).ravel()
    label = label[label != ignore_index]
    bad = label[(label < 0) | (label >= num_classes)]
    if bad.size:
        raise RasterError(f'{path}: label values {sorted(np.unique(bad).tolist())[:10]} are outside the '
                          f'{num_classes} classes (0-{num_classes - 1}) and not the ignore index {ignore_index}')
    return np.bincount(label, minlength=num_classes).astype(np.int64)


def inverse_frequency_weights(counts: Sequence[int], power: float = 1.0) -> list[float]:
    """Per-class weights proportional to ``(1 / frequency) ** power``, normalised to sum to 1 (so they can serve as
    the per-class ``alpha`` of a focal loss). A class without pixels gets weight 0."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() <= 0:
        raise ValueError('no labelled pixel was counted: cannot derive class weights')
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = (counts.sum() / counts[present]) ** power
    return (weights / weights.sum()).tolist()


def load_class_stats(path: str | os.PathLike, label_key: str) -> dict:
    """The section for ``label_key`` of a statistics file written by ``tools/class_weights.py``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: class statistics file not found (tools/class_weights.py writes it)')
    with open(path) as f:
        stats = json.load(f)
    labels = stats.get('labels') if isinstance(stats, dict) else None
    if not isinstance(labels, dict) or label_key not in labels:
        found = sorted(labels) if isinstance(labels, dict) else type(stats).__name__
        raise ValueError(f'{path}: no statistics for label key {label_key!r}; found {found}')
    section = labels[label_key]
    for key in ('pixel_counts', 'per_sample'):
        if key not in section:
            raise ValueError(f'{path}: the {label_key!r} section has no {key!r}')
    return section


def sample_key(info: dict, label_key: str) -> str:
    """How a sample is named in a statistics file: its ``sample_id`` when the dataset sets one, else its label
    path."""
    return str(info.get('sample_id') or info[label_key])
