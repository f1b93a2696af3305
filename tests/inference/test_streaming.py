"""Streaming sliding-window prediction: rolling accumulation, blending, outputs (in-process); the tile grid itself is
tested in tests/io/test_tiles.py."""
import json

import numpy as np
import pytest
import rasterio
import torch
from helpers.model_inference import scene
from helpers.models import BURN, TINY, TINY_PRITHVI, make_checkpoint
from helpers.rasters import write_geotiff
from rasterio.transform import from_origin

from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
from geospatial_mm.inference.rolling_band import RowBandAccumulator
from geospatial_mm.inference.segmentation import SegmentationRasterPredictor
from geospatial_mm.inference.sources import Sample
from geospatial_mm.io.blending import tile_weights
from geospatial_mm.io.tiles import TileGrid


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    return make_checkpoint(TINY, tmp_path_factory.mktemp('ckpt') / 'tiny.pth')


@pytest.mark.parametrize('backend', ['numpy', 'torch'])
def test_rolling_accumulation_equals_blending_the_whole_raster(backend):
    from geospatial_mm.inference.arrays import NumpyArrays
    from geospatial_mm.inference.torch_arrays import TorchArrays
    arrays = NumpyArrays() if backend == 'numpy' else TorchArrays('cpu')
    rng = np.random.default_rng(0)
    height, width, k = 75, 90, 3
    grid = TileGrid(height, width, 32, 12)
    weights = tile_weights(32, 32)
    weights_t = arrays.from_host(weights)
    full = np.zeros((k, height, width))
    wsum = np.zeros((height, width))
    acc = RowBandAccumulator(k, grid.tile_height, width, arrays=arrays)
    out = np.full((k, height, width), np.nan)
    row_index = 0
    held = 0
    for t in grid:
        values = rng.normal(size=(k, 32, 32)).astype(np.float32)
        full[:, t.row:t.row + 32, t.col:t.col + 32] += values * weights
        wsum[t.row:t.row + 32, t.col:t.col + 32] += weights
        if t.row_index != row_index:
            row_index = t.row_index
            top, vals, _ = acc.advance_to(t.row)
            out[:, top:top + vals.shape[1]] = arrays.to_host(vals)
        acc.add(t, arrays.from_host(values), weights_t, None)
        held = max(held, acc.values.shape[1])
    top, vals, _ = acc.finish(height)
    out[:, top:] = arrays.to_host(vals)
    np.testing.assert_allclose(out, full / wsum, rtol=1e-5, atol=1e-5)
    assert held == 32  # never more than one band of tile rows


@pytest.mark.parametrize('backend', ['numpy', 'torch'])
def test_argmax_over_classes_takes_the_first_of_equal_values(backend):
    from geospatial_mm.inference.arrays import NumpyArrays
    from geospatial_mm.inference.torch_arrays import TorchArrays
    arrays = NumpyArrays() if backend == 'numpy' else TorchArrays('cpu')
    values = np.random.default_rng(0).normal(size=(5, 7, 9)).astype(np.float32)
    values[:, 0, 0] = [1, 3, 3, 0, 3]  # ties: the first class wins
    classes = arrays.to_host(arrays.argmax(arrays.from_host(values)))
    np.testing.assert_array_equal(classes, values.argmax(0))
    assert classes[0, 0] == 1 and classes.shape == (7, 9)


# ---------------------------------------------------------------------------------------------- predictions
@pytest.mark.parametrize('strip_width', [0, 48, 2048], ids=['tile by tile', 'strips of 2 tiles', 'whole rows'])
def test_streamed_prediction_equals_the_segmentors_own_sliding_window(tmp_path, strip_width):
    """Tiles read window by window (or cut from strips read at once) and blended in a rolling band give what mmseg's
    slide inference gives on the whole image in memory (TemporalEncoderDecoder, Prithvi tiny, 5-D input)."""
    from mmcv.transforms import Compose

    from geospatial_mm.inference.model import test_dataset_cfg
    ckpt = make_checkpoint(BURN, tmp_path / 'burn.pth', TINY_PRITHVI)
    rng = np.random.default_rng(1)
    img = rng.uniform(0.0, 0.3, (6, 80, 112)).astype(np.float32)
    img[:, :5, :7] = -9999
    path = write_geotiff(tmp_path / 'in' / 'scene.tif', img, nodata=-9999, tiled=True, block=16)
    model = OpenMMLabModel(BURN, str(ckpt), cfg_options=TINY_PRITHVI)
    predictor = SegmentationRasterPredictor(model, batch_size=3, probabilities=True)
    assert (predictor.tile, predictor.stride) == (32, 16)
    assert predictor.strip_width == 2048  # the burn-scar test pipeline works pixel by pixel
    predictor.strip_width = strip_width
    outputs = predictor.predict(Sample('scene', {'img_path': str(path)}, str(path)), tmp_path / 'out')
    with rasterio.open(outputs['probabilities']) as src:
        streamed = src.read()
    with rasterio.open(outputs['classes']) as src:
        classes = src.read(1)

    pipeline = Compose([t for t in test_dataset_cfg(predictor.model.cfg)['pipeline']
                        if t['type'] != 'LoadGeospatialAnnotations'])
    packed = pipeline(dict(img_path=str(path)))
    model = predictor.model.network
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]), False)
        logits = model.slide_inference(data['inputs'], [s.metainfo for s in data['data_samples']])
    expected = logits.softmax(dim=1)[0].numpy()
    nodata = packed['data_samples'].nodata_mask.data[0].numpy()
    assert nodata.sum() == 35
    np.testing.assert_allclose(streamed[:, ~nodata], expected[:, ~nodata], atol=2e-5)
    assert (streamed[:, nodata] == -1).all() and (classes[nodata] == 255).all()
    assert (classes[~nodata] == expected.argmax(0)[~nodata]).all()


