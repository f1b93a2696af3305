"""Streaming sliding-window segmentation of rasters of any size in bounded memory.

For each raster: a reader thread cuts the tile grid's windows, reads only those pixels through the config's own test
pipeline (same bands, scaling, nodata handling and normalisation as in training) and queues them; the main thread
runs batches of tiles through the model, blends their logits with weights that fall off towards each
tile's edges into a band of rows that rolls down the raster, and writes every finished band of rows to the output.
Neither the input nor the output raster is ever held whole: memory is set by the tile, the batch and one band of
``tile`` rows; a raster wider than ``BAND_WIDTH`` is predicted in vertical strips (see
:meth:`~geospatial_mm.io.tiles.TileGrid.column_strips`), so memory depends on neither its height nor its
width.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from geospatial_mm.io import RasterError, check_bands, keep_open, read_meta
from geospatial_mm.io.blending import tile_weights
from geospatial_mm.io.gdal import gdal_env, streaming_cache_bytes
from geospatial_mm.io.geotiff import GeoTiffWriter
from geospatial_mm.io.georef import window_transform
from geospatial_mm.io.tiles import Tile, TileGrid
from .memory import keep_freed_memory
from .model import build_model, dataset_meta, inference_pipeline, load_config
from .outputs import PRODUCER, PRODUCER_TAG
from .sources import Sample
from .rolling_band import RowBandAccumulator

CLASS_NODATA = 255
STRIP_WIDTH = 2048  # widest window read at once for a strip of tiles
BAND_WIDTH = 4096  # widest run of columns blended at once: wider rasters are predicted in vertical strips
OUTPUT_BLOCK = 256  # block size of the output GeoTIFFs (GeoTiffWriter)
PROB_NODATA = -1.0


@dataclass
class PreparedTile:
    tile: Tile
    inputs: torch.Tensor
    data_sample: object
    nodata: np.ndarray | None
    logit_size: tuple[int, int] | None = None  # the tile's pixels (padded to the tile size for small rasters)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the first axis."""
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def prefetch(make_items: Callable[[], Iterable], size: int, cachemax: int | None = None) -> Iterator:
    """Iterate ``make_items()`` in a background thread, at most ``size`` ahead; its exceptions are raised here.

    The items are produced inside a GDAL environment of that thread (rasterio environments are per thread; the block
    cache, ``cachemax`` bytes, is one per process), and the producer is closed in its own thread when the consumer
    stops early.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, size))
    stop = threading.Event()

    def put(obj) -> bool:
        while not stop.is_set():
            try:
                q.put(obj, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with gdal_env(cachemax):
                items = make_items()
                try:
                    for item in items:
                        if not put(item):
                            return
                finally:
                    close = getattr(items, 'close', None)
                    if close is not None:
                        close()
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
            return
        put(_DONE)

    thread = threading.Thread(target=work, name='tile-reader', daemon=True)
    thread.start()
    try:
        while True:
            obj = q.get()
            if obj is _DONE:
                return
            if isinstance(obj, _Failure):
                raise obj.exc
            yield obj
    finally:
        stop.set()
        thread.join()


class SegmentationRasterPredictor:
    """Predict class maps (and optionally class probabilities) for rasters with a segmentation config.

    Args:
        config: a config file of the package (or a Config).
        checkpoint: the trained checkpoint.
        device: 'cpu', 'cuda', 'cuda:1', ...
        batch_size: tiles per forward pass.
        tile, stride: sliding-window size and step in pixels; default: the config's ``test_cfg`` (mode 'slide'),
            else 512 and half of it.
        bands: override the loader's band selection (0-based indices into the input files).
        cfg_options: config overrides, as ``--cfg-options`` of the train/test tools.
    """

    def __init__(self, config, checkpoint: str, device: str = 'cpu', batch_size: int = 8, tile: int | None = None,
                 stride: int | None = None, bands=None, cfg_options: dict | None = None) -> None:
        from mmcv.transforms import Compose
        keep_freed_memory()  # the same large buffers again and again: reuse them instead of faulting pages anew
        self.cfg = load_config(config)
        if cfg_options:
            self.cfg.merge_from_dict(cfg_options)
        self.model, ckpt_meta = build_model(self.cfg, checkpoint, device)
        self.device = device
        meta = dataset_meta(self.cfg, ckpt_meta)
        self.classes = list(meta['classes'])
        palette = meta.get('palette')
        self.palette = [tuple(int(c) for c in p) for p in palette] if palette else None
        pipeline, self.spec = inference_pipeline(self.cfg, bands)
        self.pipeline = Compose(pipeline)
        self.batch_size = batch_size
        test_cfg = self.cfg.model.get('test_cfg') or {}
        slide = test_cfg.get('mode') == 'slide'
        crop = test_cfg.get('crop_size') if slide else None
        step = test_cfg.get('stride') if slide else None
        self.tile = int(tile or (crop[0] if crop else 512))
        self.stride = int(stride or (step[0] if step and not tile else self.tile // 2))
        if self.stride > self.tile:
            raise ValueError(f'stride {self.stride} is larger than the tile {self.tile}')
        self.checkpoint = checkpoint
        self.band_width = max(BAND_WIDTH, 2 * self.tile)
        # blending weights of a tile's logits: highest in its centre, falling off towards its edges
        self.blend_weights = tile_weights(self.tile, self.tile)
        decode_head = getattr(self.model, 'decode_head', None)
        self.threshold = float(getattr(decode_head, 'threshold', None) or 0.5)
        # strips of tiles read at once when every transform works pixel by pixel (0: tile by tile)
        pointwise = all(getattr(t, 'pointwise', False) for t in self.pipeline.transforms)
        self.strip_width = max(STRIP_WIDTH, self.tile) if pointwise else 0
        # a head whose logits are not softmax logits says how to read them as probabilities
        self.to_probabilities = getattr(decode_head, 'probabilities_from_logits', None) or softmax

    # -- samples ----------------------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def out_channels(self) -> int:
        """Logit channels: one per class, or one for a binary head with a sigmoid output."""
        return int(getattr(self.model, 'out_channels', self.num_classes))

    def check(self, sample: Sample) -> list:
        """Fail early, with the file's name, on inputs this config cannot read; returns the inputs' headers, the
        primary's first."""
        if sample.problem:
            raise RasterError(sample.problem)
        backend = self.spec.loader.get('backend', 'rasterio')
        metas = []
        for key in self.spec.path_keys:
            paths = sample.paths[key]
            for path in [paths] if isinstance(paths, str) else paths:
                meta = read_meta(path, backend)
                check_bands(path, self.spec.bands_for(key), meta.count)
                metas.append(meta)
        primary = metas[0]
        for meta in metas[1:]:
            if (meta.height, meta.width) != (primary.height, primary.width):
                raise RasterError(f'{meta.path}: {meta.height}x{meta.width} pixels, but {primary.path} of the same '
                                  f'sample has {primary.height}x{primary.width}')
        return metas

    # -- tiles --------------------------------------------------------------------------------------------------
    def _prepare(self, sample: Sample, tile: Tile) -> PreparedTile:
        results = dict(sample.paths)
        results['read_window'] = tile.window
        packed = self.pipeline(results)
        if packed is None:
            raise RuntimeError(f'{sample.primary}: the test pipeline dropped tile {tile.window}')
        inputs, data_sample = packed['inputs'], packed['data_samples']
        nodata = None
        if 'nodata_mask' in data_sample:
            mask = data_sample.nodata_mask.data[0]
            if tuple(mask.shape) != (tile.height, tile.width):  # the pipeline resized the tile; logits are resized back
                mask = F.interpolate(mask[None, None].float(), size=(tile.height, tile.width), mode='nearest')[0, 0] > 0
            nodata = mask.numpy()
        return self._padded(PreparedTile(tile, inputs, data_sample, nodata))

    def _prepare_strip(self, sample: Sample, tiles: list[Tile], window: tuple) -> list[PreparedTile]:
        """Run the pipeline once over a strip of neighbouring tiles and cut the tiles out of its output (valid for
        pipelines of pixel-by-pixel transforms): neighbours overlap, so this reads and converts each pixel once per
        strip instead of once per tile."""
        results = dict(sample.paths)
        results['read_window'] = window
        packed = self.pipeline(results)
        if packed is None:
            raise RuntimeError(f'{sample.primary}: the test pipeline dropped the window {window}')
        inputs, strip_sample = packed['inputs'], packed['data_samples']
        nodata = strip_sample.nodata_mask.data[0].numpy() if 'nodata_mask' in strip_sample else None
        meta = strip_sample.metainfo
        geo = meta.get('geo_meta')
        prepared = []
        for tile in tiles:
            c = tile.col - window[1]
            tile_meta = dict(meta, img_shape=(tile.height, tile.width), ori_shape=(tile.height, tile.width))
            if geo is not None:
                tile_meta['geo_meta'] = dict(geo, window=tile.window, transform=window_transform(
                    geo.get('transform'), (0, c, tile.height, tile.width)))
            # contiguous here, in the reader thread: batching strided views costs the model's thread a slow copy
            tile_inputs = inputs[..., c:c + tile.width].contiguous()
            tile_nodata = nodata[:, c:c + tile.width] if nodata is not None else None
            prepared.append(self._padded(PreparedTile(tile, tile_inputs, type(strip_sample)(metainfo=tile_meta),
                                                      tile_nodata)))
        return prepared

    def _padded(self, item: PreparedTile) -> PreparedTile:
        """Set the size the tile's logits must have; pad the input of a raster smaller than the tile size to it (only
        the raster's part of the prediction is kept). An input the pipeline resized is left as it is: its logits are
        resized back to the tile's own pixels."""
        t = item.tile
        item.logit_size = (t.height, t.width)
        if tuple(item.inputs.shape[-2:]) == (t.height, t.width) and (t.height < self.tile or t.width < self.tile):
            item.inputs = F.pad(item.inputs, (0, self.tile - t.width, 0, self.tile - t.height))
            item.data_sample.set_metainfo(dict(img_shape=(self.tile, self.tile), ori_shape=(self.tile, self.tile)))
            item.logit_size = (self.tile, self.tile)
        return item

    def _tiles(self, sample: Sample, grid: TileGrid) -> Iterator[PreparedTile]:
        """Runs in the reader thread: one thread for its torch ops (a per-thread setting; the model's forward keeps
        its threads: splitting small per-tile ops across threads only adds synchronisation), and every input kept
        open. A pipeline of pixel-by-pixel transforms runs once per strip of tiles, any other once per tile."""
        torch.set_num_threads(1)
        with keep_open():
            if self.strip_width:
                for tiles, window in grid.strips(self.strip_width):
                    yield from self._prepare_strip(sample, tiles, window)
            else:
                for tile in grid:
                    yield self._prepare(sample, tile)

    @torch.inference_mode()
    def forward_logits(self, inputs: list[torch.Tensor], data_samples: list,
                       size: tuple[int, int] | None = None) -> torch.Tensor:
        """``(B, K, h, w)`` logits of a batch of prepared tiles (the segmentor's own ``encode_decode``), resized to
        ``size`` when the model's output has another size (a test pipeline that resizes)."""
        data = self.model.data_preprocessor(dict(inputs=inputs, data_samples=data_samples), False)
        metas = [s.metainfo for s in data['data_samples']]
        logits = self.model.encode_decode(data['inputs'], metas)
        if size is not None and tuple(logits.shape[-2:]) != tuple(size):
            logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
        return logits

    def _batches(self, tiles: Iterator[PreparedTile]) -> Iterator[list[PreparedTile]]:
        batch = []
        for item in tiles:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    # -- a whole raster -----------------------------------------------------------------------------------------
    def output_paths(self, sample: Sample, out_dir: str | Path, probabilities: bool) -> dict:
        out_dir = Path(out_dir)
        paths = dict(classes=out_dir / f'{sample.name}_pred.tif')
        if probabilities:
            paths['probabilities'] = out_dir / f'{sample.name}_prob.tif'
        return paths

    def predict(self, sample: Sample, out_dir: str | Path, probabilities: bool = False, cog: bool = False,
                on_tiles: Callable[[int], None] | None = None, on_start: Callable[[int], None] | None = None) -> dict:
        """Predict ``sample`` into ``out_dir``; returns ``{'classes': path[, 'probabilities': path]}``.

        ``on_start(n_tiles)`` and ``on_tiles(n_done)`` report progress.
        """
        metas = self.check(sample)
        meta = metas[0]
        grid = TileGrid(meta.height, meta.width, self.tile, self.stride)
        strips = grid.column_strips(self.band_width, OUTPUT_BLOCK)
        cachemax = streaming_cache_bytes(metas, 1 + (4 * self.num_classes if probabilities else 0),
                                         span=max(s.span[1] - s.span[0] for s in strips))
        if on_start:
            on_start(sum(len(s) for s in strips))
        paths = self.output_paths(sample, out_dir, probabilities)
        k = self.num_classes
        common = dict(height=meta.height, width=meta.width, crs=meta.crs, transform=meta.transform, cog=cog)
        tags = {PRODUCER_TAG: PRODUCER, 'classes': self.classes, 'palette': self.palette, 'source': sample.primary,
                'checkpoint': Path(self.checkpoint).name, 'tile': self.tile, 'stride': self.stride}
        class_dtype = 'uint8' if k < CLASS_NODATA else 'uint16'
        class_nodata = CLASS_NODATA if k < CLASS_NODATA else 65535
        colormap = {i: c for i, c in enumerate(self.palette)} if self.palette and class_dtype == 'uint8' else None
        if colormap is not None:
            colormap[class_nodata] = (0, 0, 0)
        writers = dict(classes=GeoTiffWriter(paths['classes'], count=1, dtype=class_dtype, nodata=class_nodata,
                                                  colormap=colormap, band_descriptions=['class'],
                                                  tags=dict(tags, **{f'CLASS_{i}': n for i, n in
                                                                     enumerate(self.classes)}), **common))
        if probabilities:
            writers['probabilities'] = GeoTiffWriter(
                paths['probabilities'], count=k, dtype='float32', nodata=PROB_NODATA,
                band_descriptions=list(self.classes), tags=tags, overview_resampling='average', **common)
        channels = self.out_channels
        weights = self.blend_weights
        opened = []
        try:
            with gdal_env(cachemax):
                for w in writers.values():
                    opened.append(w.__enter__())

                def flush(done, strip: TileGrid) -> None:
                    if done is None:
                        return
                    top, logits, nodata = done
                    # the strip's own columns (its tiles reach into its neighbours')
                    keep = slice(strip.columns[0] - strip.span[0], strip.columns[1] - strip.span[0])
                    logits, nodata = logits[:, :, keep], nodata[:, keep]
                    col = strip.columns[0]
                    if channels == 1:  # one sigmoid output: class 1 where its probability passes the threshold
                        probs = 1.0 / (1.0 + np.exp(-logits))
                        classes = (probs[0] > self.threshold).astype(class_dtype)
                        probs = np.concatenate([1.0 - probs, probs])
                    else:
                        classes = logits.argmax(axis=0).astype(class_dtype)
                        probs = self.to_probabilities(logits) if probabilities else None
                    classes[nodata] = class_nodata
                    writers['classes'].write(classes, top, col)
                    if probabilities:
                        probs[:, nodata] = PROB_NODATA
                        writers['probabilities'].write(probs.astype(np.float32), top, col)

                for strip in strips:
                    acc = RowBandAccumulator(channels, grid.tile_height, strip.span[1] - strip.span[0],
                                             col0=strip.span[0])
                    row_index = 0
                    tiles = prefetch(lambda s=strip: self._tiles(sample, s), 2 * self.batch_size, cachemax)
                    for batch in self._batches(tiles):
                        logits = self.forward_logits([t.inputs for t in batch], [t.data_sample for t in batch],
                                                     batch[0].logit_size)
                        logits = logits.float().cpu().numpy()
                        for item, p in zip(batch, logits):
                            t = item.tile
                            if t.row_index != row_index:
                                row_index = t.row_index
                                flush(acc.advance_to(t.row), strip)
                            nodata = item.nodata[:t.height, :t.width] if item.nodata is not None else None
                            acc.add(t, p[:, :t.height, :t.width], weights[:t.height, :t.width], nodata)
                        if on_tiles:
                            on_tiles(len(batch))
                    flush(acc.finish(meta.height), strip)
                for w in writers.values():
                    w.commit()
        finally:
            for w in opened:
                w.abort()  # no-op after commit(); removes the temporary files otherwise
        return paths
