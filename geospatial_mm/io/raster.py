"""Reading rasters: header, bands, windows, nodata.

Errors name the file, what was expected and what was found.

Band indices are 0-based everywhere in this package (``bands=[3, 2, 1]`` reads the fourth, third and second band in
that order), as in the configs of the original projects. Arrays come back channels-first ``(C, H, W)`` in the file's
own dtype; conversion to float32 and scaling happen in the loading transforms.

Two backends:

* ``rasterio`` (default): GDAL reads only the strips or tiles that a window touches, so a random crop of a large
  file costs a fraction of a full read.
* ``tifffile``: pure TIFF reading for GeoTIFFs without GDAL's overhead on small files; it decodes the whole first
  page and slices the window out of it. Georeference comes from the GeoTIFF tags (EPSG-coded CRS only).
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Sequence, TypeAlias, TypedDict, TypeVar

import numpy as np
from numpy.typing import NDArray

from geospatial_mm.errors import GeospatialMMError
from .redaction import redact
from .remote import failure_kind, forget, http_status, is_gdal_path, may_be_remote, remote_options, retry_delays

if TYPE_CHECKING:
    from rasterio.io import DatasetReader
    from tifffile import TiffPage

SUPPORTED_DTYPES = ('uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64')
BACKENDS = ('rasterio', 'tifffile')

Transform: TypeAlias = tuple[float, float, float, float, float, float]
"""An affine transform ``(a, b, c, d, e, f)`` as in rasterio: ``x = a * col + b * row + c``, ``y = d * col + e * row
+ f``."""
Window: TypeAlias = tuple[int, int, int, int]
"""A window ``(row_off, col_off, height, width)`` of a raster, in pixels."""


_KEPT = threading.local()
T = TypeVar('T')


@contextlib.contextmanager
def keep_open() -> Iterator[None]:
    """Within this block (in this thread), rasters opened by the readers of this module stay open and are reused.

    Reading many windows of one raster then costs one open, and GDAL's block cache (kept per open dataset) serves
    the blocks that overlapping windows share instead of decoding them again. Nested blocks share the outer one.
    """
    if getattr(_KEPT, 'datasets', None) is not None:
        yield
        return
    _KEPT.datasets = {}
    try:
        yield
    finally:
        datasets, _KEPT.datasets = _KEPT.datasets, None
        for dataset in datasets.values():
            dataset.close()


@contextlib.contextmanager
def _open(path: str) -> Iterator[DatasetReader]:
    """``rasterio.open(path)``, or the dataset kept open by :func:`keep_open`.

    Yields:
        The open dataset.
    """
    import rasterio
    kept = getattr(_KEPT, 'datasets', None)
    if kept is None:
        with rasterio.open(path) as src:
            yield src
        return
    src = kept.get(path)
    if src is None or src.closed:
        src = kept[path] = rasterio.open(path)
    yield src


def _drop(path: str) -> None:
    """Close the dataset of ``path`` kept open in this thread, if any, and what GDAL remembers of it."""
    kept = getattr(_KEPT, 'datasets', None)
    src = kept.pop(path, None) if kept is not None else None
    if src is not None:
        src.close()
    forget(path)


def _use(path: str, action: Callable[[DatasetReader], T]) -> T:
    """``action`` on the open dataset of ``path``.

    A remote raster (or a VRT, whose sources may be remote) is opened and read in the GDAL environment of
    :func:`~geospatial_mm.io.remote.remote_options`;
    a failure that may pass (5xx, 429, a dropped connection, a timeout) is tried again, after a wait that grows, with
    the dataset opened anew, up to ``RETRY_ATTEMPTS`` times in all. A local file is tried once.

    Returns:
        What ``action`` returns.

    Raises:
        RasterError: the file cannot be opened or read; for a remote raster the message names the URL (without its
            secrets) and the HTTP status when there is one.
    """
    import rasterio
    from rasterio.errors import RasterioError
    remote = may_be_remote(path)
    waits = retry_delays() if remote else []
    for attempt in range(len(waits) + 1):
        opened = False
        try:
            with rasterio.Env(**remote_options()) if remote else contextlib.nullcontext(), _open(path) as src:
                opened = True
                return action(src)
        except RasterioError as exc:
            what = ('failed to read pixels, the file may be truncated or corrupt' if opened else
                    'not a readable raster')
            if not remote:
                raise RasterError(f'{path}: {what} ({exc})') from None
            message = _message(exc)
            if failure_kind(message) == 'permanent' or attempt == len(waits):
                status = http_status(message)
                tries = f' after {attempt + 1} attempts' if attempt else ''
                where = _failing_source(path) if path.lower().endswith('.vrt') else None
                raise RasterError(redact(f'{where or path}: {f"HTTP {status}, " if status else ""}{what}{tries} '
                                         f'({message})')) from None
            _drop(path)
            time.sleep(waits[attempt])
    raise AssertionError('unreachable')  # the loop returns or raises


def _failing_source(vrt: str) -> str | None:
    """The first source of a VRT that cannot be opened (GDAL's messages do not name it), or None."""
    import xml.etree.ElementTree as ElementTree

    import rasterio
    from rasterio.errors import RasterioError
    try:
        names = [e.text for e in ElementTree.parse(vrt).iter('SourceFilename') if e.text]
    except (OSError, ElementTree.ParseError):
        return None
    for name in dict.fromkeys(names):
        try:
            with rasterio.Env(**remote_options()), rasterio.open(name):
                pass
        except RasterioError:
            return f'{name.removeprefix("/vsicurl/")} (a source of {vrt})'
    return None


def _message(exc: BaseException) -> str:
    """The text of a rasterio error and of the GDAL errors it was raised from, each once."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 8:
        text = str(current)
        if text and text not in parts:
            parts.append(text)
        current = current.__cause__ or current.__context__
    return '; '.join(parts)


class RasterError(GeospatialMMError, ValueError):
    """A raster could not be used: the message names the file, what was expected and what was found."""


class RasterMetaDict(TypedDict):
    """The fields of :class:`RasterMeta` as a plain dict (:meth:`RasterMeta.to_dict`)."""
    path: str
    height: int
    width: int
    count: int
    dtype: str
    crs: str | None
    transform: Transform | None
    nodata: float | None
    band_names: tuple[str | None, ...]
    tiled: bool
    block_shape: tuple[int, int] | None


@dataclass(frozen=True)
class RasterMeta:
    """What the package keeps of a raster's header (and carries in a data sample's metainfo)."""
    path: str
    height: int
    width: int
    count: int
    dtype: str
    crs: str | None = None  # WKT
    transform: Transform | None = None  # affine (a, b, c, d, e, f) as in rasterio
    nodata: float | None = None
    band_names: tuple[str | None, ...] = field(default_factory=tuple)  # one per band, None where the band has none
    tiled: bool = False
    block_shape: tuple[int, int] | None = None  # (rows, cols) of the first band's blocks

    def to_dict(self) -> RasterMetaDict:
        """The header as a plain dict.

        Returns:
            Every field of the header under its own name.
        """
        return RasterMetaDict(path=self.path, height=self.height, width=self.width, count=self.count,
                              dtype=self.dtype, crs=self.crs, transform=self.transform, nodata=self.nodata,
                              band_names=self.band_names, tiled=self.tiled, block_shape=self.block_shape)


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f'unknown raster backend {backend!r}; expected one of {BACKENDS}')


def _check_exists(path: str) -> None:
    if is_gdal_path(path):  # a URL or a GDAL virtual path: only opening it tells
        return
    if not os.path.exists(path):
        raise RasterError(f'{path}: file not found')
    if os.path.isdir(path):
        raise RasterError(f'{path}: expected a raster file, found a directory')


def read_meta(path: str | os.PathLike[str], backend: str = 'rasterio') -> RasterMeta:
    """Read a raster's header without reading its pixels.

    Args:
        path: the raster file.
        backend: one of :data:`BACKENDS`.

    Returns:
        The header: size, band count, data type, georeference, nodata, band names and block layout.

    Raises:
        ValueError: an unknown ``backend``.
        RasterError: the file does not exist, is a folder, is not a readable raster, or its data type is not one of
            :data:`SUPPORTED_DTYPES` (or its bands have different types).
    """
    path = os.fspath(path)
    _check_backend(backend)
    _check_exists(path)
    if backend == 'tifffile' and is_gdal_path(path):
        raise RasterError(f'{redact(path)}: the tifffile backend reads local files only; read URLs and GDAL paths '
                          'with the rasterio backend')
    meta = _meta_rasterio(path) if backend == 'rasterio' else _meta_tifffile(path)
    if meta.dtype not in SUPPORTED_DTYPES:
        raise RasterError(f'{path}: unsupported data type {meta.dtype}; expected one of {", ".join(SUPPORTED_DTYPES)}')
    return meta


def _meta_from_dataset(path: str, src: DatasetReader) -> RasterMeta:
    dtypes = set(src.dtypes)
    if len(dtypes) != 1:
        raise RasterError(f'{path}: bands have different data types {sorted(dtypes)}; expected one')
    return RasterMeta(
        path=path, height=src.height, width=src.width, count=src.count, dtype=src.dtypes[0],
        crs=src.crs.to_wkt() if src.crs else None,
        transform=tuple(src.transform)[:6] if not src.transform.is_identity else None,
        nodata=src.nodata, band_names=tuple(src.descriptions),
        tiled=bool(src.profile.get('tiled', False)),
        block_shape=tuple(src.block_shapes[0]) if src.count else None)


def _meta_rasterio(path: str) -> RasterMeta:
    return _use(path, lambda src: _meta_from_dataset(path, src))


def _geotiff_transform_and_crs(page: TiffPage) -> tuple[Transform | None, str | None]:
    tags = page.geotiff_tags or {}
    transform: Transform | None = None
    scale, tie = tags.get('ModelPixelScale'), tags.get('ModelTiepoint')
    matrix = tags.get('ModelTransformation')
    if scale is not None and tie is not None:
        i, j, _, x, y, _ = tie[:6]
        transform = (float(scale[0]), 0.0, float(x - i * scale[0]), 0.0, float(-scale[1]), float(y + j * scale[1]))
    elif matrix is not None:
        m = np.asarray(matrix, dtype=float).reshape(4, 4)
        transform = (m[0, 0], m[0, 1], m[0, 3], m[1, 0], m[1, 1], m[1, 3])
    crs = None
    code = tags.get('ProjectedCSTypeGeoKey') or tags.get('GeographicTypeGeoKey')
    code = int(getattr(code, 'value', code)) if code is not None else None
    if code and code != 32767:  # 32767 = user-defined, not expressible by code
        from rasterio.crs import CRS
        crs = CRS.from_epsg(code).to_wkt()
    return transform, crs


def _tifffile_layout(page: TiffPage) -> tuple[int, str]:
    """The band layout of the first page.

    Returns:
        ``(number of bands, axes string)``.
    """
    axes = page.axes
    if 'S' in axes:
        return page.shape[axes.index('S')], axes
    if 'I' in axes or 'Q' in axes or 'C' in axes:  # planar multi-band stored as separate samples
        key = next(a for a in 'IQC' if a in axes)
        return page.shape[axes.index(key)], axes
    return 1, axes


def _meta_tifffile(path: str) -> RasterMeta:
    import tifffile
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            count, _ = _tifffile_layout(page)
            transform, crs = _geotiff_transform_and_crs(page)
            nodata_tag = page.tags.get('GDAL_NODATA') or page.tags.get(42113)
            nodata = float(str(nodata_tag.value).strip().rstrip('\x00')) if nodata_tag is not None else None
            return RasterMeta(path=path, height=page.imagelength, width=page.imagewidth, count=count,
                              dtype=str(page.dtype), crs=crs, transform=transform, nodata=nodata,
                              band_names=(None,) * count, tiled=page.is_tiled,
                              block_shape=(page.tilelength, page.tilewidth) if page.is_tiled else
                              (page.rowsperstrip, page.imagewidth))
    except (tifffile.TiffFileError, ValueError, OSError, IndexError) as exc:
        raise RasterError(f'{path}: not a readable TIFF ({exc})') from None


def check_bands(path: str, bands: Sequence[int] | None, count: int) -> list[int]:
    """Validate 0-based band indices against the file's band count.

    Args:
        path: the file, named in the error.
        bands: 0-based band indices (None: every band).
        count: the file's band count.

    Returns:
        The indices as a list of ints (every band's for None).

    Raises:
        RasterError: an index is outside ``0 .. count - 1``.
    """
    if bands is None:
        return list(range(count))
    bands = [int(b) for b in bands]
    bad = [b for b in bands if not 0 <= b < count]
    if bad:
        raise RasterError(f'{path}: band index {bad[0]} out of range: the file has {count} band(s) '
                          f'(indices 0-{count - 1})')
    return bands


def check_window(path: str, window: Sequence[int] | None, height: int, width: int) -> Window:
    """Validate a window ``(row_off, col_off, height, width)``; None means the whole raster.

    Args:
        path: the file, named in the error.
        window: ``(row_off, col_off, height, width)``, or None.
        height: the raster's height in pixels.
        width: the raster's width in pixels.

    Returns:
        The window as four ints (the whole raster's for None).

    Raises:
        RasterError: the window is empty or reaches outside the raster.
    """
    if window is None:
        return 0, 0, height, width
    row, col, h, w = (int(v) for v in window)
    if h <= 0 or w <= 0 or row < 0 or col < 0 or row + h > height or col + w > width:
        raise RasterError(f'{path}: window rows {row}:{row + h}, cols {col}:{col + w} is outside the raster of '
                          f'{height}x{width} pixels')
    return row, col, h, w


def read_bands(path: str | os.PathLike[str], bands: Sequence[int] | None = None, window: Sequence[int] | None = None,
               backend: str = 'rasterio', meta: RasterMeta | None = None) -> NDArray[np.generic]:
    """Read ``bands`` (0-based, in that order) of ``window`` as a ``(C, H, W)`` array in the file's dtype.

    Args:
        path: the raster file.
        bands: 0-based band indices (None: every band).
        window: ``(row_off, col_off, height, width)`` (None: the whole raster).
        backend: one of :data:`BACKENDS`.
        meta: the file's header when the caller has it (:func:`read_meta`), which saves reading it again.

    Returns:
        The pixels, ``(C, H, W)`` in the file's dtype.

    Raises:
        ValueError: an unknown ``backend`` (without ``meta``).
        RasterError: the file cannot be read, or ``bands`` or ``window`` do not fit it.
    """
    if meta is None:
        return read_raster(path, bands, window, backend)[0]
    path = os.fspath(path)
    bands = check_bands(path, bands, meta.count)
    window = check_window(path, window, meta.height, meta.width)
    if backend == 'rasterio':
        return _use(path, lambda src: _read_window(src, bands, window))
    return _read_tifffile(path, bands, window, meta)


def read_raster(path: str | os.PathLike[str], bands: Sequence[int] | None = None, window: Sequence[int] | None = None,
                backend: str = 'rasterio') -> tuple[NDArray[np.generic], RasterMeta]:
    """Header and pixels in one go (one open of the file).

    Args:
        path: the raster file.
        bands: 0-based band indices (None: every band).
        window: ``(row_off, col_off, height, width)`` (None: the whole raster).
        backend: one of :data:`BACKENDS`.

    Returns:
        ``((C, H, W) array in the file's dtype, meta)``.

    Raises:
        ValueError: an unknown ``backend``.
        RasterError: the file does not exist or cannot be read, its data type is not supported, or ``bands`` or
            ``window`` do not fit it.
    """
    path = os.fspath(path)
    _check_backend(backend)
    if backend == 'tifffile':
        meta = read_meta(path, backend)
        return read_bands(path, bands, window, backend, meta), meta
    _check_exists(path)

    def read(src: DatasetReader) -> tuple[NDArray[np.generic], RasterMeta]:
        meta = _meta_from_dataset(path, src)
        if meta.dtype not in SUPPORTED_DTYPES:
            raise RasterError(f'{path}: unsupported data type {meta.dtype}; expected one of '
                              f'{", ".join(SUPPORTED_DTYPES)}')
        return _read_window(src, check_bands(path, bands, meta.count),
                            check_window(path, window, meta.height, meta.width)), meta
    return _use(path, read)


def _read_window(src: DatasetReader, bands: list[int], window: Window) -> NDArray[np.generic]:
    from rasterio.windows import Window as RasterioWindow
    row, col, h, w = window
    data: NDArray[np.generic] = src.read([b + 1 for b in bands], window=RasterioWindow(col, row, w, h))
    return data


def _read_tifffile(path: str, bands: list[int], window: Window, meta: RasterMeta) -> NDArray[np.generic]:
    import tifffile
    row, col, h, w = window
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            count, axes = _tifffile_layout(page)
            data = page.asarray()
    except (tifffile.TiffFileError, ValueError, OSError, IndexError) as exc:
        raise RasterError(f'{path}: failed to read pixels, the file may be truncated or corrupt ({exc})') from None
    if data.ndim == 2:
        data = data[None]
    elif axes.endswith('S'):  # contiguous samples: (H, W, C)
        data = np.moveaxis(data, -1, 0)
    if data.shape != (meta.count, meta.height, meta.width):
        raise RasterError(f'{path}: decoded shape {data.shape} does not match the header '
                          f'({meta.count}, {meta.height}, {meta.width})')
    return np.ascontiguousarray(data[bands, row:row + h, col:col + w])
