"""A data raster read on the grid of its class raster, and the class raster's values.

The class raster (one band of integers: 0 background, 1..K the classes, its nodata ignored) sets the grid: the data
raster is read on the class raster's grid, by a plain window when the two grids line up (same CRS and pixel size,
origins a whole number of pixels apart: the data is clipped, as ``rio clip --like`` does) and through a GDAL warped
view (:class:`rasterio.vrt.WarpedVRT`) otherwise.
"""
from __future__ import annotations

import contextlib
import os
from typing import Sequence

import numpy as np

from geospatial_mm.io import RasterError

RESAMPLING = ('nearest', 'bilinear', 'cubic', 'average')


def check_class_values(values: np.ndarray, path: str) -> np.ndarray:
    """``values`` of the class raster ``path``, refused when they hold non-integer (finite) floats."""
    if values.dtype.kind == 'f':
        finite = values[np.isfinite(values)]
        if finite.size and not np.array_equal(finite, np.round(finite)):
            raise RasterError(f'{path}: holds non-integer values (dtype {values.dtype}); expected class values')
    return values


def valid_pixels(values: np.ndarray, nodata: float | None) -> np.ndarray:
    """Pixels of class values that are not ``nodata`` (nor NaN)."""
    valid = np.ones(values.shape, bool)
    if values.dtype.kind == 'f':
        valid &= np.isfinite(values)
    if nodata is not None and not np.isnan(nodata):
        valid &= values != nodata
    return valid


class LabelGridReader:
    """The class raster and the data raster read on the class raster's grid (``with`` block).

    ``method`` says how: ``'window'`` (the grids line up; ``offset`` is the class raster's first pixel in the data
    raster) or ``'warp'`` (resampled with ``resampling``, one of :data:`RESAMPLING`, through a WarpedVRT).
    Windows are ``(row, col, height, width)`` on the class raster's grid.
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
        """The class values of ``window``; non-integer values are an error."""
        from rasterio.windows import Window
        row, col, h, w = window
        return check_class_values(self.label.read(1, window=Window(col, row, w, h)), self.label_path)

    def label_valid(self, values: np.ndarray) -> np.ndarray:
        """Pixels that are not the class raster's nodata (nor NaN)."""
        return valid_pixels(values, self.label.nodata)

    def read_data(self, window: tuple[int, int, int, int], bands: Sequence[int]) -> np.ndarray:
        """The 0-based ``bands`` of the data raster over ``window`` of the class raster's grid."""
        from rasterio.windows import Window
        row, col, h, w = window
        return self.source.read([b + 1 for b in bands], window=Window(col + self.offset[1], row + self.offset[0], w, h))

    def tile_transform(self, window: tuple[int, int, int, int]):
        """The geotransform of ``window`` of the class raster's grid."""
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
