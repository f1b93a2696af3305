"""A multi-band raster and its class raster -> GeoTIFF tiles and a COCO instances file (for MMDetection).

The class raster (one band of integers: 0 background, 1..K the classes, its nodata ignored) sets the grid: the data
raster is read on the class raster's grid, by a plain window when the two grids line up (same CRS and pixel size,
origins a whole number of pixels apart: the data is clipped, as ``rio clip --like`` does) and through a GDAL warped
view (:class:`rasterio.vrt.WarpedVRT`) otherwise. Both are cut into tiles of ``size`` pixels, on a regular grid
with ``overlap`` pixels between neighbours (the last tile of a row or column moved back to end at the edge) or at
random positions; tiles with fewer than ``min_positive`` labelled pixels can be left out.

Every connected component of each class inside a tile is one instance. Its segmentation is a COCO polygon when one
outline without holes reproduces the component exactly (checked by rasterising it with pycocotools), otherwise -
holes, parts touching only at a corner - a COCO RLE of the exact mask. Components smaller than ``min_area`` pixels
are dropped. Tiles of both rasters are GeoTIFFs in their own data type with the class raster's CRS and the transform
of their window, so every tile stays georeferenced.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from geospatial_mm.io import RasterError, check_bands
from geospatial_mm.io.atomic import write_json_atomic
from geospatial_mm.io.geotiff import GeoTiffWriter
from geospatial_mm.io.tiles import tile_starts

CONNECTIVITY = {4: np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]), 8: np.ones((3, 3), int)}
RESAMPLING = ('nearest', 'bilinear', 'cubic', 'average')


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


# ---------------------------------------------------------------------------------------------- reading
class LabelGridReader:
    """The class raster and the data raster read on the class raster's grid (``with`` block).

    ``method`` says how: ``'window'`` (the grids line up; ``offset`` is the class raster's first pixel in the data
    raster) or ``'warp'`` (resampled with ``resampling`` through a WarpedVRT).
    """

    def __init__(self, data_path: str | os.PathLike, label_path: str | os.PathLike, resampling: str = 'nearest'):
        self.data_path, self.label_path = os.fspath(data_path), os.fspath(label_path)
        self.resampling = resampling
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> 'LabelGridReader':
        import rasterio
        from rasterio.errors import RasterioError
        for path in (self.data_path, self.label_path):
            if not os.path.isfile(path):
                raise RasterError(f'{path}: file not found')
        try:
            self.data = self._stack.enter_context(rasterio.open(self.data_path))
            self.label = self._stack.enter_context(rasterio.open(self.label_path))
        except RasterioError as exc:
            self._stack.close()
            raise RasterError(f'not a readable raster ({exc})') from None
        try:
            self._check_label()
            self.method, self.offset, self.source = self._align()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    @property
    def height(self) -> int:
        return self.label.height

    @property
    def width(self) -> int:
        return self.label.width

    @property
    def georeferenced(self) -> bool:
        return not self.label.transform.is_identity

    def _check_label(self) -> None:
        if self.label.count != 1:
            raise RasterError(f'{self.label_path}: a class raster has one band of class values, found '
                              f'{self.label.count} bands')
        if len(set(self.data.dtypes)) != 1:
            raise RasterError(f'{self.data_path}: bands have different data types {sorted(set(self.data.dtypes))}')

    def _align(self):
        data, label = self.data, self.label
        if label.transform.is_identity or data.transform.is_identity or data.crs is None or label.crs is None:
            if (data.height, data.width) != (label.height, label.width):
                raise RasterError(
                    f'{self.data_path}: {data.height}x{data.width} pixels, the class raster {self.label_path} has '
                    f'{label.height}x{label.width}, and without a CRS and transform on both they cannot be aligned')
            return 'window', (0, 0), data
        a, b, c, d, e, f = tuple(data.transform)[:6]
        la, lb, lc, ld, le, lf = tuple(label.transform)[:6]
        same_crs = data.crs == label.crs
        same_pixels = np.allclose([a, b, d, e], [la, lb, ld, le], rtol=1e-9, atol=1e-12)
        if same_crs and same_pixels and b == 0 and d == 0:
            col = (lc - c) / a
            row = (lf - f) / e
            if abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6:
                row, col = int(round(row)), int(round(col))
                if row < 0 or col < 0 or row + label.height > data.height or col + label.width > data.width:
                    raise RasterError(
                        f'{self.data_path}: does not cover the class raster {self.label_path}: the class raster '
                        f'starts at data pixel (row {row}, col {col}) and spans {label.height}x{label.width} pixels, '
                        f'the data has {data.height}x{data.width}')
                return 'window', (row, col), data
        self._check_coverage()
        from rasterio.enums import Resampling
        from rasterio.vrt import WarpedVRT
        vrt = self._stack.enter_context(WarpedVRT(
            data, crs=label.crs, transform=label.transform, width=label.width, height=label.height,
            resampling=Resampling[self.resampling]))
        return 'warp', (0, 0), vrt

    def _check_coverage(self) -> None:
        from rasterio.warp import transform_bounds
        left, bottom, right, top = transform_bounds(self.label.crs, self.data.crs, *self.label.bounds)
        d = self.data.bounds
        tol_x, tol_y = abs(self.data.transform.a), abs(self.data.transform.e)
        if left < d.left - tol_x or right > d.right + tol_x or bottom < d.bottom - tol_y or top > d.top + tol_y:
            raise RasterError(
                f'{self.data_path}: does not cover the class raster {self.label_path}: its extent in the data\'s CRS '
                f'is ({left:.3f}, {bottom:.3f}, {right:.3f}, {top:.3f}), the data covers ({d.left:.3f}, '
                f'{d.bottom:.3f}, {d.right:.3f}, {d.top:.3f})')

    def read_label(self, window: tuple[int, int, int, int]) -> np.ndarray:
        from rasterio.windows import Window
        row, col, h, w = window
        values = self.label.read(1, window=Window(col, row, w, h))
        if values.dtype.kind == 'f':
            finite = values[np.isfinite(values)]
            if finite.size and not np.array_equal(finite, np.round(finite)):
                raise RasterError(f'{self.label_path}: holds non-integer values (dtype {values.dtype}); expected '
                                  'class values')
        return values

    def label_valid(self, values: np.ndarray) -> np.ndarray:
        """Pixels that are not the class raster's nodata (nor NaN)."""
        valid = np.ones(values.shape, bool)
        nodata = self.label.nodata
        if values.dtype.kind == 'f':
            valid &= np.isfinite(values)
        if nodata is not None and not np.isnan(nodata):
            valid &= values != nodata
        return valid

    def read_data(self, window: tuple[int, int, int, int], bands: Sequence[int]) -> np.ndarray:
        from rasterio.windows import Window
        row, col, h, w = window
        return self.source.read([b + 1 for b in bands], window=Window(col + self.offset[1], row + self.offset[0], w, h))

    def tile_transform(self, window: tuple[int, int, int, int]):
        from rasterio.windows import Window
        from rasterio.windows import transform as window_transform
        row, col, h, w = window
        return window_transform(Window(col, row, w, h), self.label.transform)


