"""Per-band statistics of rasters for normalisation: mean, standard deviation, min, max and percentiles.

Rasters are read window by window (memory is set by the window, not the raster), and each window's values go
through a conversion - the identity, or a loader's own ``convert`` (scale, clip, offset, nodata), so that the
statistics are those of what the model sees. A pixel that is nodata in any band (the file's nodata, or the
loader's, and NaN) counts for no band. Mean and standard deviation are exact: windows are merged with the parallel
form of Welford's algorithm in float64 (Chan et al.). Percentiles come from a uniform random sample of the valid
pixels (reservoir sampling, ``sample_size`` per band).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from geospatial_mm.io import RasterError, check_bands, keep_open, read_bands, read_meta

Convert = Callable[[np.ndarray, float | None], tuple[np.ndarray, np.ndarray]]


def identity(data: np.ndarray, nodata: float | None) -> tuple[np.ndarray, np.ndarray]:
    """File values as they are, with the pixels that are nodata (or NaN) in any band."""
    invalid = np.zeros(data.shape[1:], bool)
    if nodata is not None and not np.isnan(nodata):
        invalid |= (data == np.asarray(nodata).astype(data.dtype)).any(axis=0)
    if data.dtype.kind == 'f':
        invalid |= np.isnan(data).any(axis=0)
    return data, invalid


@dataclass
class BandStats:
    """Running statistics of ``bands`` bands."""
    bands: int
    sample_size: int = 100_000
    seed: int = 0
    count: int = 0
    mean: np.ndarray = None
    m2: np.ndarray = None
    minimum: np.ndarray = None
    maximum: np.ndarray = None
    sample: np.ndarray = None
    seen: int = 0  # valid pixels offered to the sample
    rng: np.random.Generator = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.mean = np.zeros(self.bands)
        self.m2 = np.zeros(self.bands)
        self.minimum = np.full(self.bands, np.inf)
        self.maximum = np.full(self.bands, -np.inf)
        self.sample = np.empty((0, self.bands))
        self.rng = np.random.default_rng(self.seed)

    def update(self, values: np.ndarray) -> None:
        """Add ``(n, bands)`` valid pixels."""
        n = values.shape[0]
        if not n:
            return
        values = values.astype(np.float64, copy=False)
        mean = values.mean(axis=0)
        m2 = ((values - mean) ** 2).sum(axis=0)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * n / total
        self.m2 = self.m2 + m2 + delta ** 2 * self.count * n / total
        self.count = total
        self.minimum = np.minimum(self.minimum, values.min(axis=0))
        self.maximum = np.maximum(self.maximum, values.max(axis=0))
        self._sample(values)

    def _sample(self, values: np.ndarray) -> None:
        """Reservoir sampling of whole pixels (Algorithm R, vectorised per window)."""
        n = values.shape[0]
        room = self.sample_size - self.sample.shape[0]
        if room > 0:
            self.sample = np.concatenate([self.sample, values[:room]])
            values, self.seen = values[room:], self.seen + min(room, n)
        if not values.shape[0]:
            return
        positions = self.seen + np.arange(values.shape[0])  # index of each pixel in the stream, from 0
        slots = (self.rng.random(values.shape[0]) * (positions + 1)).astype(np.int64)
        keep = slots < self.sample_size
        self.sample[slots[keep]] = values[keep]
        self.seen += values.shape[0]

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation (as numpy's default and the normalisations use)."""
        return np.sqrt(self.m2 / self.count) if self.count else np.full(self.bands, np.nan)

    def percentiles(self, q: Sequence[float]) -> np.ndarray:
        """``(len(q), bands)`` percentiles of the sample."""
        if not self.sample.shape[0]:
            return np.full((len(q), self.bands), np.nan)
        return np.percentile(self.sample, list(q), axis=0)

    def report(self, percentiles: Sequence[float] = (2, 98)) -> dict:
        pct = self.percentiles(percentiles)
        return dict(pixels=int(self.count), mean=self.mean.tolist(), std=self.std.tolist(),
                    min=self.minimum.tolist(), max=self.maximum.tolist(),
                    percentiles={f'{q:g}': pct[i].tolist() for i, q in enumerate(percentiles)},
                    sampled_pixels=int(self.sample.shape[0]))


def windows(height: int, width: int, size: int = 1024):
    for row in range(0, height, size):
        for col in range(0, width, size):
            yield row, col, min(size, height - row), min(size, width - col)


def raster_band_stats(paths: Sequence[str | os.PathLike], bands: Sequence[int] | None = None,
                      convert: Convert | None = None, nodata: float | None = None, sample_size: int = 100_000,
                      seed: int = 0, window: int = 1024) -> BandStats:
    """Statistics of ``bands`` (0-based; default all) over every raster of ``paths``, windows of ``window`` pixels.

    ``convert(values (C, h, w), file nodata) -> (values, invalid (h, w))`` turns file values into what is measured
    (default: :func:`identity`); ``nodata`` overrides the files' nodata value."""
    convert = convert or identity
    stats = None
    with keep_open():
        for path in paths:
            path = os.fspath(path)
            meta = read_meta(path)
            chosen = check_bands(path, bands, meta.count)
            if stats is None:
                stats = BandStats(len(chosen), sample_size, seed)
            elif len(chosen) != stats.bands:
                raise RasterError(f'{path}: {len(chosen)} bands, the rasters before it have {stats.bands}')
            file_nodata = nodata if nodata is not None else meta.nodata
            for win in windows(meta.height, meta.width, window):
                values, invalid = convert(read_bands(path, chosen, win, meta=meta), file_nodata)
                stats.update(np.asarray(values)[:, ~invalid].T)
    if stats is None:
        raise ValueError('no raster to measure')
    return stats


