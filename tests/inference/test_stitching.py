"""Instances of overlapping tiles stitched into one instance raster (geospatial_mm/inference/stitching.py), and the
detection predictor's outputs, with a detector that returns the true objects inside each tile (an oracle): what is
tested is the merging, not a model."""
import json

import numpy as np
import pytest
import rasterio
from helpers.detection_oracle import assert_one_to_one, oracle, oracle_predictor, truth_instances
from helpers.models import TINY_DET, make_checkpoint
from helpers.rasters import write_geotiff
from rasterio.transform import from_origin
from shapely.geometry import shape

from geospatial_mm.inference.outputs import outputs_complete
from geospatial_mm.inference.sources import Sample
from geospatial_mm.inference.stitching import InstanceStitcher
from geospatial_mm.io.tiles import TileGrid


def stitch(ids, tile=64, stride=48, merge_thr=0.5, min_area=0, classes=None, detector=oracle):
    """Stream the grid's tiles through a stitcher as the predictor does; returns the final id raster."""
    height, width = ids.shape
    grid = TileGrid(height, width, tile, stride)
    st = InstanceStitcher(width, grid.tile_height, merge_thr)
    out = np.zeros_like(ids, dtype=np.int64)
    row_index = 0

    def flush(done):
        if done is not None:
            top, rows = done
            out[top:top + rows.shape[0]] = rows

    for t in grid:
        if t.row_index != row_index:
            row_index = t.row_index
            flush(st.advance_to(t.row))
        st.add(t, *detector(ids, t.window, classes))
    flush(st.finish(height))
    resolved = st.resolve(min_area)
    return resolved.final_id[out], resolved

def test_objects_cut_by_tile_borders_come_out_as_one_instance_each():
    truth = truth_instances()
    predicted, resolved = stitch(truth, classes={7: 1})
    assert_one_to_one(truth, predicted)
    assert resolved.count == 7 and predicted.max() == 7
    # the touching pair stayed two; the classes survived the merging
    assert predicted[65, 130] != predicted[75, 130]
    label_of = {int(f): int(c) for f, c in zip(resolved.final_id, resolved.label) if f}
    assert label_of[predicted[100, 95]] == 1 and label_of[predicted[25, 100]] == 0
    # the long object really was cut into parts by the tiles
    grid = TileGrid(*truth.shape, 64, 48)
    assert not any(t.col <= 5 and t.col + t.width >= 160 for t in grid)


def test_objects_of_different_classes_are_never_merged():
    truth = np.zeros((64, 112), np.int32)
    truth[10:30, 40:70] = 1
    predicted, resolved = stitch(truth, detector=lambda ids, w, _: _half_classes(ids, w))
    assert resolved.count == 2  # the tile on the left calls it class 0, the one on the right class 1


def _half_classes(ids, window):
    masks, labels, scores = oracle(ids, window)
    return masks, np.full(len(masks), int(window[1] > 0)), scores


def test_a_duplicate_in_one_tile_is_suppressed_and_a_bridging_detection_fuses_nothing():
    truth = np.zeros((64, 112), np.int32)
    truth[20:40, 40:56] = 1
    truth[20:40, 58:74] = 2

    def detector(ids, window, _):
        masks, labels, scores = oracle(ids, window)
        if window[1] == 0:  # the first tile adds a lower-scoring duplicate of its first object...
            return np.concatenate([masks, masks[:1]]), np.zeros(len(masks) + 1, int), np.append(scores, 0.3)
        bridge = (ids[window[0]:window[0] + window[2], window[1]:window[1] + window[3]] > 0)[None]
        bridge[0, 20:40, 8:18] = True  # ... the second one a detection that spans both objects and the gap
        return np.concatenate([bridge, masks]), np.zeros(len(masks) + 1, int), np.append(0.95, scores)

    predicted, resolved = stitch(truth, detector=detector)
    assert predicted[30, 45] != predicted[30, 70]  # still two objects
    assert resolved.count == 2


def test_small_instances_are_dropped_and_ids_are_consecutive():
    truth = truth_instances()
    truth[140:142, 150:152] = 9  # 4 pixels
    predicted, resolved = stitch(truth, min_area=5)
    assert (truth == 9).sum() == 4 and not predicted[truth == 9].any()
    assert sorted(np.unique(predicted)) == list(range(resolved.count + 1)) and resolved.count == 7

@pytest.fixture(scope='module')
def det_ckpt(tmp_path_factory):
    return make_checkpoint(TINY_DET, tmp_path_factory.mktemp('det') / 'tiny_det.pth')


