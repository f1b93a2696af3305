"""A multi-band raster and its class raster -> GeoTIFF tiles and a COCO instances file (for MMDetection).

The data raster is read on the class raster's grid (:class:`~geospatial_mm.converters.label_grid.LabelGridReader`).
Both are cut into tiles of ``size`` pixels, on the package's tile grid (:func:`geospatial_mm.io.tiles.tile_starts`:
``overlap`` pixels between neighbours, the last tile of a row or column moved back to end at the edge) or at random
positions; tiles with fewer than ``min_positive`` labelled pixels can be left out.

Every connected component of each class inside a tile is one instance (:mod:`geospatial_mm.converters.coco`);
components smaller than ``min_area`` pixels are dropped. Tiles of both rasters are GeoTIFFs in their own data type
with the class raster's CRS and the transform of their window, so every tile stays georeferenced.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from geospatial_mm.io import RasterError, check_bands
from geospatial_mm.io.atomic import write_json_atomic
from geospatial_mm.io.geotiff import write_geotiff
from geospatial_mm.io.tiles import tile_starts
from .coco import CONNECTIVITY, CocoSplit, annotation, component_masks
from .label_grid import RESAMPLING, LabelGridReader, label_values


@dataclass
class TilingOptions:
    """How to cut the rasters (see the module docstring and tools/raster_to_coco.py)."""
    size: int = 256
    overlap: int = 64
    random_tiles: int | None = None  # None: a regular grid; N: N tiles at random positions per raster and split
    min_positive: int = 0
    bands: Sequence[int] | None = None
    min_area: int = 4
    connectivity: int = 8
    seed: int = 0
    resampling: str = 'nearest'

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f'the tile size must be positive, got {self.size}')
        if self.random_tiles is None and not 0 <= self.overlap < self.size:  # random tiles ignore the overlap
            raise ValueError(f'the overlap must be at least 0 and less than the tile size {self.size}, '
                             f'got {self.overlap}')
        if self.connectivity not in CONNECTIVITY:
            raise ValueError(f'connectivity must be 4 or 8, got {self.connectivity}')
        if self.resampling not in RESAMPLING:
            raise ValueError(f'resampling must be one of {RESAMPLING}, got {self.resampling!r}')
        if self.random_tiles is not None and self.random_tiles <= 0:
            raise ValueError(f'the number of random tiles must be positive, got {self.random_tiles}')


def tile_windows(row0: int, row1: int, width: int, options: TilingOptions,
                 rng: np.random.Generator | None = None) -> Iterator[tuple[int, int, int, int]]:
    """Windows ``(row, col, h, w)`` inside rows ``[row0, row1)``: a regular grid, or random positions (drawn until
    the caller stops asking, see :func:`make_coco_tiles`)."""
    height = row1 - row0
    th, tw = min(options.size, height), min(options.size, width)
    if options.random_tiles is None:
        stride = options.size - options.overlap
        for r in tile_starts(height, options.size, stride):
            for c in tile_starts(width, options.size, stride):
                yield row0 + r, c, th, tw
        return
    rng = rng or np.random.default_rng(options.seed)
    while True:
        yield row0 + int(rng.integers(0, height - th + 1)), int(rng.integers(0, width - tw + 1)), th, tw


def split_rows(height: int, val_fraction: float | None) -> dict[str, tuple[int, int]]:
    """Rows of each split: with ``val_fraction``, the bottom part of the raster is 'val', the rest 'train' (no
    tile crosses the line, so the splits share no pixel)."""
    if not val_fraction:
        return {'train': (0, height)}
    if not 0 < val_fraction < 1:
        raise ValueError(f'val_fraction must be between 0 and 1, got {val_fraction}')
    cut = height - int(round(height * val_fraction))
    if cut <= 0 or cut >= height:
        raise ValueError(f'val_fraction {val_fraction} of {height} rows leaves an empty split')
    return {'train': (0, cut), 'val': (cut, height)}


@dataclass
class TilingReport:
    """What :func:`make_coco_tiles` wrote: the COCO file, tile and instance count of each split, and shortfalls
    (random tiles that could not all be found with enough positive pixels)."""
    files: dict = field(default_factory=dict)
    tiles: dict = field(default_factory=dict)
    instances: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


def make_coco_tiles(pairs: Sequence[tuple[str, str]], out_dir: str | os.PathLike, classes: Sequence[str],
                    options: TilingOptions, val_fraction: float | None = None,
                    split: str = 'train') -> TilingReport:
    """Tile every ``(data raster, class raster)`` pair into ``out_dir``.

    Writes ``images/<split>/<class raster name>_r<row>_c<col>.tif`` (data tiles), the class raster's tiles under the
    same names in ``labels/<split>/``, and ``annotations/instances_<split>.json`` for ``split`` (or for 'train' and
    'val' with ``val_fraction``, see :func:`split_rows`); class value ``v`` is category ``v`` named
    ``classes[v - 1]``.
    """
    out_dir = Path(out_dir)
    categories = [dict(id=i, name=name, supercategory='object') for i, name in enumerate(classes, 1)]
    stems = [Path(label).name.rsplit('.', 1)[0] for _, label in pairs]
    if len(set(stems)) != len(stems):
        raise ValueError(f'class rasters with the same name would write the same tiles: {stems}')
    splits: dict[str, CocoSplit] = {}
    report = TilingReport()
    rng = np.random.default_rng(options.seed)
    sources = []
    for (data_path, label_path), stem in zip(pairs, stems):
        with LabelGridReader(data_path, label_path, options.resampling) as reader:
            present = [v for v in label_values(reader) if v != 0]
            unknown = [v for v in present if not 1 <= v <= len(classes)]
            if unknown:
                raise RasterError(f'{label_path}: class values {unknown} found, but {len(classes)} class name(s) '
                                  f'are given (values 1-{len(classes)}, 0 background)')
            bands = check_bands(data_path, options.bands, reader.data.count)
            descriptions = [reader.data.descriptions[b] or f'band_{b}' for b in bands]
            rows = split_rows(reader.height, val_fraction) if val_fraction else {split: (0, reader.height)}
            sources.append(dict(data=os.fspath(data_path), label=os.fspath(label_path), method=reader.method,
                                offset=list(reader.offset)))
            for name, (row0, row1) in rows.items():
                coco = splits.setdefault(name, CocoSplit(name, categories))
                n = _tile_region(reader, coco, out_dir, stem, row0, row1, bands, descriptions, options, rng)
                if options.random_tiles is not None and n < options.random_tiles:
                    report.warnings.append(
                        f'{label_path}: found {n} of {options.random_tiles} random {name} tiles with at least '
                        f'{options.min_positive} positive pixels')
    info = dict(description='tiles of a raster and its class raster (geospatial_mm raster_to_coco)',
                sources=sources, tile_size=options.size, overlap=options.overlap,
                random_tiles=options.random_tiles, min_positive=options.min_positive, min_area=options.min_area,
                connectivity=options.connectivity, bands=list(options.bands) if options.bands is not None else None)
    for name, coco in splits.items():
        path = out_dir / 'annotations' / f'instances_{name}.json'
        write_json_atomic(str(path), coco.to_dict(info))
        report.files[name] = path
        report.tiles[name] = len(coco.images)
        report.instances[name] = len(coco.annotations)
    return report


def _tile_region(reader: LabelGridReader, coco: CocoSplit, out_dir: Path, stem: str, row0: int, row1: int,
                 bands: list[int], descriptions: list[str], options: TilingOptions, rng) -> int:
    """Tile rows ``[row0, row1)`` of one raster pair into ``coco``; returns the number of tiles written."""
    class_values = [c['id'] for c in coco.categories]
    wanted = options.random_tiles
    attempts, written = 0, set()
    for window in tile_windows(row0, row1, reader.width, options, rng):
        if wanted is not None:
            attempts += 1
            if len(written) >= wanted or attempts > 50 * wanted:
                break
        if window in written:  # a random draw of a position already taken
            continue
        label = reader.read_label(window)
        valid = reader.label_valid(label)
        if int(((label != 0) & valid).sum()) < options.min_positive:
            continue
        written.add(window)
        row, col, h, w = window
        file_name = f'{stem}_r{row:05d}_c{col:05d}.tif'
        image_id = len(coco.images) + 1
        transform = reader.tile_transform(window)
        write_geotiff(out_dir / 'images' / coco.name / file_name, reader.read_data(window, bands),
                      crs=reader.label.crs, transform=transform, nodata=reader.data.nodata,
                      band_descriptions=descriptions)
        write_geotiff(out_dir / 'labels' / coco.name / file_name, label[None], crs=reader.label.crs,
                      transform=transform, nodata=reader.label.nodata, band_descriptions=['class'])
        coco.images.append(dict(id=image_id, file_name=file_name, width=w, height=h, window=[row, col, h, w],
                                source=reader.data_path, label=reader.label_path, transform=list(transform)[:6]))
        for value, mask in component_masks(label, valid, class_values, options.connectivity, options.min_area):
            coco.annotations.append(annotation(mask, value, image_id, len(coco.annotations) + 1))
    return len(written)
