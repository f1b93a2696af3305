"""Stacking single bands of several rasters onto one grid: a GDAL VRT.

A STAC item stores its bands as separate files, often at different resolutions (10 m and 20 m). :func:`stack_vrt`
writes the XML of a GDAL virtual raster whose band ``i`` is band ``bands[i].band`` of the raster
``bands[i].path``, placed on one grid: that of ``bands[0]``, or one of another pixel size over its extent. GDAL
resamples each source to the grid as it reads (``resampling``), and reads of a window of the VRT fetch only the
blocks of the sources that the window touches - for a remote COG, only those byte ranges.

The VRT's sources are written as GDAL opens them: ``https://h/x.tif`` as ``/vsicurl/https://h/x.tif``,
``s3://bucket/key`` as ``/vsis3/bucket/key``, GDAL's ``/vsi`` paths as they are and local paths as absolute paths,
so that the VRT file can live anywhere. Everything is XML-escaped (a signed URL's query string holds ``&``).

The VRT file is local even when its sources are not: read it in the GDAL environment of remote reads
(:func:`geospatial_mm.io.remote.remote_options`, see :func:`has_remote_sources`).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TypeAlias
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from .atomic import write_text_atomic
from .raster import RasterError, RasterMeta, read_meta
from .redaction import redact
from .remote import gdal_name, is_gdal_path, is_remote

Transform: TypeAlias = tuple[float, float, float, float, float, float]

RESAMPLING = ('nearest', 'bilinear', 'cubic', 'average', 'mode')
"""The resampling methods that :func:`stack_vrt` accepts (GDAL's names)."""

GDAL_TYPES = {'uint8': 'Byte', 'int8': 'Int8', 'int16': 'Int16', 'uint16': 'UInt16', 'int32': 'Int32',
              'uint32': 'UInt32', 'float32': 'Float32', 'float64': 'Float64'}
"""numpy data type name -> GDAL data type name, for the types a VRT of this module may have."""

# a source edge within this fraction of a pixel of a whole pixel is taken as that whole pixel (floating-point noise)
_SNAP = 1e-6


@dataclass(frozen=True)
class VrtBand:
    """One band of a VRT: band ``band`` of the raster ``path``.

    ``shape``, ``transform``, ``crs`` and ``dtype`` describe the source's grid when the caller knows it (from a
    STAC item's ``proj:*`` and ``raster:bands`` fields); those left None are read from the file's header.
    """
    path: str  # what GDAL opens: a local path, an http(s):// or s3:// URL, or a /vsi path
    band: int = 1  # 1-based band of that raster
    nodata: float | None = None  # the VRT band's nodata value (also what fills the grid outside the source)
    description: str | None = None  # the VRT band's description
    shape: tuple[int, int] | None = None  # (height, width) of the source
    transform: Transform | None = None  # the source's affine (a, b, c, d, e, f) as in rasterio
    crs: str | None = None  # anything rasterio.crs.CRS.from_user_input accepts ('EPSG:32610', WKT)
    dtype: str | None = None  # numpy dtype name of the source


@dataclass(frozen=True)
class _Source:
    """A band with its grid complete."""
    band: VrtBand
    shape: tuple[int, int]
    transform: Transform
    crs: str | None
    dtype: str


def has_remote_sources(bands: Sequence[VrtBand | None]) -> bool:
    """Whether some of ``bands`` are read over the network (a VRT of them needs the remote reads' environment).

    Args:
        bands: the bands of a VRT.

    Returns:
        True when a band's path is a URL or a path of GDAL's network file systems.
    """
    return any(b is not None and is_remote(b.path) for b in bands)


def source_name(path: str) -> str:
    """The name under which a VRT refers to a source.

    Args:
        path: a local path, a URL or a GDAL ``/vsi`` path.

    Returns:
        ``/vsicurl/<url>`` for http(s), ``/vsis3/<bucket>/<key>`` for s3 (see
        :func:`~geospatial_mm.io.remote.gdal_name`), a ``/vsi`` path as it is, a local path made absolute.
    """
    if is_gdal_path(path):
        return gdal_name(path)
    return os.path.abspath(path)


def _complete(bands: Sequence[VrtBand]) -> list[_Source]:
    """The bands with what the caller left out read from the headers of their files (once per file)."""
    headers: dict[str, RasterMeta] = {}
    sources = []
    for i, band in enumerate(bands):
        if band.band < 1:
            raise ValueError(f'bands[{i}]: {redact(band.path)}: expected a 1-based band index, found {band.band}')
        meta = None
        if band.shape is None or band.transform is None or band.crs is None or band.dtype is None:
            meta = headers.get(band.path)
            if meta is None:
                meta = headers[band.path] = read_meta(band.path)
            if band.band > meta.count:
                raise RasterError(redact(f'{band.path}: band {band.band} requested, the raster has {meta.count} '
                                         f'band(s)'))
        shape = band.shape if band.shape is not None else (meta.height, meta.width) if meta else (0, 0)
        transform = band.transform if band.transform is not None else meta.transform if meta else None
        crs = band.crs if band.crs is not None else meta.crs if meta else None
        dtype = band.dtype if band.dtype is not None else meta.dtype if meta else ''
        if transform is None:
            raise RasterError(redact(f'{band.path}: no geotransform; expected a georeferenced raster to place on '
                                     'the grid'))
        if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
            raise RasterError(redact(f'{band.path}: expected a shape (height, width) of positive sizes, found '
                                     f'{shape}'))
        if len(transform) < 6:
            raise RasterError(redact(f'{band.path}: expected an affine transform of 6 numbers, found {transform}'))
        try:
            name = np.dtype(dtype).name
        except TypeError:
            raise RasterError(redact(f'{band.path}: unknown data type {dtype!r}; expected a numpy data type name '
                                     f'such as uint16')) from None
        a, b, c, d, e, f = (float(v) for v in transform[:6])
        sources.append(_Source(band, (int(shape[0]), int(shape[1])), (a, b, c, d, e, f), crs, name))
    return sources


def _check_north_up(source: _Source) -> None:
    a, b, _, d, e, _ = source.transform
    if b != 0 or d != 0 or a <= 0 or e >= 0:
        raise RasterError(redact(f'{source.band.path}: expected a north-up transform (b == d == 0, a > 0, e < 0), '
                                 f'found {source.transform}'))


def _check_crs(first: _Source, other: _Source) -> None:
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    if first.crs is None and other.crs is None:
        return
    same = False
    if first.crs is not None and other.crs is not None:
        try:
            same = CRS.from_user_input(first.crs) == CRS.from_user_input(other.crs)
        except CRSError as exc:
            raise RasterError(redact(f'{other.band.path}: unreadable CRS {other.crs!r} or {first.crs!r} of '
                                     f'{first.band.path} ({exc})')) from None
    if not same:
        raise RasterError(redact(f'{other.band.path}: expected the CRS of the first band, {_crs_name(first.crs)} '
                                 f'(of {first.band.path}), found {_crs_name(other.crs)}'))


def _crs_name(crs: str | None) -> str:
    """A short name of a CRS for messages: its EPSG code when it has one, else its text."""
    if crs is None:
        return 'no CRS'
    from rasterio.crs import CRS
    from rasterio.errors import CRSError
    try:
        epsg = CRS.from_user_input(crs).to_epsg()
    except CRSError:
        epsg = None
    return f'EPSG:{epsg}' if epsg else repr(crs if len(crs) <= 80 else crs[:77] + '...')


def gdal_type(dtype: str) -> str:
    """The GDAL name of a numpy data type.

    Args:
        dtype: a numpy data type name.

    Returns:
        GDAL's name (``uint8`` -> ``Byte``, ``int16`` -> ``Int16``, ...).

    Raises:
        RasterError: a data type that a VRT of this module cannot have.
    """
    name = str(np.dtype(dtype))
    if name not in GDAL_TYPES:
        raise RasterError(f'unsupported data type {name}; expected one of {", ".join(GDAL_TYPES)}')
    return GDAL_TYPES[name]


def _grid(first: _Source, resolution: float | None) -> tuple[tuple[int, int], Transform]:
    """The target grid: the first source's, or one of ``resolution`` over its extent."""
    if resolution is None:
        return first.shape, first.transform
    if not resolution > 0 or not math.isfinite(resolution):
        raise ValueError(f'resolution: expected a positive pixel size, found {resolution!r}')
    a, _, c, _, e, f = first.transform
    height, width = first.shape
    cols = max(1, math.ceil(width * a / resolution - _SNAP))
    rows = max(1, math.ceil(height * -e / resolution - _SNAP))
    return (rows, cols), (float(resolution), 0.0, c, 0.0, -float(resolution), f)


def _number(value: float) -> str:
    """A number for the XML: a whole number without decimals, else all the digits a float has."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return repr(float(value))


def _rects(source: _Source, shape: tuple[int, int], transform: Transform) -> tuple[list[float], list[float]]:
    """SrcRect and DstRect (x offset, y offset, x size, y size) of the part of ``source`` on the grid."""
    a, _, c, _, e, f = source.transform
    ga, _, gc, _, ge, gf = transform
    height, width = source.shape
    left, right = max(c, gc), min(c + a * width, gc + ga * shape[1])
    top, bottom = min(f, gf), max(f + e * height, gf + ge * shape[0])

    def snap(value: float) -> float:
        return float(round(value)) if abs(value - round(value)) < _SNAP else value

    src = [snap((left - c) / a), snap((top - f) / e), snap((right - left) / a), snap((bottom - top) / e)]
    dst = [snap((left - gc) / ga), snap((top - gf) / ge), snap((right - left) / ga), snap((bottom - top) / ge)]
    if src[2] <= 0 or src[3] <= 0 or dst[2] <= 0 or dst[3] <= 0:
        raise RasterError(redact(f'{source.band.path}: expected the raster to overlap the grid of the first band, '
                                 f'found no overlap (raster bounds {_bounds(source.transform, source.shape)}, grid '
                                 f'bounds {_bounds(transform, shape)})'))
    return src, dst


def _bounds(transform: Transform, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    a, _, c, _, e, f = transform
    return c, f + e * shape[0], c + a * shape[1], f


def stack_vrt(bands: Sequence[VrtBand | None], resolution: float | None = None, resampling: str = 'nearest') -> str:
    """The XML text of a VRT whose band ``i`` is ``bands[i]``, all on one grid.

    A None band is a band without a source, which reads as zeros: it holds the place of a band of a product that a
    reader never reads (a loader's band indices address the bands it does read).

    The grid is that of the first band, or, with ``resolution``, a grid of that pixel size over the first band's extent
    (rounded up to whole pixels). Each source is placed on the grid by its transform: a source at another pixel size
    is resampled by GDAL with ``resampling``, a source that covers only part of the grid leaves the rest of its band
    at the band's nodata value (0 when it has none). The VRT's data type is the common numpy type of all bands
    (``np.result_type``); no scale or offset is applied.

    Args:
        bands: the VRT's bands, in order. A band's ``shape``, ``transform``, ``crs`` or ``dtype`` left None is read
            from its file's header (:func:`~geospatial_mm.io.raster.read_meta`, once per file).
        resolution: the grid's pixel size in the CRS's units (None: that of the first band).
        resampling: how GDAL resamples a source at another pixel size: one of :data:`RESAMPLING`.

    Returns:
        The VRT's XML.

    Raises:
        ValueError: no bands, a band index below 1, a ``resolution`` that is not positive, or an unknown
            ``resampling``.
        RasterError: a band's file cannot be read, a band in another CRS than the first, a transform that is not
            north-up, a band that does not overlap the grid, or a data type a VRT cannot have.
    """
    real = [b for b in bands if b is not None]
    if not real:
        raise ValueError('stack_vrt: expected at least one band, found none')
    if resampling not in RESAMPLING:
        raise ValueError(f'resampling: expected one of {", ".join(RESAMPLING)}, found {resampling!r}')
    completed = iter(_complete(real))
    placed = [next(completed) if b is not None else None for b in bands]
    sources = [s for s in placed if s is not None]
    first = sources[0]
    for source in sources:
        _check_north_up(source)
        _check_crs(first, source)
    dtype = np.result_type(*[np.dtype(s.dtype) for s in sources]).name
    try:
        data_type = gdal_type(dtype)
    except RasterError:
        found = ', '.join(sorted({s.dtype for s in sources}))
        raise RasterError(f'stack_vrt: the bands\' data types ({found}) have no common type a VRT can hold (found '
                          f'{dtype}; expected one of {", ".join(GDAL_TYPES)})') from None
    shape, transform = _grid(first, resolution)
    lines = [f'<VRTDataset rasterXSize="{shape[1]}" rasterYSize="{shape[0]}">']
    if first.crs is not None:
        from rasterio.crs import CRS
        lines.append(f'  <SRS>{escape(CRS.from_user_input(first.crs).to_wkt())}</SRS>')
    a, b, c, d, e, f = transform
    lines.append(f'  <GeoTransform>{", ".join(repr(float(v)) for v in (c, a, b, f, d, e))}</GeoTransform>')
    for number, placed_source in enumerate(placed, 1):
        if placed_source is None:
            lines.append(f'  <VRTRasterBand dataType="{data_type}" band="{number}"/>')
            continue
        source = placed_source
        src, dst = _rects(source, shape, transform)
        band = source.band
        lines.append(f'  <VRTRasterBand dataType="{data_type}" band="{number}">')
        if band.description is not None:
            lines.append(f'    <Description>{escape(band.description)}</Description>')
        if band.nodata is not None:
            lines.append(f'    <NoDataValue>{_number(float(band.nodata))}</NoDataValue>')
        lines += [
            f'    <SimpleSource resampling="{resampling}">',
            f'      <SourceFilename relativeToVRT="0">{escape(source_name(band.path))}</SourceFilename>',
            f'      <SourceBand>{band.band}</SourceBand>',
            f'      <SourceProperties RasterXSize="{source.shape[1]}" RasterYSize="{source.shape[0]}" '
            f'DataType="{gdal_type(source.dtype)}"/>',
            '      <SrcRect xOff={} yOff={} xSize={} ySize={}/>'.format(*(quoteattr(_number(v)) for v in src)),
            '      <DstRect xOff={} yOff={} xSize={} ySize={}/>'.format(*(quoteattr(_number(v)) for v in dst)),
            '    </SimpleSource>',
            '  </VRTRasterBand>',
        ]
    lines.append('</VRTDataset>')
    return '\n'.join(lines) + '\n'


def write_vrt(path: str | os.PathLike[str], bands: Sequence[VrtBand | None], resolution: float | None = None,
              resampling: str = 'nearest') -> Path:
    """Write :func:`stack_vrt`'s VRT of ``bands`` to ``path``, atomically.

    Args:
        path: the VRT file to write (``.vrt``).
        bands: the VRT's bands, in order (see :func:`stack_vrt`).
        resolution: the grid's pixel size (None: that of the first band).
        resampling: how GDAL resamples a source at another pixel size.

    Returns:
        ``path``.
    """
    return write_text_atomic(path, stack_vrt(bands, resolution, resampling))