def label_values(reader: LabelGridReader, block_rows: int = 1024) -> list[int]:
    """The class values present in the class raster (nodata excluded), read in bands of rows."""
    values: set = set()
    for row in range(0, reader.height, block_rows):
        window = (row, 0, min(block_rows, reader.height - row), reader.width)
        data = reader.read_label(window)
        values.update(np.unique(data[reader.label_valid(data)]).tolist())
    return sorted(int(v) for v in values)


# ---------------------------------------------------------------------------------------------- tiles
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


# ---------------------------------------------------------------------------------------------- instances
def component_masks(label: np.ndarray, valid: np.ndarray, classes: Sequence[int], connectivity: int = 8,
                    min_area: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """``(class value, boolean mask)`` of every connected component of each class with at least ``min_area``
    pixels, in class order and then in scan order of the components' first pixels."""
    from scipy import ndimage
    for value in classes:
        components, n = ndimage.label((label == value) & valid, structure=CONNECTIVITY[connectivity])
        if not n:
            continue
        areas = np.bincount(components.ravel(), minlength=n + 1)
        for index in range(1, n + 1):
            if areas[index] >= min_area:
                yield value, components == index


def encode_segmentation(mask: np.ndarray) -> dict | list:
    """A COCO segmentation of ``mask``: ``[polygon]`` when one outline without holes rasterises back to exactly the
    mask under pycocotools, otherwise an RLE ``{'size': [h, w], 'counts': str}`` of the exact mask."""
    from pycocotools import mask as mask_utils
    from rasterio.features import shapes
    h, w = mask.shape
    m = mask.astype(np.uint8)
    outlines = [geom['coordinates'] for geom, _ in shapes(m, mask=mask, connectivity=8)]
    if len(outlines) == 1 and len(outlines[0]) == 1:  # one polygon, no interior ring
        polygon = [float(v) for xy in outlines[0][0] for v in xy]
        if len(polygon) >= 6:
            decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([polygon], h, w)))
            if np.array_equal(decoded.astype(bool), mask):
                return [polygon]
    rle = mask_utils.encode(np.asfortranarray(m))
    return {'size': [int(h), int(w)], 'counts': rle['counts'].decode('ascii')}


