"""Streaming sliding-window segmentation of rasters of any size in bounded memory (see :mod:`.predictor` for how
tiles are read).

Batches of tiles run through the model (a segmentor's own ``encode_decode``, or an exported model); their logits
are blended with weights that fall off towards each tile's edges (:mod:`geospatial_mm.io.blending`) into a band of
rows that rolls down the raster, and every finished band of rows is written to the outputs: a class map and, on
request, class probabilities.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from geospatial_mm.io.blending import tile_weights
from geospatial_mm.io.gdal import gdal_env, streaming_cache_bytes
from geospatial_mm.io.geotiff import GeoTiffWriter
from geospatial_mm.io.tiles import TileGrid
from geospatial_mm.visualization.preview import nodata_colour
from .outputs import PRODUCER, PRODUCER_TAG
from .predictor import OUTPUT_BLOCK, RasterPredictor
from .prefetch import BackgroundWriter
from .rolling_band import RowBandAccumulator
from .sources import Sample
from .tile_model import TileModel

CLASS_NODATA = 255
PROB_NODATA = -1.0


class SegmentationRasterPredictor(RasterPredictor):
    """Predict class maps (and optionally class probabilities) for rasters with a segmentation model.

    The arguments are :class:`~geospatial_mm.inference.predictor.RasterPredictor`'s; ``tile`` and ``stride`` default
    to the model's (a config's sliding-window ``test_cfg``, else 512 and half of it; an exported model's tile).
    """

    def __init__(self, model: TileModel, batch_size: int = 8, tile: int | None = None, stride: int | None = None,
                 readers: int | None = None) -> None:
        if model.task != 'segmentation':
            raise ValueError(f'a segmentation predictor needs a segmentation model, got a {model.task} model')
        super().__init__(model, batch_size=batch_size, tile=tile, stride=stride, readers=readers)
        # blending weights of a tile's logits: highest in its centre, falling off towards its edges
        self.blend_weights = tile_weights(self.tile, self.tile)

    # -- a whole raster -----------------------------------------------------------------------------------------
    def output_paths(self, sample: Sample, out_dir: str | Path, probabilities: bool = False) -> dict:
        out_dir = Path(out_dir)
        paths = dict(classes=out_dir / f'{sample.name}_pred.tif')
        if probabilities:
            paths['probabilities'] = out_dir / f'{sample.name}_prob.tif'
        return paths

    def predict(self, sample: Sample, out_dir: str | Path, cog: bool = False,
                on_tiles: Callable[[int], None] | None = None, on_start: Callable[[int], None] | None = None,
                probabilities: bool = False) -> dict:
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
                'checkpoint': self.model.name, 'tile': self.tile, 'stride': self.stride}
        class_dtype = 'uint8' if k < CLASS_NODATA else 'uint16'
        class_array_dtype = 'uint8' if k < CLASS_NODATA else 'int32'  # written as uint16
        class_nodata = CLASS_NODATA if k < CLASS_NODATA else 65535
        colormap = {i: c for i, c in enumerate(self.palette)} if self.palette and class_dtype == 'uint8' else None
        if colormap is not None:  # nodata in the colour the previews give it
            colormap[class_nodata] = nodata_colour(self.palette)
        writers = dict(classes=GeoTiffWriter(paths['classes'], count=1, dtype=class_dtype, nodata=class_nodata,
                                                  colormap=colormap, band_descriptions=['class'],
                                                  tags=dict(tags, **{f'CLASS_{i}': n for i, n in
                                                                     enumerate(self.classes)}), **common))
        if probabilities:
            writers['probabilities'] = GeoTiffWriter(
                paths['probabilities'], count=k, dtype='float32', nodata=PROB_NODATA,
                band_descriptions=list(self.classes), tags=tags, overview_resampling='average', **common)
        model, arrays = self.model, self.model.arrays
        channels = model.out_channels
        weights = arrays.from_host(self.blend_weights)
        opened = []
        try:
            with gdal_env(cachemax):
                for w in writers.values():
                    opened.append(w.__enter__())
                writer = BackgroundWriter(context=lambda: gdal_env(cachemax))  # GDAL writes overlap the model

                def flush(done, strip: TileGrid) -> None:
                    """Finished rows -> classes (and probabilities) on the device; only those leave it."""
                    if done is None:
                        return
                    top, logits, nodata = done
                    # the strip's own columns (its tiles reach into its neighbours')
                    keep = slice(strip.columns[0] - strip.span[0], strip.columns[1] - strip.span[0])
                    logits, nodata = logits[:, :, keep], nodata[:, keep]
                    col = strip.columns[0]
                    probs = model.probabilities(logits) if probabilities or channels == 1 else None
                    if channels == 1:  # one sigmoid output: class 1 where its probability passes the threshold
                        classes = probs[1] > model.threshold
                    else:
                        classes = arrays.argmax(logits)
                    classes = arrays.astype(classes, class_array_dtype)
                    classes[nodata] = class_nodata
                    classes = arrays.to_host(classes).astype(class_dtype, copy=False)
                    writer.submit(lambda: writers['classes'].write(classes, top, col))
                    if probabilities:
                        probs = arrays.astype(probs, 'float32')
                        probs[:, nodata] = PROB_NODATA
                        probs = arrays.to_host(probs).astype(np.float32, copy=False)
                        writer.submit(lambda: writers['probabilities'].write(probs, top, col))

                try:
                    for strip in strips:
                        acc = RowBandAccumulator(channels, grid.tile_height, strip.span[1] - strip.span[0],
                                                 col0=strip.span[0], arrays=arrays)
                        row_index = 0
                        for batch in self._batches(self.tiles(sample, strip, cachemax)):
                            logits = model.forward(batch, batch[0].logit_size)
                            for item, p in zip(batch, logits):
                                t = item.tile
                                if t.row_index != row_index:
                                    row_index = t.row_index
                                    flush(acc.advance_to(t.row), strip)
                                nodata = None
                                if item.nodata is not None:
                                    nodata = arrays.from_host(item.nodata[:t.height, :t.width])
                                acc.add(t, p[:, :t.height, :t.width], weights[:t.height, :t.width], nodata)
                            if on_tiles:
                                on_tiles(len(batch))
                        flush(acc.finish(meta.height), strip)
                finally:
                    writer.close()
                for w in writers.values():
                    w.commit()
        finally:
            for w in opened:
                w.abort()  # no-op after commit(); removes the temporary files otherwise
        return paths