def test_outputs_keep_the_georeference_and_carry_palette_names_and_nodata(tmp_path, tiny_ckpt):
    transform = from_origin(612345.0, 4987654.0, 20.0, 20.0)
    path = scene(tmp_path / 'in' / 'a.tif', 70, 90, nodata_rows=9, transform=transform)
    predictor = SegmentationRasterPredictor(OpenMMLabModel(TINY, str(tiny_ckpt)), tile=32, stride=16,
                                            probabilities=True)
    out = predictor.predict(Sample('a', {'img_path': str(path)}, str(path)), tmp_path / 'out')
    with rasterio.open(path) as src_in, rasterio.open(out['classes']) as src:
        assert (src.width, src.height, src.count) == (90, 70, 1)
        assert src.crs == src_in.crs and src.transform == src_in.transform == transform
        assert src.dtypes[0] == 'uint8' and src.nodata == 255
        classes = src.read(1)
        cmap = src.colormap(1)
        tags = src.tags()
    assert (classes[:9] == 255).all() and set(np.unique(classes[9:])) <= {0, 1, 2}
    palette = [[0, 0, 0], [200, 30, 30], [30, 30, 200]]
    assert [list(cmap[i][:3]) for i in range(3)] == palette
    assert json.loads(tags['classes']) == ['background', 'burned', 'water'] and tags['CLASS_1'] == 'burned'
    with rasterio.open(out['probabilities']) as src:
        probs = src.read()
        assert src.count == 3 and src.crs == src_in.crs and src.transform == transform
        assert list(src.descriptions) == ['background', 'burned', 'water']
    assert (probs[:, :9] == -1).all()
    np.testing.assert_allclose(probs[:, 9:].sum(0), 1.0, atol=1e-5)
    assert (probs[:, 9:].argmax(0) == classes[9:]).all()
    assert not list((tmp_path / 'out').glob('.*'))  # no temporary file left


def test_a_raster_smaller_than_a_tile_is_padded_not_refused(tmp_path, tiny_ckpt):
    path = scene(tmp_path / 'small.tif', 20, 27)
    predictor = SegmentationRasterPredictor(OpenMMLabModel(TINY, str(tiny_ckpt)), tile=32, stride=16)
    out = predictor.predict(Sample('small', {'img_path': str(path)}, str(path)), tmp_path / 'out')
    with rasterio.open(out['classes']) as src:
        assert (src.height, src.width) == (20, 27)
        assert set(np.unique(src.read(1))) <= {0, 1, 2}