def annotation(mask: np.ndarray, category_id: int, image_id: int, ann_id: int) -> dict:
    rows, cols = np.nonzero(mask)
    x0, y0 = int(cols.min()), int(rows.min())
    bbox = [x0, y0, int(cols.max()) - x0 + 1, int(rows.max()) - y0 + 1]
    return dict(id=ann_id, image_id=image_id, category_id=int(category_id), segmentation=encode_segmentation(mask),
                area=int(mask.sum()), bbox=[float(v) for v in bbox], iscrowd=0)


# ---------------------------------------------------------------------------------------------- writing
def write_tile(path: Path, data: np.ndarray, crs, transform, nodata, descriptions) -> None:
    """A GeoTIFF tile, written under a temporary name and renamed when complete."""
    writer = GeoTiffWriter(path, height=data.shape[1], width=data.shape[2], count=data.shape[0],
                                dtype=data.dtype.name, crs=crs, transform=transform, nodata=nodata,
                                band_descriptions=descriptions)
    with writer:
        writer.write(data, 0)
        writer.commit()


@dataclass
class CocoSplit:
    """The COCO dictionary of one split being filled."""
    name: str
    categories: list
    images: list = field(default_factory=list)
    annotations: list = field(default_factory=list)

    def to_dict(self, info: dict) -> dict:
        return dict(info=dict(info, split=self.name), licenses=[], images=self.images, annotations=self.annotations,
                    categories=self.categories)


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
    same names in ``labels/<split>/``, and ``annotations/instances_<split>.json`` for ``split`` (or for 'train' and 'val' with ``val_fraction``, see :func:`split_rows`); class value ``v`` is
    category ``v`` named ``classes[v - 1]``.
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
        write_tile(out_dir / 'images' / coco.name / file_name, reader.read_data(window, bands), reader.label.crs,
                   transform, reader.data.nodata, descriptions)
        write_tile(out_dir / 'labels' / coco.name / file_name, label[None], reader.label.crs, transform,
                   reader.label.nodata, ['class'])
        coco.images.append(dict(id=image_id, file_name=file_name, width=w, height=h, window=[row, col, h, w],
                                source=reader.data_path, label=reader.label_path, transform=list(transform)[:6]))
        for value, mask in component_masks(label, valid, class_values, options.connectivity, options.min_area):
            coco.annotations.append(annotation(mask, value, image_id, len(coco.annotations) + 1))
    return len(written)
