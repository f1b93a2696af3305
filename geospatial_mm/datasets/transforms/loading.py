"""Loading transforms for GeoTIFFs (and any raster GDAL reads), registered in mmengine's root TRANSFORMS registry so
that mmseg, mmdet and mmpretrain configs all find them.

Images come out as float32 ``(H, W, C)`` numpy arrays, the layout every OpenMMLab transform expects; multi-temporal
inputs are stacked frame-major along channels (frame 0's bands, then frame 1's, ...), which
:class:`~geospatial_mm.datasets.transforms.torch_transforms.Reshape` turns into ``(C, T, H, W)``. The raster's
georeference rides in ``results['geo_meta']`` (CRS as WKT, the affine transform of what was read, nodata, band count,
band names, path and window) and a boolean ``results['nodata_mask']`` marks pixels that were nodata in any band.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

from geospatial_mm.io import RasterError, RasterMeta, read_raster
from geospatial_mm.io.band_reader import BandReader, read_band_groups, read_pair
from geospatial_mm.io.georef import crs_equal, short_crs, window_transform


@TRANSFORMS.register_module()
class LoadGeospatialImageFromFile(BandReader, BaseTransform):
    """Load a multi-band raster (or several, as frames) as a float32 ``(H, W, C)`` image.

    Required keys: ``img_path`` (a path, or a list of paths stacked as frames). Optional: ``read_window``
    ``(row, col, h, w)`` set by :class:`RandomWindow` so only those pixels are read.
    Added keys: ``img``, ``img_shape``, ``ori_shape``, ``num_frames``, ``nodata_mask``, ``geo_meta``, ``img_keys``.

    Args: those of :class:`~geospatial_mm.io.band_reader.BandReader` (bands or frames, scale, clip, offset,
    nan_replace, nodata, nodata_replace, nan_is_nodata, to_float32, backend), which reads and converts the pixels,
    and ``key`` / ``path_key`` / ``window_key``: where to put the image / where to find its path(s) / its window.
    ``stac_assets``: the STAC asset (or band) names of the bands it reads, in their order (e.g. HLS S30's
    ``['B02', 'B03', 'B04', 'B8A', 'B11', 'B12']``); not used by training: tools/model_inference.py reads STAC items
    by them when ``--assets`` is not given.
    """

    pointwise = True  # pixel by pixel: streaming inference may run it once on a strip and cut the tiles out

    def __init__(self, bands: Sequence[int] | None = None, frames: Sequence[Sequence[int]] | None = None,
                 scale: float | None = None, nodata: float | None = None, nodata_replace: float = 0.0,
                 nan_is_nodata: bool = True, to_float32: bool = True, backend: str = 'rasterio',
                 key: str = 'img', path_key: str = 'img_path', window_key: str = 'read_window',
                 clip: Sequence[float] | None = None, offset: float | None = None,
                 nan_replace: float | None = None, stac_assets: Sequence[str] | None = None) -> None:
        BandReader.__init__(self, bands=bands, frames=frames, scale=scale, nodata=nodata,
                            nodata_replace=nodata_replace, nan_is_nodata=nan_is_nodata, to_float32=to_float32,
                            backend=backend, clip=clip, offset=offset, nan_replace=nan_replace)
        self.stac_assets = list(stac_assets) if stac_assets is not None else None
        self.key = key
        self.path_key = path_key
        self.window_key = window_key

    def transform(self, results: dict) -> dict:
        paths = results[self.path_key]
        paths = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
        out = self.load(paths, results.get(self.window_key))
        # (H, W, C) as the OpenMMLab transforms expect, as a view of the band-first array: the Torch transforms
        # turn it back into a band-first tensor without copying, and numpy/OpenCV transforms accept the view
        results[self.key] = out['img'].transpose(1, 2, 0)
        results['img_shape'] = out['img'].shape[1:]
        results['ori_shape'] = out['img'].shape[1:]
        results['num_frames'] = out['num_frames']
        if self.key == 'img':
            results['nodata_mask'] = out['nodata_mask']
            results['geo_meta'] = out['geo_meta']
        else:
            results[f'{self.key}_nodata_mask'] = out['nodata_mask']
            results[f'{self.key}_geo_meta'] = out['geo_meta']
        keys = results.setdefault('img_keys', [])
        if self.key not in keys:
            keys.append(self.key)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(bands={self.bands}, frames={self.frames}, scale={self.scale}, '
                f'clip={self.clip}, offset={self.offset}, nan_replace={self.nan_replace}, nodata={self.nodata}, '
                f'nodata_replace={self.nodata_replace}, backend={self.backend!r})')


@TRANSFORMS.register_module()
class LoadGeospatialImagePair(BaseTransform):
    """Load co-registered images (pre/post disaster, or any list) with the same settings, and check that their size,
    CRS and transform agree.

    Args:
        path_keys: where the paths are, one per image.
        keys: where each image goes; with ``stack=True`` the images are concatenated along channels into ``keys[0]``.
        stack: concatenate into one image (e.g. for a model that splits the channels itself).
        **load_kwargs: :class:`LoadGeospatialImageFromFile` arguments, shared by every image.
    """

    pointwise = True  # pixel by pixel: streaming inference may run it once on a strip and cut the tiles out

    def __init__(self, path_keys: Sequence[str] = ('img_path', 'post_img_path'),
                 keys: Sequence[str] = ('img', 'img_post'), stack: bool = False, **load_kwargs) -> None:
        if len(path_keys) != len(keys) or len(keys) < 2:
            raise ValueError(f'need as many keys as path_keys, at least two; got {keys} and {path_keys}')
        self.path_keys = list(path_keys)
        self.keys = list(keys)
        self.stack = stack
        self.loaders = [LoadGeospatialImageFromFile(key=k, path_key=pk, **load_kwargs)
                        for k, pk in zip(self.keys, self.path_keys)]

    def transform(self, results: dict) -> dict:
        paths = [os.fspath(results[k]) for k in self.path_keys]
        loaded = read_pair(self.loaders, paths, results.get(self.loaders[0].window_key))
        if self.stack:
            results[self.keys[0]] = np.concatenate([o['img'] for o in loaded], axis=0).transpose(1, 2, 0)
            results['img_keys'] = [self.keys[0]]
        else:
            for k, o in zip(self.keys, loaded):
                results[k] = o['img'].transpose(1, 2, 0)
            results['img_keys'] = list(self.keys)
        results['nodata_mask'] = np.logical_or.reduce([o['nodata_mask'] for o in loaded])
        results['geo_meta'] = dict(loaded[0]['geo_meta'], path=paths)
        results['img_shape'] = results[self.keys[0]].shape[:2]
        results['ori_shape'] = results['img_shape']
        results['num_frames'] = 1
        return results


@TRANSFORMS.register_module()
class LoadGeospatialBandGroups(BaseTransform):
    """Band groups from several co-registered files of one sample (e.g. Sentinel-2 and Sentinel-1 rasters), each
    file read with its own settings, concatenated along channels into one float32 ``(H, W, C)`` image.

    Args:
        sources: one dict per file, in channel order: ``path_key`` (where the sample's path of that file is),
            ``bands`` (0-based, required) and any other :class:`LoadGeospatialImageFromFile` argument for that file
            (``scale``, ``clip``, ``offset``, ``nan_replace``, ``nodata``, ``nodata_replace``, ...).
        key: where the image goes.
        backend, window_key: as for :class:`LoadGeospatialImageFromFile`, shared by every file.

    The files must have the same size, CRS and transform (an error names the file that differs). A pixel is nodata
    (``nodata_mask``) when it is nodata in any file; its values are then every file's ``nodata_replace``.
    ``geo_meta`` is that of the first file, with ``path`` listing every file and ``sources`` giving each file's path
    key, path and bands.
    """

    pointwise = True  # pixel by pixel: streaming inference may run it once on a strip and cut the tiles out

    def __init__(self, sources: Sequence[dict], key: str = 'img', backend: str = 'rasterio',
                 window_key: str = 'read_window') -> None:
        if not sources:
            raise ValueError('LoadGeospatialBandGroups needs at least one source')
        self.sources = [dict(s) for s in sources]
        self.loaders = []
        for i, source in enumerate(self.sources):
            args = dict(source)
            path_key = args.pop('path_key', None)
            if not path_key or args.get('bands') is None:
                raise ValueError(f'source {i} of LoadGeospatialBandGroups needs a path_key and its bands, got {source}')
            if 'frames' in args or 'key' in args or 'to_float32' in args:
                raise ValueError(f'source {i}: frames, key and to_float32 are not per-source settings')
            self.loaders.append(LoadGeospatialImageFromFile(path_key=path_key, backend=backend, window_key=window_key,
                                                            **args))
        keys = [loader.path_key for loader in self.loaders]
        if len(set(keys)) != len(keys):
            raise ValueError(f'every source needs its own path_key, got {keys}')
        self.key = key
        self.window_key = window_key

    @property
    def path_keys(self) -> list[str]:
        return [loader.path_key for loader in self.loaders]

    def channel_sources(self) -> list[tuple[LoadGeospatialImageFromFile, int]]:
        """For every output channel: the loader of its file and its 0-based band in that file."""
        return [(loader, band) for loader in self.loaders for band in loader.bands]

    def transform(self, results: dict) -> dict:
        window = results.get(self.window_key)
        missing = [k for k in self.path_keys if not results.get(k)]
        if missing:
            raise KeyError(f'sample {results.get("img_path") or results.get(self.path_keys[0])} has no path for '
                           f'{missing} (LoadGeospatialBandGroups reads {self.path_keys})')
        paths = [os.fspath(results[k]) for k in self.path_keys]
        loaded, nodata_mask = read_band_groups(self.loaders, paths, window)
        img = np.concatenate([o['img'] for o in loaded], axis=0) if len(loaded) > 1 else loaded[0]['img']
        results[self.key] = img.transpose(1, 2, 0)
        results['img_shape'] = img.shape[1:]
        results['ori_shape'] = img.shape[1:]
        results['num_frames'] = 1
        results['nodata_mask'] = nodata_mask
        results['geo_meta'] = dict(loaded[0]['geo_meta'], path=paths, bands=[b for loader in self.loaders
                                                                              for b in loader.bands],
                                   sources=[dict(path_key=k, path=p, bands=list(loader.bands), count=o['meta'].count)
                                            for k, p, loader, o in zip(self.path_keys, paths, self.loaders, loaded)])
        results['img_keys'] = [self.key]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(sources={self.sources})'


@TRANSFORMS.register_module()
class LoadGeospatialAnnotations(BaseTransform):
    """Load a label raster as an int64 ``(H, W)`` map into ``gt_seg_map``.

    Order of operations: nodata (from the file or ``nodata``) and every value in ``ignore_values`` become
    ``ignore_index``; then ``reduce_zero_label`` (0 -> ignore, others -1) and ``label_map`` (old -> new, taken from
    ``results['label_map']`` when the dataset sets one), as mmseg does.

    The label must have the image's size (checked when the image is loaded first) and, when both are georeferenced,
    its transform and CRS. Every value, after the mappings, must be a class index or ``ignore_index``: the number of
    classes is ``num_classes``, else ``results['num_classes']`` (the package's datasets set it from their classes);
    an error names the file and the values that are neither.
    """

    def __init__(self, band: int = 0, nodata: float | None = None, ignore_values: Sequence[float] = (),
                 ignore_index: int = 255, reduce_zero_label: bool = False, label_map: dict | None = None,
                 backend: str = 'rasterio', path_key: str = 'seg_map_path', key: str = 'gt_seg_map',
                 window_key: str = 'read_window', num_classes: int | None = None) -> None:
        self.num_classes = num_classes
        self.band = band
        self.nodata = nodata
        self.ignore_values = list(ignore_values)
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.label_map = label_map
        self.backend = backend
        self.path_key = path_key
        self.key = key
        self.window_key = window_key

    def transform(self, results: dict) -> dict:
        path = os.fspath(results[self.path_key])
        window = results.get(self.window_key)
        raw, meta = read_raster(path, [self.band], window, self.backend)
        label = self.convert(raw[0], meta, path, results.get('label_map'))
        self._check_against_image(results, path, meta, label)
        self._check_values(label, path, self.num_classes or results.get('num_classes'))
        results[self.key] = label
        fields = results.setdefault('seg_fields', [])
        if self.key not in fields:
            fields.append(self.key)
        results['reduce_zero_label'] = self.reduce_zero_label
        return results

    def convert(self, raw: np.ndarray, meta: RasterMeta, path: str, label_map: dict | None = None) -> np.ndarray:
        """Raw label values -> class indices with ``ignore_index`` (also used on previews' decimated reads)."""
        if raw.dtype.kind == 'f':
            finite = raw[np.isfinite(raw)]
            if finite.size and not np.array_equal(finite, np.round(finite)):
                raise RasterError(f'{path}: label raster holds non-integer values (dtype {raw.dtype}); '
                                  'expected class indices')
        ignore = np.zeros(raw.shape, dtype=bool)
        nodata = self.nodata if self.nodata is not None else meta.nodata
        for value in ([nodata] if nodata is not None else []) + self.ignore_values:
            ignore |= np.isnan(raw) if np.isnan(value) else raw == value
        if raw.dtype.kind == 'f':
            ignore |= np.isnan(raw)
        label = np.where(ignore, 0, raw).astype(np.int64)
        label[ignore] = self.ignore_index
        if self.reduce_zero_label:
            zero = label == 0
            label = label - 1
            label[zero | (label == self.ignore_index - 1)] = self.ignore_index
        label_map = self.label_map if self.label_map is not None else label_map
        if label_map:
            mapped = label.copy()
            for old, new in label_map.items():
                mapped[label == old] = new
            label = mapped
        return label

    def _check_values(self, label: np.ndarray, path: str, num_classes: int | None) -> None:
        """Every value a class index (``0 .. num_classes - 1``) or ``ignore_index``: two reductions when it holds."""
        if not num_classes or not label.size:
            return
        low, high = int(label.min()), int(label.max())
        if low >= 0 and (high < num_classes or high == self.ignore_index and
                         not ((label >= num_classes) & (label != self.ignore_index)).any()):
            return
        values = np.unique(label)
        bad = [int(v) for v in values if not (0 <= v < num_classes or v == self.ignore_index)]
        raise RasterError(f'{path}: label values {bad[:10]}{" ..." if len(bad) > 10 else ""} are neither a class '
                          f'index (0-{num_classes - 1}, {num_classes} classes) nor the ignore index '
                          f'{self.ignore_index}, after the loader\'s mappings (nodata, ignore_values, '
                          'reduce_zero_label, label_map)')

    def _check_against_image(self, results: dict, path: str, meta: RasterMeta, label: np.ndarray) -> None:
        img_key = (results.get('img_keys') or ['img'])[0]
        if img_key not in results:
            return
        image_path = results.get('img_path')
        image_path = image_path if isinstance(image_path, (str, os.PathLike)) else (image_path or ['?'])[0]
        img_shape = tuple(results[img_key].shape[:2])
        if tuple(label.shape) != img_shape:
            raise RasterError(f'{path}: label of {label.shape[0]}x{label.shape[1]} pixels does not match its image '
                              f'{image_path} of {img_shape[0]}x{img_shape[1]}')
        geo = results.get('geo_meta') or {}
        if geo.get('full_shape') and tuple(geo['full_shape']) != (meta.height, meta.width):
            raise RasterError(f'{path}: label raster of {meta.height}x{meta.width} pixels does not match its image '
                              f'{image_path} of {geo["full_shape"][0]}x{geo["full_shape"][1]}')
        if geo.get('crs') and meta.crs and not crs_equal(geo['crs'], meta.crs):
            raise RasterError(f'{path}: label CRS {short_crs(meta.crs)} differs from the CRS of its image '
                              f'{image_path} ({short_crs(geo["crs"])})')
        img_transform = geo.get('transform')
        lab_transform = window_transform(meta.transform, results.get(self.window_key))
        if img_transform is not None and lab_transform is not None and not np.allclose(
                img_transform, lab_transform, rtol=0, atol=1e-6):
            raise RasterError(f'{path}: label transform {tuple(lab_transform)} does not match its image '
                              f'{image_path} ({tuple(img_transform)})')


def loader_class(transform_cfg: dict) -> type | None:
    """The registered class of a pipeline step if it is one of the package's raster loaders (or a subclass).

    Args:
        transform_cfg: a pipeline step's config (``dict(type=..., ...)``).

    Returns:
        The class, or None for any other step.
    """
    cls = TRANSFORMS.get(transform_cfg.get('type')) if isinstance(transform_cfg.get('type'), str) else None
    if cls is not None and issubclass(cls, (LoadGeospatialImageFromFile, LoadGeospatialImagePair,
                                            LoadGeospatialBandGroups)):
        return cls
    return None
