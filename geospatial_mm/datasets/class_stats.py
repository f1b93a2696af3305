"""Pixel counts per class of label rasters, and weights from inverse class frequency.

Used by ``tools/class_weights.py`` (focal-loss weights from the training masks, written to a JSON file) and by
:class:`~geospatial_mm.datasets.rare_class_weighted_sampler.RareClassWeightedSampler` (which images hold rare classes).
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Sequence

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


def dataset_of_config(config: str | os.PathLike, dataloader: str = 'train_dataloader',
                      cfg_options: dict | None = None) -> tuple[Any, dict]:
    """The dataset of a config's dataloader, with no pipeline (only its file lists are needed).

    Args:
        config: the config file (or Config).
        dataloader: which dataloader's dataset.
        cfg_options: config entries to override.

    Returns:
        ``(dataset, dataloader_cfg)``.

    Raises:
        KeyError: the config has no such dataloader.
    """
    from mmengine.registry import DATASETS, init_default_scope

    from geospatial_mm.config import load_config
    cfg = load_config(config, cfg_options)
    if dataloader not in cfg:
        raise KeyError(f'{config}: no {dataloader} in the config')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    loader = cfg[dataloader]
    dataset_cfg = loader['dataset'].copy()
    dataset_cfg['pipeline'] = []  # only the file lists are needed
    return DATASETS.build(dataset_cfg), loader


def _histogram(job: tuple[str, int, int]) -> np.ndarray:
    """:func:`label_histogram` of one ``(path, num_classes, ignore_index)`` (a process pool's task)."""
    return label_histogram(*job)


def class_statistics(dataset: Any, label_keys: list[str], num_classes: dict[str, int], ignore_index: int = 255,
                     power: float = 1.0, workers: int = 1) -> dict[str, dict]:
    """Pixel counts, frequencies and inverse-frequency weights of the classes of a dataset's label rasters.

    Args:
        dataset: an mmengine dataset whose data infos name the label files.
        label_keys: the path keys of the labels to count (``seg_map_path``, ...).
        num_classes: the classes of a label key, where the dataset's metainfo does not say (else found from the
            values seen).
        ignore_index: the label value that is not counted.
        power: weights are ``(1 / frequency) ** power``, normalised to sum to 1.
        workers: processes reading the labels.

    Returns:
        Per label key: ``num_classes``, ``classes``, ``pixel_counts``, ``frequencies``, ``weights`` and the counts of
        each sample (``per_sample``, as :class:`~.rare_class_weighted_sampler.RareClassWeightedSampler` reads them).

    Raises:
        ValueError: the dataset is empty.
        KeyError: a sample has no such label key.
        RasterError: a label raster holds values outside the classes.
    """
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    if not infos:
        raise ValueError('the dataset is empty')
    classes = list(dataset.metainfo.get('classes') or [])
    labels = {}
    for key in label_keys:
        missing = [info.get('img_path') for info in infos if key not in info]
        if missing:
            raise KeyError(f'sample {missing[0]} has no {key!r}; the dataset gives '
                           f'{sorted(k for k in infos[0] if k.endswith("_path"))}')
        k = num_classes.get(key) or (len(classes) if key == 'seg_map_path' and classes else None)
        bound = k if k is not None else ignore_index  # every value below the ignore index counts when unknown
        jobs = [(info[key], bound, ignore_index) for info in infos]
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                rows = list(pool.map(_histogram, jobs, chunksize=16))
        else:
            rows = [_histogram(job) for job in jobs]
        counts = np.stack(rows)
        if k is None:
            seen = np.nonzero(counts.sum(0))[0]
            k = int(seen.max()) + 1 if seen.size else 1
            counts = counts[:, :k]
        total = counts.sum(0)
        labels[key] = dict(
            num_classes=k, classes=classes if key == 'seg_map_path' and len(classes) == k else None,
            pixel_counts=total.tolist(), frequencies=(total / max(total.sum(), 1)).tolist(),
            weights=inverse_frequency_weights(total, power),
            per_sample={sample_key(info, key): row.tolist() for info, row in zip(infos, counts)})
    return labels
