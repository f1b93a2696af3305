"""Data rasters and their label rasters -> GeoTIFF chips and split files, in the layout ``GeospatialSegDataset``
reads (semantic segmentation).

Each data raster is read on its label raster's grid, with the alignment, clipping and resampling rules of
:class:`~geospatial_mm.converters.label_grid.LabelGridReader` (as for ``raster_to_coco``). The label raster is cut
into *regions* - horizontal stripes or square blocks of ``region`` pixels - and every region goes, at random but
reproducibly (``seed``), to one split so that the splits get about the ``fractions`` asked for. Chips of ``size``
pixels with ``overlap`` pixels between neighbours are cut on the package's tile grid
(:func:`geospatial_mm.io.tiles.tile_starts`) *inside* each region, so that chips of different splits share no pixel.
``split='random'`` instead cuts one grid over the whole raster and draws each chip's split (chips of different
splits then share pixels where chips overlap).

A chip is kept when at least ``min_valid`` of its pixels are valid: not nodata in any band of the data raster, not
nodata in the label raster. Written under the output folder::

    img_dir/<label raster name>_r<row>_c<col>.tif     the data chip (bands ``bands``), georeferenced
    ann_dir/<label raster name>_r<row>_c<col>.tif     the label chip, same name
    splits/<split>.txt                                the ids of each split (one per line)
    chips.json                                        sources, options and counts
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from geospatial_mm.io import RasterError, check_bands
from geospatial_mm.io.atomic import write_json_atomic, write_text_atomic
from geospatial_mm.io.geotiff import write_geotiff
from geospatial_mm.io.tiles import tile_starts
from .label_grid import RESAMPLING, LabelGridReader, valid_pixels

SPLIT_MODES = ('stripes', 'blocks', 'random', 'none')


@dataclass
class ChipOptions:
    """How to cut the rasters (see the module docstring and tools/raster_to_chips.py)."""
    size: int = 256
    overlap: int = 0
    bands: Sequence[int] | None = None
    split: str = 'blocks'
    fractions: dict = field(default_factory=lambda: dict(train=0.7, val=0.15, test=0.15))
    region: int | None = None  # pixels of a stripe or block; default 4 chips
    min_valid: float = 0.0
    resampling: str = 'nearest'
    seed: int = 0

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f'the chip size must be positive, got {self.size}')
        if not 0 <= self.overlap < self.size:
            raise ValueError(f'the overlap must be at least 0 and less than the chip size {self.size}, got '
                             f'{self.overlap}')
        if self.split not in SPLIT_MODES:
            raise ValueError(f'split must be one of {SPLIT_MODES}, got {self.split!r}')
        if self.resampling not in RESAMPLING:
            raise ValueError(f'resampling must be one of {RESAMPLING}, got {self.resampling!r}')
        if not 0 <= self.min_valid <= 1:
            raise ValueError(f'min_valid is a fraction of the chip, got {self.min_valid}')
        fractions = {k: float(v) for k, v in self.fractions.items() if float(v) > 0}
        if self.split != 'none' and (not fractions or abs(sum(fractions.values()) - 1) > 1e-6):
            raise ValueError(f'the split fractions {self.fractions} must be positive and sum to 1')
        self.fractions = fractions
        self.region = int(self.region or 4 * self.size)
        if self.region < self.size:
            raise ValueError(f'a region of {self.region} px cannot hold a chip of {self.size} px')

    @property
    def stride(self) -> int:
        return self.size - self.overlap


@dataclass
class ChipReport:
    """What :func:`make_chips` wrote: the ids of each split, the chips left out, the files."""
    splits: dict = field(default_factory=dict)  # split -> ids
    skipped: int = 0  # chips with too few valid pixels
    files: dict = field(default_factory=dict)

    @property
    def counts(self) -> dict:
        return {name: len(ids) for name, ids in self.splits.items()}


def region_starts(length: int, region: int, size: int) -> list[tuple[int, int]]:
    """``[(start, stop)]`` of consecutive regions of ``region`` pixels over ``length``; a last one shorter than a chip
    joins the one before it."""
    bounds = [(start, min(start + region, length)) for start in range(0, length, region)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < size:
        bounds[-2:] = [(bounds[-2][0], bounds[-1][1])]
    return bounds


def regions(height: int, width: int, options: ChipOptions) -> list[tuple[int, int, int, int]]:
    """The split regions ``(row0, row1, col0, col1)`` of a raster."""
    rows = region_starts(height, options.region, options.size)
    if options.split == 'stripes':
        return [(r0, r1, 0, width) for r0, r1 in rows]
    if options.split == 'blocks':
        return [(r0, r1, c0, c1) for r0, r1 in rows for c0, c1 in region_starts(width, options.region, options.size)]
    return [(0, height, 0, width)]


def assign_splits(n: int, fractions: dict, rng: np.random.Generator) -> list[str]:
    """A split for each of ``n`` items (regions or chips), in random order, so that each split gets the share of
    ``fractions`` nearest to it (at least one item for every split when ``n`` allows)."""
    names = list(fractions)
    counts = [int(round(fractions[k] * n)) for k in names]
    while sum(counts) > n:
        counts[int(np.argmax(counts))] -= 1
    while sum(counts) < n:
        counts[int(np.argmax([fractions[k] * n - c for k, c in zip(names, counts)]))] += 1
    for i, c in enumerate(counts):  # every split at least once if possible
        if c == 0 and n >= len(names):
            donor = int(np.argmax(counts))
            counts[donor] -= 1
            counts[i] += 1
    order = [name for name, c in zip(names, counts) for _ in range(c)]
    return [order[i] for i in rng.permutation(n)]


def chip_windows(region: tuple[int, int, int, int], size: int, stride: int) -> Iterator[tuple[int, int, int, int]]:
    """Windows ``(row, col, h, w)`` of the chips of a region (the package's tile grid inside it)."""
    r0, r1, c0, c1 = region
    h, w = min(size, r1 - r0), min(size, c1 - c0)
    for r in tile_starts(r1 - r0, size, stride):
        for c in tile_starts(c1 - c0, size, stride):
            yield r0 + r, c0 + c, h, w


def _data_valid(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """Pixels that are not nodata (nor NaN) in any band of a data window."""
    valid = np.ones(data.shape[1:], bool)
    if data.dtype.kind == 'f':
        valid &= np.isfinite(data).all(axis=0)
    if nodata is not None and not np.isnan(nodata):
        valid &= ~(data == np.asarray(nodata).astype(data.dtype)).any(axis=0)
    return valid


def make_chips(pairs: Sequence[tuple[str, str]], out_dir: str | os.PathLike, options: ChipOptions) -> ChipReport:
    """Cut every ``(data raster, label raster)`` pair into chips under ``out_dir`` (see the module docstring)."""
    out_dir = Path(out_dir)
    stems = [Path(label).name.rsplit('.', 1)[0] for _, label in pairs]
    if len(set(stems)) != len(stems):
        raise ValueError(f'label rasters with the same name would write the same chips: {stems}')
    rng = np.random.default_rng(options.seed)
    report = ChipReport(splits={name: [] for name in (options.fractions if options.split != 'none' else ['all'])})
    sources = []
    for (data_path, label_path), stem in zip(pairs, stems):
        with LabelGridReader(data_path, label_path, options.resampling) as reader:
            bands = check_bands(data_path, options.bands, reader.data.count)
            descriptions = [reader.data.descriptions[b] or f'band_{b}' for b in bands]
            areas = regions(reader.height, reader.width, options)
            if options.split == 'none':
                area_splits = ['all'] * len(areas)
            elif options.split == 'random':
                area_splits = [None]  # drawn per chip below
            else:
                area_splits = assign_splits(len(areas), options.fractions, rng)
            windows = [(window, split) for area, split in zip(areas, area_splits)
                       for window in chip_windows(area, options.size, options.stride)]
            if options.split == 'random':
                windows = [(w, s) for (w, _), s in zip(windows, assign_splits(len(windows), options.fractions, rng))]
            sources.append(dict(data=os.fspath(data_path), label=os.fspath(label_path), method=reader.method,
                                offset=list(reader.offset), regions=len(areas)))
            for window, split in windows:
                label = reader.read_label(window)
                data = reader.read_data(window, bands)
                valid = valid_pixels(label, reader.label.nodata) & _data_valid(data, reader.data.nodata)
                if valid.mean() < options.min_valid or not valid.any():
                    report.skipped += 1
                    continue
                row, col, h, w = window
                chip_id = f'{stem}_r{row:05d}_c{col:05d}'
                transform = reader.tile_transform(window)
                write_geotiff(out_dir / 'img_dir' / f'{chip_id}.tif', data, crs=reader.label.crs,
                              transform=transform, nodata=reader.data.nodata, band_descriptions=descriptions)
                write_geotiff(out_dir / 'ann_dir' / f'{chip_id}.tif', label[None], crs=reader.label.crs,
                              transform=transform, nodata=reader.label.nodata, band_descriptions=['label'])
                report.splits[split].append(chip_id)
    if not any(report.splits.values()):
        raise RasterError(f'no chip of {options.size} px has {options.min_valid:.0%} valid pixels in '
                          f'{[label for _, label in pairs]}')
    for name, ids in report.splits.items():
        path = out_dir / 'splits' / f'{name}.txt'
        write_text_atomic(path, ''.join(f'{i}\n' for i in ids))
        report.files[name] = path
    summary = dict(sources=sources, size=options.size, overlap=options.overlap, split=options.split,
                   fractions=options.fractions, region=options.region, min_valid=options.min_valid,
                   bands=list(options.bands) if options.bands is not None else None, seed=options.seed,
                   counts=report.counts, skipped=report.skipped)
    report.files['summary'] = write_json_atomic(out_dir / 'chips.json', summary)
    return report


def cfg_options(out_dir: str | os.PathLike, report: ChipReport) -> list[str]:
    """``--cfg-options`` that point a config built on ``GeospatialSegDataset`` at the chips: data root, folders and
    the split file of each of its dataloaders (train, val and test, the last two falling back on each other)."""
    out_dir = os.path.abspath(out_dir)
    names = list(report.splits)
    train = 'train' if 'train' in names else names[0]
    val = 'val' if 'val' in names else ('test' if 'test' in names else train)
    test = 'test' if 'test' in names else val
    options = []
    for loader, split in (('train_dataloader', train), ('val_dataloader', val), ('test_dataloader', test)):
        options += [f'{loader}.dataset.data_root={out_dir}', f'{loader}.dataset.data_prefix.img_path=img_dir',
                    f'{loader}.dataset.data_prefix.seg_map_path=ann_dir',
                    f'{loader}.dataset.ann_file=splits/{split}.txt']
    return options