def test_blending_hides_tile_edge_artefacts_that_a_plain_average_shows(tmp_path, tiny_ckpt):
    """A smooth input through a 'model' that is off near every tile's border (as models are, with less context and
    zero padding there): blended with edge-decaying weights the output stays within a few hundredths of the
    artefact-free output; a plain average of the same tiles shows stripes along the tile edges."""
    height, width, tile, stride = 64, 160, 32, 16
    ramp = np.tile(np.linspace(0, 10000, width, dtype=np.float32), (6, height, 1))
    path = write_geotiff(tmp_path / 'smooth.tif', ramp, tiled=True, block=16)
    yy, xx = np.mgrid[:tile, :tile]
    to_border = np.minimum(np.minimum(yy, xx), np.minimum(tile - 1 - yy, tile - 1 - xx))
    artefact = torch.from_numpy((2.0 * np.exp(-to_border / 2.0)).astype(np.float32))

    def predict(weights, with_artefact):
        predictor = SegmentationRasterPredictor(OpenMMLabModel(TINY, str(tiny_ckpt)), tile=tile, stride=stride,
                                                probabilities=True)

        def fake_logits(batch, size=None):
            logit = 0.3 * torch.stack([t.inputs for t in batch])[:, :1]  # a smooth function of the (normalised) ramp
            if with_artefact:
                logit = logit + artefact
            return torch.cat([torch.zeros_like(logit), logit, torch.full_like(logit, -20.0)], dim=1)

        predictor.model.forward = fake_logits
        if weights is not None:
            predictor.blend_weights = weights
        name = f'{weights is None}-{with_artefact}'
        out = predictor.predict(Sample(name, {'img_path': str(path)}, str(path)), tmp_path)
        with rasterio.open(out['probabilities']) as src:
            return src.read(2)[8:-8, 8:-8]  # away from the raster's own border, where only one tile reaches

    clean = predict(None, False)
    assert clean.max() - clean.min() > 0.5  # the input really is a ramp
    blended = np.abs(predict(None, True) - clean).max()
    averaged = np.abs(predict(np.ones((tile, tile), np.float32), True) - clean).max()
    assert blended < 0.08, blended
    assert averaged > 0.15 and averaged > 4 * blended, (averaged, blended)


def test_a_pipeline_with_a_resize_runs_tile_by_tile(tmp_path, tiny_ckpt):
    from mmengine.config import Config
    cfg = Config.fromfile(TINY)
    cfg.test_dataloader.dataset.pipeline.insert(-1, dict(type='TorchResize', scale=(24, 24)))
    predictor = SegmentationRasterPredictor(OpenMMLabModel(cfg, str(tiny_ckpt)), tile=32, stride=16)
    assert predictor.strip_width == 0
    for name, (h, w) in dict(a=(40, 50), small=(20, 27)).items():
        path = scene(tmp_path / f'{name}.tif', h, w, nodata_rows=3)
        out = predictor.predict(Sample(name, {'img_path': str(path)}, str(path)), tmp_path / 'out')
        with rasterio.open(out['classes']) as src:
            classes = src.read(1)
        # nodata went through the pipeline's resize and back (nearest): its edge may move by a pixel
        assert classes.shape == (h, w) and (classes[:2] == 255).all() and (classes[5:] < 3).all()


@pytest.mark.parametrize('probabilities', [False, True])
def test_a_wide_raster_predicted_in_column_strips_equals_the_whole_width(tmp_path, tiny_ckpt, probabilities):
    """Memory flat in width: past ``band_width`` columns the raster is predicted in vertical strips, and every pixel
    still gets the same tiles blended in the same order: the same outputs (to the last bit of a float: the model
    sees the tiles in other batches)."""
    path = scene(tmp_path / 'wide.tif', 50, 700, nodata_rows=4, seed=3)
    sample = Sample('wide', {'img_path': str(path)}, str(path))
    predictor = SegmentationRasterPredictor(OpenMMLabModel(TINY, str(tiny_ckpt)), tile=32, stride=16,
                                            probabilities=probabilities)
    whole = predictor.predict(sample, tmp_path / 'whole')
    predictor.band_width = 256
    seen = []
    strips = predictor.predict(sample, tmp_path / 'strips', on_start=seen.append)
    grid = TileGrid(50, 700, 32, 16)
    assert seen[0] > len(grid)  # tiles at the strips' borders are predicted twice
    for key in whole:
        with rasterio.open(whole[key]) as a, rasterio.open(strips[key]) as b:
            assert a.profile == b.profile
            if key == 'classes':
                np.testing.assert_array_equal(a.read(), b.read())
            else:
                np.testing.assert_allclose(a.read(), b.read(), rtol=0, atol=1e-6)


def test_several_reader_threads_give_the_same_outputs_as_one(tmp_path, tiny_ckpt):
    path = scene(tmp_path / 'a.tif', 150, 170, nodata_rows=5, seed=4)
    sample = Sample('a', {'img_path': str(path)}, str(path))
    outputs = {}
    for readers, strip_width in ((1, None), (3, None), (3, 0)):
        predictor = SegmentationRasterPredictor(OpenMMLabModel(TINY, str(tiny_ckpt)), tile=32, stride=16,
                                                readers=readers, probabilities=True)
        if strip_width is not None:
            predictor.strip_width = strip_width  # tile by tile
        out = predictor.predict(sample, tmp_path / f'r{readers}_{strip_width}')
        with rasterio.open(out['classes']) as a, rasterio.open(out['probabilities']) as b:
            outputs[(readers, strip_width)] = (a.read(), b.read())
    reference = outputs[(1, None)]
    for key, (classes, probs) in outputs.items():
        np.testing.assert_array_equal(classes, reference[0])
        np.testing.assert_allclose(probs, reference[1], rtol=0, atol=1e-6)

