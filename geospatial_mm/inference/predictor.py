"""What the streaming predictors share: input checks, tiles read by background threads, and batches of them.

They serve any :class:`~geospatial_mm.inference.tile_model.TileModel` (a config and its checkpoint, or an exported
model file).

For each raster reader threads cut the tile grid's windows and read only those pixels the model's way (a config's own
test pipeline, or an exported model's readers: same bands, scaling, nodata handling and normalisation as in
training), once per strip of neighbouring tiles when every step works pixel by pixel; the predictor that extends this
base runs batches of tiles through the model and writes what it makes of them. Neither the input nor the output
raster is ever held whole, and a raster wider than ``BAND_WIDTH`` is predicted in vertical strips
(:meth:`~geospatial_mm.io.tiles.TileGrid.column_strips`), so memory depends on neither its height nor its width.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Self

import numpy as np
from numpy.typing import NDArray

from geospatial_mm.io import RasterError, check_bands, keep_open, read_meta
from geospatial_mm.io.atomic import JSONValue
from geospatial_mm.io.gdal import gdal_env
from geospatial_mm.io.raster import RasterMeta, Window
from geospatial_mm.io.tiles import Tile, TileGrid
from .arrays import Array
from .memory import keep_freed_memory
from .options import PredictOptions
from .prefetch import parallel_map
from .scene_parts import PartFolder, ScenePart, fingerprint
from .sources import Sample
from .tile_model import TileModel, WindowInputs

if TYPE_CHECKING:
    from mmengine.structures import BaseDataElement

STRIP_WIDTH = 2048  # widest window read at once for a strip of tiles
BAND_WIDTH = 4096  # widest run of columns predicted at once: wider rasters are predicted in vertical strips
OUTPUT_BLOCK = 256  # block size of the output GeoTIFFs (GeoTiffWriter): vertical strips are multiples of it


@dataclass
class PreparedTile:
    """A tile of the grid with its input ready for the model's batches (a :class:`~.tile_model.TileInputs`)."""
    tile: Tile
    inputs: Array
    meta: BaseDataElement | None
    nodata: NDArray[np.bool_] | None
    logit_size: tuple[int, int] | None = None  # the tile's pixels (padded to the tile size for small rasters)


