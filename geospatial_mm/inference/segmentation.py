"""Streaming sliding-window segmentation of rasters of any size in bounded memory.

See :mod:`.predictor` for how tiles are read. Batches of tiles run through the model (a segmentor's own
``encode_decode``, or an exported model); their logits are blended with weights that fall off towards each tile's
edges (:mod:`geospatial_mm.io.blending`) into a band of rows that rolls down the raster, and every finished band of
rows is written to the outputs: a class map and, on request, class probabilities.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from geospatial_mm.io import RasterError
from geospatial_mm.io.atomic import JSONValue
from geospatial_mm.io.blending import tile_weights
from geospatial_mm.io.gdal import gdal_env, streaming_cache_bytes
from geospatial_mm.io.geotiff import GeoTiffWriter
from geospatial_mm.io.raster import RasterMeta
from geospatial_mm.io.tiles import TileGrid
from geospatial_mm.visualization.preview import nodata_colour
from .options import PredictOptions
from .outputs import PRODUCER, PRODUCER_TAG
from .predictor import OUTPUT_BLOCK, RasterPredictor
from .prefetch import BackgroundWriter
from .rolling_band import FinishedRows, RowBandAccumulator
from .scene_parts import ScenePart, part_bounds
from .sources import Sample
from .tile_model import TileModel

CLASS_NODATA = 255
PROB_NODATA = -1.0


class SegmentationRasterPredictor(RasterPredictor):
    """Predict class maps (and optionally class probabilities) for rasters with a segmentation model.

    The common arguments are :class:`~geospatial_mm.inference.predictor.RasterPredictor`'s; ``tile`` and ``stride``
    default to the model's (a config's sliding-window ``test_cfg``, else 512 and half of it; an exported model's tile).

    Args:
        probabilities: also write the per-class probabilities (``<name>_prob.tif``).
    """

    def __init__(self, model: TileModel, batch_size: int = 8, tile: int | None = None, stride: int | None = None,
                 readers: int | None = None, cog: bool = False, probabilities: bool = False) -> None:
        if model.task != 'segmentation':
            raise ValueError(f'a segmentation predictor needs a segmentation model, got a {model.task} model')
        super().__init__(model, batch_size=batch_size, tile=tile, stride=stride, readers=readers, cog=cog)
        self.probabilities = probabilities
        # blending weights of a tile's logits: highest in its centre, falling off towards its edges
        self.blend_weights = tile_weights(self.tile, self.tile)
        self.encoding = ClassEncoding.for_classes(self.num_classes, self.palette)

    @classmethod
    def from_options(cls, model: TileModel, options: PredictOptions) -> SegmentationRasterPredictor:
        """The predictor of a run's options.

        Args:
            model: a segmentation model.
            options: the run's options (tiling, ``cog``, ``probabilities``).

        Returns:
            The predictor.
        """
        return cls(model, batch_size=options.batch_size, tile=options.tile, stride=options.stride,
                   readers=options.readers, cog=options.cog, probabilities=options.probabilities)

    # -- a whole raster -----------------------------------------------------------------------------------------
    def output_paths(self, sample: Sample, out_dir: str | Path) -> dict[str, Path]:
        """The files :meth:`predict` writes for ``sample``.

        Args:
            sample: the sample.
            out_dir: the output folder.

        Returns:
            ``{'classes': <name>_pred.tif}``, with ``'probabilities': <name>_prob.tif`` when they are written.
        """
        out_dir = Path(out_dir)
        paths = dict(classes=out_dir / f'{sample.name}_pred.tif')
        if self.probabilities:
            paths['probabilities'] = out_dir / f'{sample.name}_prob.tif'
        return paths

    def _write(self, sample: Sample, metas: list[RasterMeta], grid: TileGrid, strips: list[TileGrid],
               paths: dict[str, Path], on_tiles: Callable[[int], None] | None) -> None:
        """The strips' blended class maps (and probabilities) into GeoTIFFs renamed into place when complete."""
        self._stream(sample, metas, strips, self._writers(sample, metas[0], paths), on_tiles)

    def _stream(self, sample: Sample, metas: list[RasterMeta], strips: list[TileGrid],
                writers: dict[str, GeoTiffWriter], on_tiles: Callable[[int], None] | None) -> None:
        """Predict the strips' rows (``strips[0].rows``) into ``writers``, committed when all are written."""
        cachemax = streaming_cache_bytes(metas, self._bytes_per_pixel, span=max(s.span[1] - s.span[0] for s in strips))
        with gdal_env(cachemax), contextlib.ExitStack() as opened:  # any error: no output under its final name
            for writer in writers.values():
                opened.enter_context(writer)
            background = BackgroundWriter(context=lambda: gdal_env(cachemax))  # GDAL writes overlap the model
            try:
                for strip in strips:
                    self._predict_strip(sample, strip, cachemax, writers, background, on_tiles)
            finally:
                background.close()
            for writer in writers.values():
                writer.commit()

    @property
    def _bytes_per_pixel(self) -> int:
        """Bytes of every output pixel, all outputs together."""
        return 1 + (4 * self.num_classes if self.probabilities else 0)

    # -- a raster shared by several processes (scene_parts.py) ---------------------------------------------------
    def split(self, meta: RasterMeta, count: int) -> list[ScenePart]:
        """The raster cut into up to ``count`` bands of rows, each but the last a multiple of the output's blocks.

        Args:
            meta: the primary input's header.
            count: the number of processes.

        Returns:
            The parts, top to bottom.
        """
        bounds = part_bounds(meta.height, count, OUTPUT_BLOCK)
        return [ScenePart(i, len(bounds), b) for i, b in enumerate(bounds)]

    def part_settings(self, sample: Sample, metas: list[RasterMeta]) -> dict[str, JSONValue]:
        """What the values of a raster's parts depend on: the base's, and whether probabilities are written.

        Args:
            sample: the sample.
            metas: its inputs' headers.

        Returns:
            The settings.
        """
        return dict(super().part_settings(sample, metas), probabilities=self.probabilities,
                    threshold=getattr(self.model, 'threshold', None))

    def part_kinds(self) -> dict[str, str]:
        """What the files of a part hold: its rows of the class map (and of the probabilities).

        Returns:
            ``{kind: file extension}``.
        """
        return dict(classes='.tif', probabilities='.tif') if self.probabilities else dict(classes='.tif')

    def predict_part(self, sample: Sample, metas: list[RasterMeta], part: ScenePart, files: dict[str, Path],
                     on_tiles: Callable[[int], None] | None = None,
                     on_start: Callable[[int], None] | None = None) -> None:
        """Predict the rows of one part: every tile that reaches them, blended as in a one-process run."""
        meta = metas[0]
        grid = TileGrid(meta.height, meta.width, self.tile, self.stride).row_part(*part.bounds)
        strips = grid.column_strips(self.band_width, OUTPUT_BLOCK)
        if on_start:
            on_start(sum(len(s) for s in strips))
        self._stream(sample, metas, strips, self._writers(sample, meta, files, part), on_tiles)

    def join(self, sample: Sample, metas: list[RasterMeta], parts: list[ScenePart], files: list[dict[str, Path]],
             paths: dict[str, Path]) -> None:
        """Copy the parts' rows into the outputs, block row by block row, written as a one-process run writes them.

        Raises:
            RasterError: a part's file has not the rows and columns of its part.
        """
        import rasterio
        from rasterio.windows import Window
        meta = metas[0]
        writers = self._writers(sample, meta, paths)
        cachemax = 2 * OUTPUT_BLOCK * min(meta.width, self.band_width + 512) * self._bytes_per_pixel + (16 << 20)
        with gdal_env(cachemax), contextlib.ExitStack() as opened:  # any error: no output under its final name
            for writer in writers.values():
                opened.enter_context(writer)
            for kind, writer in writers.items():
                for part, part_files in zip(parts, files):
                    lo, hi = part.bounds
                    with rasterio.open(part_files[kind]) as src:
                        if (src.height, src.width) != (hi - lo, meta.width):
                            raise RasterError(f'{part_files[kind]}: {src.height}x{src.width} pixels, but part {part} '
                                              f'of {sample.source} has rows {lo}-{hi} of {meta.width} columns')
                        for top in range(0, hi - lo, OUTPUT_BLOCK):
                            n = min(OUTPUT_BLOCK, hi - lo - top)
                            for col in range(0, meta.width, self.band_width):
                                w = min(self.band_width, meta.width - col)
                                writer.write(src.read(window=Window(col, top, w, n)), lo + top, col)
            for writer in writers.values():
                writer.commit()

    def _writers(self, sample: Sample, meta: RasterMeta, paths: dict[str, Path],
                 part: ScenePart | None = None) -> dict[str, GeoTiffWriter]:
        """The writers of the class map (palette as colour table, class names in the tags) and the probabilities.

        Every output has the input's grid (size, CRS and transform); a part's files have its rows of it (and are
        plain GeoTIFFs: the join writes the Cloud-Optimised one).
        """
        encoding = self.encoding
        tags: dict[str, JSONValue] = {PRODUCER_TAG: PRODUCER, 'classes': self.classes, 'palette': self.palette,
                                      'source': sample.source, 'checkpoint': self.model.name, 'tile': self.tile,
                                      'stride': self.stride}
        height, width, crs, transform = meta.height, meta.width, meta.crs, meta.transform
        cog = self.cog
        if part is not None:
            lo, hi = part.bounds
            height, cog = hi - lo, False
            tags['part'] = f'{part} rows {lo}-{hi}'
            if transform is not None:  # its first row is the raster's row lo
                a, b, c, d, e, f = transform
                transform = (a, b, c + b * lo, d, e, f + e * lo)
        writers = dict(classes=GeoTiffWriter(paths['classes'], height, width, count=1, dtype=encoding.dtype, crs=crs,
                                             transform=transform, nodata=encoding.nodata, colormap=encoding.colormap,
                                             band_descriptions=['class'],
                                             tags=dict(tags, **{f'CLASS_{i}': n for i, n in enumerate(self.classes)}),
                                             cog=cog))
        if self.probabilities:
            writers['probabilities'] = GeoTiffWriter(
                paths['probabilities'], height, width, count=self.num_classes, dtype='float32', crs=crs,
                transform=transform, nodata=PROB_NODATA, band_descriptions=list(self.classes), tags=tags,
                overview_resampling='average', cog=cog)
        return writers

    def _predict_strip(self, sample: Sample, strip: TileGrid, cachemax: int | None,
                       writers: dict[str, GeoTiffWriter], background: BackgroundWriter,
                       on_tiles: Callable[[int], None] | None) -> None:
        """The tiles of one vertical strip: batches through the model, blended into a band of rows.

        The band rolls down the strip (from its first tile row: a part of a raster starts lower); every finished band
        of rows goes to the writers.
        """
        model, arrays = self.model, self.model.arrays
        weights = arrays.from_host(self.blend_weights)
        acc = RowBandAccumulator(model.out_channels, strip.tile_height, strip.span[1] - strip.span[0],
                                 col0=strip.span[0], arrays=arrays)
        acc.top = strip.row_starts[0]
        row_index = 0
        for batch in self._batches(self.tiles(sample, strip, cachemax)):
            logits = model.forward(self._model_batch(batch), batch[0].logit_size)
            for item, p in zip(batch, logits):
                t = item.tile
                if t.row_index != row_index:
                    row_index = t.row_index
                    self._write_rows(acc.advance_to(t.row), strip, writers, background)
                nodata = None
                if item.nodata is not None:
                    nodata = arrays.from_host(item.nodata[:t.height, :t.width])
                acc.add(t, p[:, :t.height, :t.width], weights[:t.height, :t.width], nodata)
            if on_tiles:
                on_tiles(len(batch))
        self._write_rows(acc.finish(strip.rows[1]), strip, writers, background)

    def _write_rows(self, done: FinishedRows | None, strip: TileGrid, writers: dict[str, GeoTiffWriter],
                    background: BackgroundWriter) -> None:
        """Finished rows -> classes (and probabilities) on the device.

        Only those leave the device, written in the background.
        """
        if done is None:
            return
        model, arrays, encoding = self.model, self.model.arrays, self.encoding
        top, logits, nodata = done
        # the strip's own rows and columns (its tiles reach into its neighbours' and, for a part, other parts')
        lo, hi = strip.rows
        first, stop = max(top, lo), min(top + logits.shape[1], hi)
        if stop <= first:
            return
        keep = slice(strip.columns[0] - strip.span[0], strip.columns[1] - strip.span[0])
        logits, nodata = logits[:, first - top:stop - top, keep], nodata[first - top:stop - top, keep]
        top, col = first - lo, strip.columns[0]  # rows of the file written: a part's start at its first row
        one_output = model.out_channels == 1
        if one_output:  # one sigmoid output: class 1 where its probability passes the threshold
            probs = model.probabilities(logits)
            classes = probs[1] > model.threshold
        else:
            probs = model.probabilities(logits) if self.probabilities else None
            classes = arrays.argmax(logits)
        classes = arrays.astype(classes, encoding.array_dtype)
        classes[nodata] = encoding.nodata
        classes = arrays.to_host(classes).astype(encoding.dtype, copy=False)
        background.submit(lambda: writers['classes'].write(classes, top, col))
        if self.probabilities:
            probs = arrays.astype(probs, 'float32')
            probs[:, nodata] = PROB_NODATA
            probs = arrays.to_host(probs).astype(np.float32, copy=False)
            background.submit(lambda: writers['probabilities'].write(probs, top, col))


@dataclass(frozen=True)
class ClassEncoding:
    """How class indices are stored.

    uint8 with nodata 255 and the palette as colour table for fewer than 255 classes, else uint16 with nodata 65535
    (computed in int32) and no colour table.
    """
    dtype: str
    array_dtype: str
    nodata: int
    colormap: dict[int, tuple[int, ...]] | None

    @classmethod
    def for_classes(cls, num_classes: int, palette: Sequence[Sequence[int]] | None) -> ClassEncoding:
        """The encoding of a class map.

        Args:
            num_classes: the number of classes.
            palette: their colours (RGB), or None.

        Returns:
            The encoding; the colour table gives nodata the colour the previews give it.
        """
        if num_classes >= CLASS_NODATA:
            return cls('uint16', 'int32', 65535, None)
        colormap = None
        if palette:
            colormap = {i: tuple(int(v) for v in c) for i, c in enumerate(palette)}
            colormap[CLASS_NODATA] = tuple(nodata_colour(palette))
        return cls('uint8', 'uint8', CLASS_NODATA, colormap)
