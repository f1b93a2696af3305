"""Reading a window of a raster's bands in a model's units, and the samples made of several rasters.

:class:`BandReader` reads the chosen bands (or band groups as frames) of one or more files in a window and converts
file values to what a model sees: NaN replacement, nodata detection, float32, clipping, scaling, offset and nodata
replacement. The GeoTIFF loading transforms of :mod:`geospatial_mm.datasets.transforms.loading` are built on it, and so
is the inference of exported models, which needs neither mmcv nor torch: both read pixels through this one code.
:func:`read_pair` and :func:`read_band_groups` combine co-registered files (pre/post pairs; band groups of different
files such as Sentinel-2 and Sentinel-1) and check that they line up.
"""
from __future__ import annotations

from typing import Sequence, TypedDict

import numpy as np
from numpy.typing import NDArray

from .georef import coregistration_problem, window_transform
from .raster import RasterError, RasterMeta, Transform, read_raster

READER_ARGS = ('bands', 'frames', 'scale', 'nodata', 'nodata_replace', 'nan_is_nodata', 'to_float32', 'backend',
               'clip', 'offset', 'nan_replace')


class ReaderArgs(TypedDict):
    """The arguments that rebuild a :class:`BandReader` (:meth:`BandReader.reader_args`; keys :data:`READER_ARGS`)."""
    bands: list[int] | None
    frames: list[list[int]] | None
    scale: float | None
    nodata: float | None
    nodata_replace: float
    nan_is_nodata: bool
    to_float32: bool
    backend: str
    clip: list[float] | None
    offset: float | None
    nan_replace: float | None


class GeoMeta(TypedDict):
    """The georeference of what :meth:`BandReader.load` read (a data sample's ``geo_meta``).

    Attributes:
        path: the file, or the files of the frames.
        crs: the CRS as WKT (None: none).
        transform: the affine transform of the window read (None: none).
        nodata: the nodata value (the reader's, else the file's).
        count: the file's band count.
        band_names: the file's band descriptions.
        bands: the 0-based bands read (the frames' band groups for frames).
        window: ``(row, col, height, width)`` read (None: the whole raster).
        full_shape: the raster's ``(height, width)``.
    """
    path: str | list[str]
    crs: str | None
    transform: Transform | None
    nodata: float | None
    count: int
    band_names: tuple[str | None, ...]
    bands: list[int] | list[list[int]]
    window: tuple[int, ...] | None
    full_shape: tuple[int, int]


class LoadedImage(TypedDict):
    """What :meth:`BandReader.load` read.

    Attributes:
        img: ``(C, H, W)`` in the model's units (frame-major for frames).
        nodata_mask: ``(H, W)``, True where a pixel is nodata.
        geo_meta: the georeference of the window read.
        num_frames: the frames (dates) the image holds.
        meta: the first file's header.
    """
    img: NDArray[np.generic]
    nodata_mask: NDArray[np.bool_]
    geo_meta: GeoMeta
    num_frames: int
    meta: RasterMeta