class RasterPredictor:
    """The base of the streaming predictors (see the module docstring).

    Args:
        model: the model (:class:`~geospatial_mm.inference.tile_model.TileModel`: a config and its checkpoint, or an
            exported model file).
        batch_size: tiles per forward pass.
        tile, stride: sliding-window size and step in pixels; default: the model's
            (:meth:`~geospatial_mm.inference.tile_model.TileModel.tile_and_stride`).
        readers: threads reading tiles (GDAL reads, numpy and the tensor work of the pipeline release the GIL);
            default 1 on the CPU, where the model needs the cores, and up to 4 on a GPU.
        cog: write Cloud-Optimised GeoTIFFs.

    A predictor is built from a run's options (:meth:`from_options`), says what it writes (:meth:`output_paths`) and
    writes it (:meth:`predict`).
    """

    def __init__(self, model: TileModel, batch_size: int = 8, tile: int | None = None, stride: int | None = None,
                 readers: int | None = None, cog: bool = False) -> None:
        keep_freed_memory()  # the same large buffers again and again: reuse them instead of faulting pages anew
        self.model = model
        self.tile, self.stride = model.tile_and_stride(tile, stride)
        if self.stride > self.tile:
            raise ValueError(f'stride {self.stride} is larger than the tile {self.tile}')
        self.spec = model.spec
        self.classes = list(model.classes)
        self.palette = model.palette
        self.device = model.device
        self.precision = model.precision
        self.readers = int(readers or model.default_readers())
        self.batch_size = batch_size
        self.cog = cog
        self.band_width = max(BAND_WIDTH, 2 * self.tile)
        # strips of tiles read at once when every step from file values to the model's input works pixel by pixel
        self.strip_width = max(STRIP_WIDTH, self.tile) if model.pointwise else 0

    # -- what a predictor writes ------------------------------------------------------------------------------
    @classmethod
    def from_options(cls, model: TileModel, options: PredictOptions) -> Self:
        """The predictor of a run's options.

        Args:
            model: the model, of the predictor's task.
            options: the run's options.

        Returns:
            The predictor.

        Raises:
            NotImplementedError: the base does not say (each predictor does).
        """
        raise NotImplementedError

    def output_paths(self, sample: Sample, out_dir: str | Path) -> dict[str, Path]:
        """The files :meth:`predict` writes for ``sample``.

        Args:
            sample: the sample.
            out_dir: the output folder.

        Returns:
            ``{kind: path}``.

        Raises:
            NotImplementedError: the base does not say (each predictor does).
        """
        raise NotImplementedError

    def predict(self, sample: Sample, out_dir: str | Path, on_tiles: Callable[[int], None] | None = None,
                on_start: Callable[[int], None] | None = None) -> dict[str, Path]:
        """Predict ``sample`` into ``out_dir``.

        Its inputs are checked, its tile grid is cut into vertical strips, and :meth:`_write` writes the outputs.

        Args:
            sample: the sample.
            out_dir: the output folder.
            on_tiles: called with the number of tiles of each batch done (progress).
            on_start: called once with the number of tiles.

        Returns:
            :meth:`output_paths`: every file is complete under its final name.

        Raises:
            RasterError: an input cannot be read as the model reads it.
        """
        metas = self.check(sample)
        grid = TileGrid(metas[0].height, metas[0].width, self.tile, self.stride)
        strips = grid.column_strips(self.band_width, OUTPUT_BLOCK)
        if on_start:
            on_start(sum(len(s) for s in strips))
        paths = self.output_paths(sample, out_dir)
        self._write(sample, metas, grid, strips, paths, on_tiles)
        return paths

    def _write(self, sample: Sample, metas: list[RasterMeta], grid: TileGrid, strips: list[TileGrid],
               paths: dict[str, Path], on_tiles: Callable[[int], None] | None) -> None:
        """Predict the tiles of ``strips`` (of ``grid``) and write the outputs to ``paths``.

        Each output is complete under its final name or not there at all; ``metas`` are the inputs' headers, the
        primary's first.
        """
        raise NotImplementedError

    # -- one raster shared by several processes (scene_parts.py) -----------------------------------------------
    def part_kinds(self) -> dict[str, str]:
        """What the files of a part of a raster hold.

        Returns:
            ``{kind: file extension}``.

        Raises:
            NotImplementedError: the base does not say (each predictor does).
        """
        raise NotImplementedError

    def split(self, meta: RasterMeta, count: int) -> list[ScenePart]:
        """The raster cut into up to ``count`` parts for as many processes.

        Args:
            meta: the primary input's header.
            count: the number of processes.

        Returns:
            The parts, top to bottom (fewer than ``count`` for a raster too small for them).

        Raises:
            NotImplementedError: the base does not say (each predictor does).
        """
        raise NotImplementedError

    def part_settings(self, sample: Sample, metas: list[RasterMeta]) -> dict[str, JSONValue]:
        """What the values of a raster's parts depend on (hashed into the name of their folder).

        Args:
            sample: the sample.
            metas: its inputs' headers.

        Returns:
            The model's name, task and classes, tiling, precision, the input's size and source.
        """
        return dict(model=self.model.name, task=self.model.task, classes=list(self.classes), tile=self.tile,
                    stride=self.stride, precision=self.precision, height=metas[0].height, width=metas[0].width,
                    source=sample.source)

    def part_folder(self, sample: Sample, metas: list[RasterMeta], out_dir: str | Path) -> PartFolder:
        """The folder that keeps the sample's parts until they are joined.

        Args:
            sample: the sample.
            metas: its inputs' headers.
            out_dir: the output folder.

        Returns:
            The folder (not created).
        """
        return PartFolder(out_dir, sample.name, fingerprint(self.part_settings(sample, metas)))

    def predict_part(self, sample: Sample, metas: list[RasterMeta], part: ScenePart, files: dict[str, Path],
                     on_tiles: Callable[[int], None] | None = None,
                     on_start: Callable[[int], None] | None = None) -> None:
        """Predict one part of ``sample`` into ``files`` (:meth:`part_kinds`), each written atomically.

        Args:
            sample: the sample.
            metas: its inputs' headers (:meth:`check`).
            part: the part.
            files: where its files go.
            on_tiles: called with the number of tiles of each batch done (progress).
            on_start: called once with the number of tiles.

        Raises:
            NotImplementedError: the base does not say (each predictor does).
        """
        raise NotImplementedError

    def join(self, sample: Sample, metas: list[RasterMeta], parts: list[ScenePart], files: list[dict[str, Path]],
             paths: dict[str, Path]) -> None:
        """Join the complete parts of ``sample`` into its outputs, as a one-process run writes them.

        Args:
            sample: the sample.
            metas: its inputs' headers.
            parts: all its parts.
            files: each part's files.
            paths: the outputs (:meth:`output_paths`), each written atomically.

        Raises:
            NotImplementedError: the base does not say (each predictor does).
        """
        raise NotImplementedError

    # -- samples ----------------------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.classes)

    def check(self, sample: Sample) -> list[RasterMeta]:
        """Fail early, with the file's name, on inputs this config cannot read.

        Returns:
            The inputs' headers, the primary's first.

        Raises:
            RasterError: the sample has a problem, a file lacks a band the model reads, or the files' sizes differ.
        """
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
        item = self.model.host(self.model.read(sample.paths, tile.window))
        return self._padded(tile, item)

    def _prepare_strip(self, sample: Sample, tiles: list[Tile], window: Window) -> list[PreparedTile]:
        """Read a strip of neighbouring tiles at once and cut the tiles out of it.

        Valid when every step works pixel by pixel: neighbours overlap, so this reads and converts each pixel once per
        strip instead of once per tile.
        """
        strip = self.model.read(sample.paths, window)
        return [self._padded(tile, self.model.crop(strip, tile.col - window[1], tile.width, tile.window))
                for tile in tiles]

    def _padded(self, tile: Tile, item: WindowInputs) -> PreparedTile:
        """The prepared tile, with the size its logits must have.

        The input of a raster smaller than the tile size is padded to it (only the raster's part of the prediction is
        kept). An input the model's pipeline resized is left as it is: its logits are resized back to the tile's own
        pixels.
        """
        logit_size = (tile.height, tile.width)
        if tuple(item.inputs.shape[-2:]) == logit_size and (tile.height < self.tile or tile.width < self.tile):
            item = self.model.pad(item, self.tile)
            logit_size = (self.tile, self.tile)
        return PreparedTile(tile, item.inputs, item.meta, item.nodata, logit_size)

    def _reader_context(self, cachemax: int | None) -> contextlib.ExitStack:
        """What each reader thread runs in.

        That is the model's own setting (one thread for its torch ops), the GDAL environment (per thread) and every
        input kept open (per thread).
        """
        stack = contextlib.ExitStack()
        stack.enter_context(self.model.reader_context())
        stack.enter_context(gdal_env(cachemax))
        stack.enter_context(keep_open())
        return stack

    def tiles(self, sample: Sample, grid: TileGrid, cachemax: int | None = None) -> Iterator[PreparedTile]:
        """The grid's tiles, prepared by ``readers`` threads, in the grid's order.

        They are read once per strip of tiles when every step works pixel by pixel, else once per tile.

        Yields:
            The prepared tiles.
        """
        ahead = max(2 * self.readers, 2)

        def context() -> contextlib.ExitStack:
            return self._reader_context(cachemax)

        prepared: Iterator[list[PreparedTile]]
        if self.strip_width:
            def read_strip(unit: tuple[list[Tile], Window]) -> list[PreparedTile]:
                return self._prepare_strip(sample, *unit)
            prepared = parallel_map(read_strip, grid.strips(self.strip_width), self.readers, ahead, context)
        else:
            def read_tile(unit: Tile) -> list[PreparedTile]:
                return [self._prepare(sample, unit)]
            prepared = parallel_map(read_tile, iter(grid), self.readers, ahead, context)
        for tiles in prepared:
            yield from tiles

    def _model_batch(self, batch: list[PreparedTile]) -> list[PreparedTile]:
        """The batch as the model sees it: a lone tile goes with a copy of itself when batches are larger.

        On the CPU a batch of one runs other kernels than larger batches do (its values differ in the last bits), so a
        tile's values would depend on how the tiles happen to fall into batches, and the parts of a raster shared by
        several processes (:mod:`.scene_parts`) batch them otherwise than one process does.
        """
        return batch * 2 if len(batch) == 1 and self.batch_size > 1 else batch

    def _batches(self, tiles: Iterator[PreparedTile]) -> Iterator[list[PreparedTile]]:
        batch: list[PreparedTile] = []
        for item in tiles:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