def test_detection_predictor_writes_merged_georeferenced_instances_and_polygons(tmp_path, det_ckpt):
    truth = truth_instances()
    transform = from_origin(513000.0, 7610000.0, 2.0, 2.0)
    path = write_geotiff(tmp_path / 'in' / 'scene.tif', np.ones((6, *truth.shape), np.uint16) * 1000,
                         crs='EPSG:32608', transform=transform)
    predictor = oracle_predictor(det_ckpt, truth, batch_size=3, geojson=True)
    assert (predictor.tile, predictor.stride) == (64, 48)  # the config's tile_size and tile_overlap
    paths = predictor.predict(Sample('scene', {'img_path': str(path)}, str(path)), tmp_path / 'out')
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == [
        'scene_class_score.tif', 'scene_instances.geojson', 'scene_instances.tif']  # no temporary file left
    with rasterio.open(paths['instances']) as src:
        ids = src.read(1)
        assert src.dtypes[0] == 'uint16' and src.crs == rasterio.crs.CRS.from_epsg(32608)
        assert src.transform == transform and src.tags()['instances'] == '7'
    assert_one_to_one(truth, ids)
    with rasterio.open(paths['class_score']) as src:
        cls, score = src.read()
        assert src.descriptions == ('class', 'score') and src.tags()['CLASS_1'] == 'slump'
    assert set(np.unique(cls[ids > 0])) == {1.0} and (cls[ids == 0] == 0).all()
    assert ((score[ids > 0] >= 0.6) & (score[ids > 0] <= 0.9)).all()
    collection = json.loads(paths['geojson'].read_text())
    assert collection['crs']['properties']['name'] == 'urn:ogc:def:crs:EPSG::32608'
    features = collection['features']
    assert sorted(f['properties']['id'] for f in features) == list(range(1, 8))
    for feature in features:
        geometry = shape(feature['geometry'])
        pixels = int((ids == feature['id']).sum())
        assert feature['properties']['area_pixels'] == pixels
        assert geometry.area == pytest.approx(pixels * 4.0)  # 2 m pixels, holes kept
        assert geometry.geom_type == 'Polygon'  # the parts of a cut object are one polygon again
    assert outputs_complete(paths)  # what --skip-existing checks: the GeoJSON counts too
    paths['geojson'].unlink()
    assert not outputs_complete(paths)
    holed = next(f for f in features if f['id'] == ids[100, 10])
    assert len(holed['geometry']['coordinates']) == 2  # outer ring and the hole
    x, y = rasterio.transform.xy(transform, 100, 10, offset='ul')
    assert shape(holed['geometry']).bounds[:2] == (x, y - 80.0)  # (left, bottom) of rows 100-139 on the ground


def test_a_raster_smaller_than_a_tile_is_padded_and_cut_back(tmp_path, det_ckpt):
    truth = np.zeros((40, 50), np.int32)
    truth[10:20, 30:45] = 1
    path = write_geotiff(tmp_path / 'small.tif', np.ones((6, 40, 50), np.uint16), crs='EPSG:32608')
    predictor = oracle_predictor(det_ckpt, truth, min_area=200)
    paths = predictor.predict(Sample('small', {'img_path': str(path)}, str(path)), tmp_path / 'out')
    with rasterio.open(paths['instances']) as src:
        assert src.shape == (40, 50) and not src.read(1).any()  # the only object (150 px) is below --min-area
    predictor.min_area = 0
    paths = predictor.predict(Sample('small', {'img_path': str(path)}, str(path)), tmp_path / 'out')
    with rasterio.open(paths['instances']) as src:
        assert np.array_equal(src.read(1), truth.astype(np.uint16))


def test_a_raster_wider_than_the_band_is_stitched_in_column_strips(tmp_path, det_ckpt):
    """Past ``band_width`` columns the raster is stitched in vertical strips (memory flat in width); objects that
    cross the strips' borders still come out whole, one instance each, and their polygons are one piece."""
    truth = np.zeros((150, 700), np.int32)
    truth[20:30, 100:600] = 1  # crosses both strip borders (columns 256 and 512)
    truth[60:110, 240:275] = 2  # around the first border, over several rows of tiles
    truth[70:100, 250:262] = 0  # ... with a hole on the border
    truth[120:140, 500:530] = 3  # across the second border
    truth[120:140, 530:545] = 4  # touching it: never one with it
    truth[40:50, 10:20] = 5  # inside one tile of the first strip
    path = write_geotiff(tmp_path / 'wide.tif', np.ones((6, *truth.shape), np.uint16), crs='EPSG:32608')
    predictor = oracle_predictor(det_ckpt, truth, batch_size=4, geojson=True)
    predictor.band_width = 256
    seen = []
    paths = predictor.predict(Sample('wide', {'img_path': str(path)}, str(path)), tmp_path / 'out',
                              on_start=seen.append)
    assert seen[0] > len(TileGrid(150, 700, 64, 48))  # tiles at the strips' borders run twice
    with rasterio.open(paths['instances']) as src:
        ids = src.read(1)
        assert src.tags()['instances'] == '5'
    assert_one_to_one(truth, ids)
    features = json.loads(paths['geojson'].read_text())['features']
    assert len(features) == 5 and [shape(f['geometry']).geom_type for f in features] == ['Polygon'] * 5, features
    holed = next(f for f in features if f['id'] == ids[60, 240])
    assert len(holed['geometry']['coordinates']) == 2  # the hole on the border is kept