class BandReader:
    """Bands of a raster (or of several, stacked as frames) in a window, converted to a model's units.

    Args:
        bands: 0-based band indices to read, in this order (None: all). For several files, applied to each.
        frames: band groups of one file stacked as frames, e.g. ``[[0, 1, 2], [3, 4, 5]]`` (exclusive with several
            files; ``bands`` is then ignored).
        scale: multiply valid pixels by this constant (e.g. 0.0001 for reflectance stored as int16 x 10000).
        clip: ``(low, high)`` in file units: values are clipped to it before scaling (e.g. ``(0, 10000)``).
        offset: added after scaling (e.g. ``clip=(-25, 0), scale=1/25, offset=1`` maps -25..0 dB to 0..1).
        nan_replace: NaN values of a float raster are replaced by this value (in file units, before clipping and
            scaling), each value on its own; they are then ordinary values, not nodata.
        nodata: the nodata value; None takes the file's own (if it has one).
        nodata_replace: value written into nodata pixels (in output units, after scaling).
        nan_is_nodata: treat NaN as nodata in float rasters (unless ``nan_replace`` replaces them).
        to_float32: output float32 (else the file's dtype; nodata is then replaced but nothing is clipped or scaled).
        backend: ``'rasterio'`` (windowed reads) or ``'tifffile'``.
    """

    def __init__(self, bands: Sequence[int] | None = None, frames: Sequence[Sequence[int]] | None = None,
                 scale: float | None = None, nodata: float | None = None, nodata_replace: float = 0.0,
                 nan_is_nodata: bool = True, to_float32: bool = True, backend: str = 'rasterio',
                 clip: Sequence[float] | None = None, offset: float | None = None,
                 nan_replace: float | None = None) -> None:
        if frames is not None and bands is not None:
            raise ValueError('give either bands or frames (band groups), not both')
        if clip is not None and (len(clip) != 2 or not clip[0] <= clip[1]):
            raise ValueError(f'clip must be (low, high) with low <= high, got {clip}')
        if not to_float32 and (clip is not None or offset is not None or scale is not None):
            raise ValueError('clip, scale and offset need to_float32=True')
        self.clip = tuple(float(c) for c in clip) if clip is not None else None
        self.offset = offset
        self.nan_replace = nan_replace
        self.bands = list(bands) if bands is not None else None
        self.frames = [list(f) for f in frames] if frames is not None else None
        if self.frames is not None and len({len(f) for f in self.frames}) != 1:
            raise ValueError(f'every frame needs the same number of bands, got {self.frames}')
        self.scale = scale
        self.nodata = nodata
        self.nodata_replace = nodata_replace
        self.nan_is_nodata = nan_is_nodata
        self.to_float32 = to_float32
        self.backend = backend

    def reader_args(self) -> ReaderArgs:
        """The arguments that rebuild this reader (what an exported model's metadata records).

        Returns:
            The constructor's arguments: ``BandReader(**args)`` reads as this reader does.
        """
        return ReaderArgs(bands=self.bands, frames=self.frames, scale=self.scale, nodata=self.nodata,
                          nodata_replace=self.nodata_replace, nan_is_nodata=self.nan_is_nodata,
                          to_float32=self.to_float32, backend=self.backend,
                          clip=list(self.clip) if self.clip is not None else None, offset=self.offset,
                          nan_replace=self.nan_replace)

    @property
    def band_list(self) -> list[int] | None:
        """The bands read from each file, frames flattened (None: all)."""
        return [b for f in self.frames for b in f] if self.frames is not None else self.bands

    def convert(self, data: NDArray[np.generic],
                file_nodata: float | None = None) -> tuple[NDArray[np.generic], NDArray[np.bool_]]:
        """File values ``(C, H, W)`` -> the model's units.

        NaN replacement, nodata detection (``nodata``, else ``file_nodata``), float32, clipping, scaling, offset,
        nodata replacement. Previews use it on decimated reads, so they show the values the model sees.

        Returns:
            ``(output values (C, H, W), nodata mask (H, W))``.
        """
        if self.nan_replace is not None and data.dtype.kind == 'f':
            data = np.where(np.isnan(data), np.asarray(self.nan_replace, data.dtype), data)
        nodata = self.nodata if self.nodata is not None else file_nodata
        invalid = np.zeros(data.shape[1:], dtype=bool)
        if nodata is not None and not np.isnan(nodata):
            invalid |= (data == np.asarray(nodata).astype(data.dtype)).any(axis=0)
        if data.dtype.kind == 'f' and (self.nan_is_nodata or (nodata is not None and np.isnan(nodata))):
            invalid |= np.isnan(data).any(axis=0)
        if self.to_float32:
            values = data.astype(np.float32)
            if self.clip is not None:
                np.clip(values, self.clip[0], self.clip[1], out=values)
            if self.scale is not None:
                values *= np.float32(self.scale)
            if self.offset is not None:
                values += np.float32(self.offset)
            data = values
        elif invalid.any():
            data = data.copy()
        if invalid.any():
            data[:, invalid] = self.nodata_replace
        return data, invalid

    def load(self, paths: Sequence[str], window: Sequence[int] | None) -> LoadedImage:
        """Read ``window`` (``(row, col, h, w)``, None: everything) of ``paths`` (one file, or one per frame).

        Returns:
            ``img`` ``(C, H, W)`` (frame-major for frames), ``nodata_mask`` ``(H, W)``, ``geo_meta`` (CRS as WKT,
            the affine transform of what was read, nodata, band count and names, path, window, full shape),
            ``num_frames`` and the first file's header ``meta``.

        Raises:
            ValueError: a reader of frames is given several files.
            RasterError: a file cannot be read, the bands or window do not fit it, or the files are not
                co-registered.
        """
        if self.frames is not None and len(paths) != 1:
            raise ValueError('frames (band groups) need a single file per sample')
        bands = self.band_list
        arrays: list[NDArray[np.generic]] = []
        masks: list[NDArray[np.bool_]] = []
        metas: list[RasterMeta] = []
        for p in paths:
            data, meta = read_raster(p, bands, window, self.backend)  # one open for header and pixels
            data, invalid = self.convert(data, meta.nodata)
            if metas:
                why = coregistration_problem(metas[0], meta)
                if why:
                    raise RasterError(f'{p}: not co-registered with {paths[0]}: {why}')
            arrays.append(data)
            masks.append(invalid)
            metas.append(meta)
        num_frames = len(self.frames) if self.frames is not None else len(paths)
        img = np.concatenate(arrays, axis=0) if len(arrays) > 1 else arrays[0]
        nodata_mask = np.logical_or.reduce(masks) if len(masks) > 1 else masks[0]
        meta = metas[0]
        read_window = tuple(window) if window is not None else None
        geo_meta = GeoMeta(path=paths[0] if len(paths) == 1 else list(paths), crs=meta.crs,
                           transform=window_transform(meta.transform, read_window), nodata=self.nodata
                           if self.nodata is not None else meta.nodata, count=meta.count, band_names=meta.band_names,
                           bands=self.frames or self.bands or list(range(meta.count)), window=read_window,
                           full_shape=(meta.height, meta.width))
        return LoadedImage(img=img, nodata_mask=nodata_mask, geo_meta=geo_meta, num_frames=num_frames, meta=meta)


