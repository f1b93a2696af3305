"""What the streaming predictors share: the trained model and its test pipeline from a config, input checks, the tiles
of a raster read through that pipeline in a background thread, and batches of them.

For each raster a reader thread cuts the tile grid's windows and reads only those pixels through the config's own
test pipeline (same bands, scaling, nodata handling and normalisation as in training), once per strip of
neighbouring tiles when every transform works pixel by pixel; the predictor that extends this base runs batches of
tiles through the model and writes what it makes of them. Neither the input nor the output raster is ever held
whole, and a raster wider than ``BAND_WIDTH`` is predicted in vertical strips
(:meth:`~geospatial_mm.io.tiles.TileGrid.column_strips`), so memory depends on neither its height nor its width.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from geospatial_mm.io import RasterError, check_bands, keep_open, read_meta
from geospatial_mm.io.gdal import gdal_env
from geospatial_mm.io.georef import window_transform
from geospatial_mm.io.tiles import Tile, TileGrid
from .memory import keep_freed_memory
from .model import build_model, dataset_meta, inference_pipeline, load_config
from .prefetch import parallel_map
from .sources import Sample

PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
STRIP_WIDTH = 2048  # widest window read at once for a strip of tiles
BAND_WIDTH = 4096  # widest run of columns predicted at once: wider rasters are predicted in vertical strips
OUTPUT_BLOCK = 256  # block size of the output GeoTIFFs (GeoTiffWriter): vertical strips are multiples of it


@dataclass
class PreparedTile:
    tile: Tile
    inputs: torch.Tensor
    data_sample: object
    nodata: np.ndarray | None
    logit_size: tuple[int, int] | None = None  # the tile's pixels (padded to the tile size for small rasters)


class RasterPredictor:
    """The base of the streaming predictors (see the module docstring).

    Args:
        config: a config file of the package (or a Config).
        checkpoint: the trained checkpoint.
        device: 'cpu', 'cuda', 'cuda:1', ...
        batch_size: tiles per forward pass.
        tile, stride: sliding-window size and step in pixels; default: :meth:`default_tile_and_stride`.
        bands: override the loader's band selection (0-based indices into the input files).
        cfg_options: config overrides, as ``--cfg-options`` of the train/test tools.
        precision: ``'fp32'``, or ``'bf16'`` / ``'fp16'`` to run the model under torch's autocast in that type.
        readers: threads reading tiles (GDAL reads, numpy and the pipeline's tensor work release the GIL); default
            1 on the CPU, where the model needs the cores, and up to 4 on a GPU.
        input_scaling: ``dict(scale=..., offset=..., clip=(low, high))`` replacing the image loader's, for rasters
            of another sensor or product level than the training data (see :func:`.model.inference_pipeline`).

    A predictor says what it writes (:meth:`output_paths`) and writes it (:meth:`predict`).
    """

    def __init__(self, config, checkpoint: str, device: str = 'cpu', batch_size: int = 8, tile: int | None = None,
                 stride: int | None = None, bands=None, cfg_options: dict | None = None, precision: str = 'fp32',
                 readers: int | None = None, input_scaling: dict | None = None) -> None:
        from mmcv.transforms import Compose
        if precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {sorted(PRECISIONS)}, got {precision!r}')
        keep_freed_memory()  # the same large buffers again and again: reuse them instead of faulting pages anew
        self.cfg = load_config(config)
        if cfg_options:
            self.cfg.merge_from_dict(cfg_options)
        self.tile, self.stride = self.default_tile_and_stride(self.cfg, tile, stride)
        if self.stride > self.tile:
            raise ValueError(f'stride {self.stride} is larger than the tile {self.tile}')
        self.model, ckpt_meta = build_model(self.cfg, checkpoint, device)
        self.device = torch.device(device)
        self.precision = precision
        self.readers = int(readers or (1 if self.device.type == 'cpu' else min(4, os.cpu_count() or 1)))
        if self.device.type == 'cuda':  # tiles come in pinned host memory: copy them while the model runs
            self.model.data_preprocessor._non_blocking = True
        meta = dataset_meta(self.cfg, ckpt_meta)
        self.classes = list(meta['classes'])
        palette = meta.get('palette')
        self.palette = [tuple(int(c) for c in p) for p in palette] if palette else None
        pipeline, self.spec = inference_pipeline(self.cfg, bands, input_scaling)
        self.pipeline = Compose(pipeline)
        self.batch_size = batch_size
        self.checkpoint = checkpoint
        self.band_width = max(BAND_WIDTH, 2 * self.tile)
        # strips of tiles read at once when every transform works pixel by pixel (0: tile by tile)
        pointwise = all(getattr(t, 'pointwise', False) for t in self.pipeline.transforms)
        self.strip_width = max(STRIP_WIDTH, self.tile) if pointwise else 0

    @staticmethod
    def default_tile_and_stride(cfg, tile: int | None, stride: int | None) -> tuple[int, int]:
        """``(tile, stride)`` from the arguments, else from the config's sliding-window ``test_cfg``, else 512 and
        half of the tile."""
        test_cfg = cfg.model.get('test_cfg') or {}
        slide = test_cfg.get('mode') == 'slide'
        crop = test_cfg.get('crop_size') if slide else None
        step = test_cfg.get('stride') if slide else None
        size = int(tile or (crop[0] if crop else 512))
        return size, int(stride or (step[0] if step and not tile else size // 2))

    # -- what a predictor writes ------------------------------------------------------------------------------
    def output_paths(self, sample: Sample, out_dir: str | Path, **options) -> dict:
        """``{name: path}`` of the files :meth:`predict` writes for ``sample``."""
        raise NotImplementedError

    def predict(self, sample: Sample, out_dir: str | Path, cog: bool = False,
                on_tiles: Callable[[int], None] | None = None, on_start: Callable[[int], None] | None = None,
                **options) -> dict:
        """Predict ``sample`` into ``out_dir``; returns :meth:`output_paths`. ``on_start(n_tiles)`` and
        ``on_tiles(n_done)`` report progress."""
        raise NotImplementedError

    # -- samples ----------------------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.classes)

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
        inputs, data_sample = self._host_tensor(packed['inputs']), packed['data_samples']
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
            tile_inputs = self._host_tensor(inputs[..., c:c + tile.width])
            tile_nodata = nodata[:, c:c + tile.width] if nodata is not None else None
            prepared.append(self._padded(PreparedTile(tile, tile_inputs, type(strip_sample)(metainfo=tile_meta),
                                                      tile_nodata)))
        return prepared

    def _host_tensor(self, view: torch.Tensor) -> torch.Tensor:
        """A contiguous copy of ``view``, in pinned memory when the model is on a GPU (non-blocking copies)."""
        if self.device.type != 'cuda':
            return view.contiguous()
        return torch.empty(view.shape, dtype=view.dtype, pin_memory=True).copy_(view)

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

    def autocast(self) -> contextlib.AbstractContextManager:
        """The precision the model runs in (torch's autocast; nothing for fp32)."""
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _reader_context(self, cachemax: int | None) -> contextlib.ExitStack:
        """What each reader thread runs in: one thread for its torch ops (a per-thread setting; the model's forward
        keeps its threads), the GDAL environment (per thread) and every input kept open (per thread)."""
        torch.set_num_threads(1)
        stack = contextlib.ExitStack()
        stack.enter_context(gdal_env(cachemax))
        stack.enter_context(keep_open())
        return stack

    def tiles(self, sample: Sample, grid: TileGrid, cachemax: int | None = None) -> Iterator[PreparedTile]:
        """The grid's tiles, prepared by ``readers`` threads, in the grid's order: a pipeline of pixel-by-pixel
        transforms runs once per strip of tiles, any other once per tile."""
        if self.strip_width:
            units = grid.strips(self.strip_width)

            def read(unit):
                return self._prepare_strip(sample, *unit)
        else:
            units = iter(grid)

            def read(unit):
                return [self._prepare(sample, unit)]
        ahead = max(2 * self.readers, 2)
        for prepared in parallel_map(read, units, self.readers, ahead, lambda: self._reader_context(cachemax)):
            yield from prepared

    def _batches(self, tiles: Iterator[PreparedTile]) -> Iterator[list[PreparedTile]]:
        batch = []
        for item in tiles:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