def raster_files(inputs: Sequence[str | os.PathLike], suffix: str = '.tif') -> list[Path]:
    """The raster files of files and folders (every ``*<suffix>`` file under a folder, in name order).

    Args:
        inputs: files and folders.
        suffix: the file ending of rasters in folders.

    Returns:
        The files.

    Raises:
        FileNotFoundError: an input does not exist, or a folder holds no such file.
    """
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob(f'*{suffix}') if p.is_file() and not p.name.startswith('.'))
            if not found:
                raise FileNotFoundError(f'{path}: no file ends with {suffix!r}')
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f'{path}: no such file or folder')
    return files


def dataset_images(config: str | os.PathLike, dataloader: str = 'train_dataloader',
                   cfg_options: dict | None = None) -> tuple[Any, list[str], Any]:
    """The image files of a config's dataloader's dataset, and the image loader that reads them.

    Args:
        config: the config file (or Config).
        dataloader: which dataloader's dataset.
        cfg_options: config entries to override.

    Returns:
        ``(cfg, paths, loader)``: the merged config, every image file of the dataset, its
        ``LoadGeospatialImageFromFile`` (whose ``convert`` gives what the model sees).

    Raises:
        ValueError: the dataset is not read by one ``LoadGeospatialImageFromFile``.
    """
    from mmengine.registry import DATASETS, TRANSFORMS, init_default_scope

    from geospatial_mm.config import load_config
    from .transforms import LoadGeospatialImageFromFile, loader_class
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    dataset_cfg = dict(cfg[dataloader]['dataset'])
    loaders = [t for t in dataset_cfg.get('pipeline', []) if loader_class(t) is not None]
    if len(loaders) != 1 or not issubclass(loader_class(loaders[0]), LoadGeospatialImageFromFile):
        raise ValueError(f'{config}: {dataloader} reads its images with {[t["type"] for t in loaders]}; band_stats '
                         'measures datasets read by one LoadGeospatialImageFromFile (give the files instead)')
    loader = TRANSFORMS.build(dict(loaders[0]))
    dataset = DATASETS.build(dict(dataset_cfg, pipeline=[], lazy_init=False))
    paths: list[str] = []
    for i in range(len(dataset)):
        path = dataset.get_data_info(i)[loader.path_key]
        paths += [path] if isinstance(path, str) else list(path)
    return cfg, paths, loader


def loader_convert(loader: Any) -> tuple[Convert, list[int] | None]:
    """What an image loader makes of file values, with the frames of a multi-temporal file counted as more pixels of
    the same bands.

    Args:
        loader: a ``LoadGeospatialImageFromFile``.

    Returns:
        ``(convert, bands)``: the conversion and the file bands it reads.
    """
    bands = [b for f in loader.frames for b in f] if loader.frames else loader.bands
    groups = len(loader.frames) if loader.frames else 1

    def convert(data: np.ndarray, nodata: float | None) -> tuple[np.ndarray, np.ndarray]:
        values, invalid = loader.convert(data, nodata)
        if groups > 1:  # frames of one file: every frame's pixels count for the same bands
            values = values.reshape(groups, values.shape[0] // groups, *values.shape[1:])
            values = np.concatenate(list(values), axis=2)
            invalid = np.concatenate([invalid] * groups, axis=1)
        return values, invalid
    return convert, bands


def scaled(scale: float | None = None, offset: float | None = None) -> Convert:
    """File values times ``scale`` plus ``offset`` (either may be None), nodata as :func:`identity` finds it.

    Args:
        scale: the factor.
        offset: the offset, added after scaling.

    Returns:
        The conversion.
    """
    def convert(data: np.ndarray, nodata: float | None) -> tuple[np.ndarray, np.ndarray]:
        values, invalid = identity(data, nodata)
        values = values.astype(np.float64)
        if scale is not None:
            values *= scale
        if offset is not None:
            values += offset
        return values, invalid
    return convert


def normalize_options(cfg: Any, mean: str, std: str) -> list[str]:
    """The ``--cfg-options`` that set these statistics in a config.

    Args:
        cfg: the config.
        mean: the means, as a list literal.
        std: the standard deviations, as a list literal.

    Returns:
        Options for every ``TorchNormalize`` of the config's dataloaders, else for its data preprocessor.
    """
    options = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = (cfg.get(loader) or {}).get('dataset', {}).get('pipeline', [])
        for i, step in enumerate(pipeline):
            if step.get('type') == 'TorchNormalize':
                options += [f'{loader}.dataset.pipeline.{i}.means={mean}', f'{loader}.dataset.pipeline.{i}.stds={std}']
    if not options and 'data_preprocessor' in cfg.get('model', {}):
        options = [f'model.data_preprocessor.mean={mean}', f'model.data_preprocessor.std={std}']
    return options