def read_pair(readers: Sequence[BandReader], paths: Sequence[str], window: Sequence[int] | None) -> list[LoadedImage]:
    """Co-registered images of one sample (pre/post), each read by its reader (:meth:`BandReader.load`).

    Returns:
        One loaded image per reader and path, in their order.

    Raises:
        RasterError: a file cannot be read, or its size, CRS or transform differs from the first's (the error names
            it).
    """
    loaded = [reader.load([p], window) for reader, p in zip(readers, paths)]
    for p, out in zip(paths[1:], loaded[1:]):
        why = coregistration_problem(loaded[0]['meta'], out['meta'])
        if why:
            raise RasterError(f'{p}: does not match {paths[0]} of the same pair: {why}')
    return loaded


def read_band_groups(readers: Sequence[BandReader], paths: Sequence[str],
                     window: Sequence[int] | None) -> tuple[list[LoadedImage], NDArray[np.bool_]]:
    """Band groups of several co-registered files of one sample, each read with its own reader.

    A pixel nodata in any file is nodata in all: its values become each reader's ``nodata_replace``.

    Returns:
        ``(loaded, nodata_mask)``: one loaded image per reader and path, and the ``(H, W)`` mask of every file's
        nodata.

    Raises:
        RasterError: a file cannot be read, or is not co-registered with the first (the error names it).
    """
    loaded = [reader.load([p], window) for reader, p in zip(readers, paths)]
    for p, out in zip(paths[1:], loaded[1:]):
        why = coregistration_problem(loaded[0]['meta'], out['meta'])
        if why:
            raise RasterError(f'{p}: not co-registered with {paths[0]} of the same sample: {why}')
    nodata_mask = np.logical_or.reduce([o['nodata_mask'] for o in loaded])
    if nodata_mask.any():
        for reader, out in zip(readers, loaded):
            out['img'][:, nodata_mask] = reader.nodata_replace
    return loaded, nodata_mask
