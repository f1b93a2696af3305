"""Whole-raster instance segmentation with an MMDetection config, in bounded memory.

The raster is cut into overlapping tiles (``tile_size`` / ``tile_overlap`` of the config, or ``--tile`` /
``--stride``) that a reader thread reads through the config's own test pipeline (:mod:`.predictor`). Each batch of
tiles goes through the detector; the instances above ``score_thr`` are painted into a rolling band of rows by an
:class:`~geospatial_mm.inference.stitching.InstanceStitcher`, which merges the parts of objects cut by tile borders.
Finished rows go to a temporary raster of provisional ids; a second pass turns them into the outputs:

* ``<name>_instances.tif``: instance ids (uint16, or uint32 beyond 65534 instances), 0 where there is none;
* ``<name>_class_score.tif``: float32, band 1 the class (1..K as in the COCO files, 0 none), band 2 the score;
* ``<name>_instances.geojson`` (with ``geojson=True``): one polygon feature per instance (holes kept) in the raster's
  CRS, with its id, class, score and area.

Every output is written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
from numpy.typing import NDArray

from geospatial_mm.io.atomic import JSONValue, remove_stale_temporaries, temporary_path, write_json_atomic
from geospatial_mm.io.gdal import gdal_env, streaming_cache_bytes
from geospatial_mm.io.geotiff import GeoTiffWriter
from geospatial_mm.io.raster import RasterMeta
from geospatial_mm.io.tiles import Tile, TileGrid
from .detection_parts import DetectionPartReader, DetectionPartWriter, TileDetections
from .options import PredictOptions
from .outputs import PRODUCER, PRODUCER_TAG
from .predictor import OUTPUT_BLOCK, RasterPredictor
from .scene_parts import ScenePart, part_bounds
from .sources import Sample
from .stitching import InstanceStitcher, Resolved
from .tile_model import TileModel

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

BLOCK_ROWS = 256  # rows per read/write of the second pass
# the instances of a strip's tiles, a batch at a time: (tiles, their instances)
DetectionSource = Callable[[TileGrid], Iterator[tuple[list[Tile], list[TileDetections]]]]


class DetectionRasterPredictor(RasterPredictor):
    """Predict instance rasters (and optionally GeoJSON polygons) for rasters with a detection config.

    The common arguments are :class:`~geospatial_mm.inference.predictor.RasterPredictor`'s. ``tile`` defaults to the
    config's ``tile_size`` (else 512) and ``stride`` to ``tile`` minus the config's ``tile_overlap`` (else a quarter
    of the tile).

    Args:
        score_thr: instances scoring below are left out.
        merge_thr: how well two instances of neighbouring tiles must agree in their overlap to be one object (see
            :class:`~geospatial_mm.inference.stitching.InstanceStitcher`).
        min_area: final instances of fewer pixels are dropped.
        geojson: also write the polygons as GeoJSON.
    """

    def __init__(self, model: TileModel, batch_size: int = 8, tile: int | None = None, stride: int | None = None,
                 readers: int | None = None, cog: bool = False, score_thr: float = 0.5, merge_thr: float = 0.5,
                 min_area: int = 0, geojson: bool = False) -> None:
        if not 0 <= score_thr <= 1:
            raise ValueError(f'score_thr must be between 0 and 1, got {score_thr}')
        if model.task != 'detection':
            raise ValueError('a detection predictor needs an mmdet config (default_scope mmdet) and its checkpoint; '
                             'exported models are segmentation models')
        super().__init__(model, batch_size=batch_size, tile=tile, stride=stride, readers=readers, cog=cog)
        self.score_thr = score_thr
        self.merge_thr = merge_thr
        self.min_area = min_area
        self.geojson = geojson

    @classmethod
    def from_options(cls, model: TileModel, options: PredictOptions) -> DetectionRasterPredictor:
        """The predictor of a run's options.

        Args:
            model: a detection model.
            options: the run's options (tiling, ``cog``, ``score_thr``, ``merge_thr``, ``min_area``, ``geojson``).

        Returns:
            The predictor.
        """
        return cls(model, batch_size=options.batch_size, tile=options.tile, stride=options.stride,
                   readers=options.readers, cog=options.cog, score_thr=options.score_thr,
                   merge_thr=options.merge_thr, min_area=options.min_area, geojson=options.geojson)

    def output_paths(self, sample: Sample, out_dir: str | Path) -> dict[str, Path]:
        """The files :meth:`predict` writes for ``sample``.

        Args:
            sample: the sample.
            out_dir: the output folder.

        Returns:
            ``instances`` and ``class_score`` (and ``geojson``) paths.
        """
        out_dir = Path(out_dir)
        paths = dict(instances=out_dir / f'{sample.name}_instances.tif',
                     class_score=out_dir / f'{sample.name}_class_score.tif')
        if self.geojson:
            paths['geojson'] = out_dir / f'{sample.name}_instances.geojson'
        return paths

    def _write(self, sample: Sample, metas: list[RasterMeta], grid: TileGrid, strips: list[TileGrid],
               paths: dict[str, Path], on_tiles: Callable[[int], None] | None,
               source: DetectionSource | None = None) -> None:
        """Write the instance outputs in two passes.

        The strips' detections (the model's, or ``source``'s: those of a raster's parts) are stitched into
        provisional ids, then turned into the final instance rasters (and polygons), each renamed into place when
        complete.
        """
        meta = metas[0]
        final = Path(paths['instances'])
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(final)
        provisional = temporary_path(final, '.provisional.tif')
        try:
            # provisional ids are uint32, written in bands of one tile row
            cachemax = streaming_cache_bytes(metas, 4, rows=max(grid.tile_height, OUTPUT_BLOCK),
                                             span=max(s.span[1] - s.span[0] for s in strips))
            if source is None:
                def source(strip: TileGrid) -> Iterator[tuple[list[Tile], list[TileDetections]]]:
                    return self._detections(sample, strip, on_tiles, cachemax)
            stitcher = self._first_pass(sample, strips, meta, provisional, source, cachemax)
            resolved = stitcher.resolve(self.min_area)
            self._second_pass(sample, meta, provisional, resolved, paths)
        finally:
            provisional.unlink(missing_ok=True)

    def _detections(self, sample: Sample, grid: TileGrid, on_tiles: Callable[[int], None] | None,
                    cachemax: int | None) -> Iterator[tuple[list[Tile], list[TileDetections]]]:
        """The model's instances of the grid's tiles, batch by batch (masks over each tile's window)."""
        for batch in self._batches(self.tiles(sample, grid, cachemax)):
            detections = self.model.detect(self._model_batch(batch), self.score_thr)
            tiles = [item.tile for item in batch]
            yield tiles, [(masks[:, :t.height, :t.width], labels, scores)
                          for t, (masks, labels, scores) in zip(tiles, detections)]
            if on_tiles:
                on_tiles(len(batch))

    def _first_pass(self, sample: Sample, strips: list[TileGrid], meta: RasterMeta, provisional: Path,
                    source: DetectionSource, cachemax: int | None = None) -> InstanceStitcher:
        """Tiles -> stitched provisional ids, written to ``provisional`` row band by row band."""
        import rasterio
        from rasterio.windows import Window
        stitcher = InstanceStitcher(meta.width, strips[0].tile_height, self.merge_thr)
        profile = dict(driver='GTiff', height=meta.height, width=meta.width, count=1, dtype='uint32',
                       compress='deflate')
        if min(meta.height, meta.width) >= OUTPUT_BLOCK:
            profile.update(tiled=True, blockxsize=OUTPUT_BLOCK, blockysize=OUTPUT_BLOCK)
        if meta.transform is not None:
            from affine import Affine
            profile.update(crs=meta.crs, transform=Affine(*meta.transform))
        with gdal_env(cachemax), rasterio.open(provisional, 'w+', **profile) as dst:
            for strip in strips:
                (lo, hi), (s0, s1) = strip.columns, strip.span
                stitcher.start_strip(s1 - s0, s0, (lo, hi))
                finished = lo - s0  # band columns that the strips on the left finished

                def fill(row0: int, row1: int) -> None:
                    """The finished columns' ids of rows [row0, row1), entering the band."""
                    row1 = min(row1, meta.height)
                    if finished and row1 > row0:
                        ids = dst.read(1, window=Window(s0, row0, finished, row1 - row0))
                        stitcher.load(row0, ids.astype(np.int64))

                def flush(done: tuple[int, NDArray[np.int64]] | None) -> None:
                    """The finished rows' provisional ids to the raster; the finished columns' next rows in."""
                    if done is None:
                        return
                    top, ids = done
                    if stitcher.num_provisional >= np.iinfo(np.uint32).max:
                        raise RuntimeError(f'{sample.source}: more than {np.iinfo(np.uint32).max} detections')
                    dst.write(ids.astype(np.uint32)[None], window=Window(lo, top, ids.shape[1], ids.shape[0]))
                    fill(top + stitcher.band_height, stitcher.top + stitcher.band_height)

                fill(0, stitcher.band_height)
                row_index = 0
                for tiles, detections in source(strip):
                    for t, (masks, labels, scores) in zip(tiles, detections):
                        if t.row_index != row_index:
                            row_index = t.row_index
                            flush(stitcher.advance_to(t.row))
                        stitcher.add(t, masks, labels, scores)
                flush(stitcher.finish(meta.height))
        return stitcher

    # -- a raster shared by several processes (scene_parts.py) ---------------------------------------------------
    def part_kinds(self) -> dict[str, str]:
        """What the file of a part holds: the instances the detector found in each of its tiles.

        Returns:
            ``{kind: file extension}``.
        """
        return dict(detections='.npz')

    def split(self, meta: RasterMeta, count: int) -> list[ScenePart]:
        """The raster's tile rows cut into up to ``count`` bands; each tile is in one part.

        Stitching needs every tile in the order of the grid, so the parts hold the detector's instances per tile and
        the join stitches them all (:mod:`.detection_parts`).

        Args:
            meta: the primary input's header.
            count: the number of processes.

        Returns:
            The parts, top to bottom; their ``bounds`` are tile rows.
        """
        grid = TileGrid(meta.height, meta.width, self.tile, self.stride)
        bounds = part_bounds(len(grid.row_starts), count)
        return [ScenePart(i, len(bounds), b, unit='tile rows') for i, b in enumerate(bounds)]

    def part_settings(self, sample: Sample, metas: list[RasterMeta]) -> dict[str, JSONValue]:
        """What the values of a raster's parts depend on: the base's, and the score threshold.

        Args:
            sample: the sample.
            metas: its inputs' headers.

        Returns:
            The settings (merging and ``min_area`` act at the join, not in the parts).
        """
        return dict(super().part_settings(sample, metas), score_thr=self.score_thr)

    def predict_part(self, sample: Sample, metas: list[RasterMeta], part: ScenePart, files: dict[str, Path],
                     on_tiles: Callable[[int], None] | None = None,
                     on_start: Callable[[int], None] | None = None) -> None:
        """Detect the instances of the tiles of one part's tile rows into its file."""
        meta = metas[0]
        grid = TileGrid(meta.height, meta.width, self.tile, self.stride).tile_rows(*part.bounds)
        if on_start:
            on_start(len(grid))
        cachemax = streaming_cache_bytes(metas, 0, rows=grid.tile_height)
        with gdal_env(cachemax), DetectionPartWriter(files['detections']) as writer:
            for tiles, detections in self._detections(sample, grid, on_tiles, cachemax):
                for tile, (masks, labels, scores) in zip(tiles, detections):
                    writer.add(tile, masks, labels, scores)

    def join(self, sample: Sample, metas: list[RasterMeta], parts: list[ScenePart], files: list[dict[str, Path]],
             paths: dict[str, Path]) -> None:
        """Stitch the parts' instances, tile by tile in the grid's order, into the outputs, as one process does."""
        meta = metas[0]
        grid = TileGrid(meta.height, meta.width, self.tile, self.stride)
        strips = grid.column_strips(self.band_width, OUTPUT_BLOCK)
        with DetectionPartReader([f['detections'] for f in files]) as reader:
            def source(strip: TileGrid) -> Iterator[tuple[list[Tile], list[TileDetections]]]:
                for tile in strip:
                    yield [tile], [reader.get(tile)]
            self._write(sample, metas, grid, strips, paths, None, source)

    def _second_pass(self, sample: Sample, meta: RasterMeta, provisional: Path, resolved: Resolved,
                     paths: dict[str, Path]) -> None:
        """Provisional ids -> final instance ids, class and score rasters (and polygons), block of rows by block."""
        import rasterio
        from rasterio.windows import Window
        names = {f'CLASS_{i + 1}': n for i, n in enumerate(self.classes)}
        tags: dict[str, JSONValue] = {
            PRODUCER_TAG: PRODUCER, 'classes': ['none'] + self.classes, 'source': sample.source,
            'checkpoint': self.model.name, 'tile': self.tile, 'stride': self.stride,
            'score_thr': self.score_thr, 'merge_thr': self.merge_thr, 'min_area': self.min_area,
            'instances': resolved.count}
        # both outputs have the input's grid: size, CRS and transform
        height, width, crs, transform = meta.height, meta.width, meta.crs, meta.transform
        writers = dict(
            instances=GeoTiffWriter(paths['instances'], height, width, count=1, dtype=resolved.dtype, crs=crs,
                                    transform=transform, nodata=None, band_descriptions=['instance'],
                                    tags=dict(tags, **names), cog=self.cog),
            class_score=GeoTiffWriter(paths['class_score'], height, width, count=2, dtype='float32', crs=crs,
                                      transform=transform, nodata=None, band_descriptions=['class', 'score'],
                                      tags=dict(tags, **names), overview_resampling='nearest', cog=self.cog))
        class_value = np.where(resolved.label >= 0, resolved.label + 1, 0).astype(np.float32)
        pieces: dict[int, list[BaseGeometry]] = {}
        with gdal_env(), rasterio.open(provisional) as src, contextlib.ExitStack() as opened:
            for writer in writers.values():  # any error: no output under its final name
                opened.enter_context(writer)
            for top in range(0, meta.height, BLOCK_ROWS):
                n = min(BLOCK_ROWS, meta.height - top)
                for col in range(0, meta.width, self.band_width):  # blocks of bounded width
                    w = min(self.band_width, meta.width - col)
                    ids = src.read(1, window=Window(col, top, w, n)).astype(np.int64)
                    final = resolved.final_id[ids]
                    writers['instances'].write(final.astype(resolved.dtype), top, col)
                    writers['class_score'].write(np.stack([class_value[ids], resolved.score[ids]]), top, col)
                    if self.geojson:
                        self._polygon_pieces(final, top, col, meta, pieces)
            for writer in writers.values():
                writer.commit()
        if self.geojson:
            self._write_geojson(paths['geojson'], pieces, resolved, meta, sample)

    @staticmethod
    def _polygon_pieces(final: NDArray[np.int64], top: int, col: int, meta: RasterMeta,
                        pieces: dict[int, list[BaseGeometry]]) -> None:
        """Outlines of every instance in a block (holes kept), in the raster's coordinates.

        The pieces of an instance in neighbouring blocks are joined when the GeoJSON is written.
        """
        from affine import Affine
        from rasterio.features import shapes
        from shapely.geometry import shape
        if not final.any():
            return
        transform = Affine(*meta.transform) if meta.transform is not None else Affine.identity()
        transform = transform * Affine.translation(col, top)
        values = final.astype(np.int32) if final.max() < np.iinfo(np.int32).max else final.astype(np.float64)
        for geom, value in shapes(values, mask=final > 0, connectivity=8, transform=transform):
            pieces.setdefault(int(value), []).append(shape(geom))

    def _write_geojson(self, path: Path, pieces: dict[int, list[BaseGeometry]], resolved: Resolved, meta: RasterMeta,
                       sample: Sample) -> None:
        """One polygon feature per final instance (its pieces joined), with its id, class, score and area."""
        from shapely import union_all
        from shapely.geometry import mapping

        label_of: dict[int, int] = {}
        score_of: dict[int, float] = {}
        for prov in np.nonzero(resolved.final_id)[0]:
            fid = int(resolved.final_id[prov])
            label_of[fid] = int(resolved.label[prov])
            score_of[fid] = float(resolved.score[prov])
        pixel_area = abs(meta.transform[0] * meta.transform[4] - meta.transform[1] * meta.transform[3]) \
            if meta.transform is not None else 1.0
        features: list[dict[str, JSONValue]] = []
        for fid in sorted(pieces):
            geometry = union_all(pieces[fid])
            label = label_of[fid]
            features.append(dict(type='Feature', id=fid, geometry=mapping(geometry), properties=dict(
                id=fid, class_id=label + 1, class_name=self.classes[label], score=round(score_of[fid], 6),
                area_pixels=int(resolved.areas[fid]), area=float(resolved.areas[fid] * pixel_area))))
        collection: dict[str, JSONValue] = dict(type='FeatureCollection', name=Path(sample.primary).stem,
                                                producer=PRODUCER, features=features)
        crs = _geojson_crs(meta.crs)
        if crs is not None:
            collection['crs'] = crs
        write_json_atomic(str(path), collection)


def _geojson_crs(wkt: str | None) -> dict[str, JSONValue] | None:
    """A named-CRS member (GeoJSON 2008, read by GDAL and QGIS) for coordinates in the raster's CRS."""
    if wkt is None:
        return None
    from rasterio.crs import CRS
    crs = CRS.from_wkt(wkt)
    epsg = crs.to_epsg()
    return dict(type='name', properties=dict(name=f'urn:ogc:def:crs:EPSG::{epsg}' if epsg else crs.to_wkt()))
