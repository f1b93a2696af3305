"""geospatial_mm.apis: init_model (config and checkpoint, or an exported file), predict (a folder, a file, a list)
and predict_array (rasters in memory), for segmentation and detection models; errors of one base type."""
import json

import numpy as np
import pytest
import rasterio
from helpers.detection_oracle import OracleModel, truth_instances
from helpers.exports import export_tiny
from helpers.model_inference import scene
from helpers.models import TINY, TINY_DET, make_checkpoint
from helpers.rasters import write_geotiff
from rasterio.transform import from_origin

from geospatial_mm.apis import (
    InstanceArrays,
    OptionsError,
    PredictOptions,
    RunSummary,
    SegmentationArrays,
    SetupError,
    init_model,
    predict,
    predict_array,
)
from geospatial_mm.errors import GeospatialMMError


@pytest.fixture(scope='module')
def seg_model(tmp_path_factory):
    ckpt = make_checkpoint(TINY, tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    return init_model(TINY, ckpt)


@pytest.fixture(scope='module')
def det_model(tmp_path_factory):
    ckpt = make_checkpoint(TINY_DET, tmp_path_factory.mktemp('det') / 'tiny_det.pth')
    model = OracleModel(TINY_DET, str(ckpt))  # the detector sees the true objects: the API's plumbing is tested
    model.truth = truth_instances()
    return model


def read(path, band=None):
    with rasterio.open(path) as src:
        return src.read(band) if band else src.read()


def test_predict_a_folder_a_file_and_a_list_returns_their_summary(seg_model, tmp_path):
    paths = [scene(tmp_path / 'in' / f'{name}.tif', 40, 50, nodata_rows=3, seed=i) for i, name in enumerate('ab')]
    folder = predict(seg_model, tmp_path / 'in', tmp_path / 'out', tile=32, stride=16, probabilities=True,
                     summary=tmp_path / 'summary.json', progress=False)
    assert isinstance(folder, RunSummary) and folder.exit_status == 0
    assert [s.name for s in folder.samples] == ['a', 'b'] and folder.count('ok') == 2
    assert set(folder.samples[0].outputs) == {'classes', 'probabilities'}
    assert json.loads((tmp_path / 'summary.json').read_text()) == folder.to_dict()
    assert folder.precision == 'fp32' or folder.precision_reason.startswith('auto')
    one = predict(seg_model, paths[1], tmp_path / 'one', tile=32, stride=16, progress=False)
    assert [s.name for s in one.samples] == ['b']
    np.testing.assert_array_equal(read(one.samples[0].outputs['classes']), read(folder.samples[1].outputs['classes']))
    both = predict(seg_model, [str(p) for p in paths], tmp_path / 'list', tile=32, stride=16, skip_existing=True,
                   progress=False)
    assert both.count('ok') == 2
    again = predict(seg_model, paths, tmp_path / 'list', tile=32, stride=16, skip_existing=True, progress=False)
    assert again.count('skipped') == 2


def test_a_failing_file_is_recorded_and_the_others_complete(seg_model, tmp_path):
    scene(tmp_path / 'in' / 'good.tif', 40, 50)
    (tmp_path / 'in' / 'bad.tif').write_bytes(b'not a raster')
    summary = predict(seg_model, tmp_path / 'in', tmp_path / 'out', tile=32, progress=False)
    assert summary.exit_status == 1 and summary.count('ok') == 1
    [failed] = summary.failed
    assert failed.name == 'bad' and 'bad.tif' in failed.error


def test_predict_array_gives_what_predicting_the_file_gives(seg_model, tmp_path):
    path = scene(tmp_path / 'in' / 's.tif', 45, 70, nodata_rows=5, seed=2)
    with rasterio.open(path) as src:
        array, nodata = src.read(), src.nodata
    summary = predict(seg_model, path, tmp_path / 'out', tile=32, stride=16, probabilities=True, progress=False)
    classes, probabilities = predict_array(seg_model, array, nodata=nodata, tile=32, stride=16)
    result = predict_array(seg_model, array, nodata=nodata, tile=32, stride=16)
    assert isinstance(result, SegmentationArrays)
    outputs = summary.samples[0].outputs
    np.testing.assert_array_equal(classes, read(outputs['classes'], 1))
    np.testing.assert_array_equal(probabilities, read(outputs['probabilities']))
    assert classes.dtype == np.uint8 and (classes[:5] == 255).all() and set(np.unique(classes[5:])) <= {0, 1, 2}
    assert probabilities.shape == (3, 45, 70) and np.allclose(probabilities[:, 5:].sum(0), 1, atol=1e-5)


def test_detection_predicts_a_folder_a_file_and_an_array_alike(det_model, tmp_path):
    truth = det_model.truth
    image = np.full((6, *truth.shape), 1000, np.uint16)
    transform = from_origin(513000.0, 7610000.0, 2.0, 2.0)
    path = write_geotiff(tmp_path / 'in' / 'scene.tif', image, crs='EPSG:32608', transform=transform)
    folder = predict(det_model, tmp_path / 'in', tmp_path / 'out', geojson=True, progress=False)
    assert folder.exit_status == 0 and set(folder.samples[0].outputs) == {'instances', 'class_score', 'geojson'}
    one = predict(det_model, path, tmp_path / 'one', min_area=0, progress=False)
    ids = read(one.samples[0].outputs['instances'], 1)
    np.testing.assert_array_equal(ids, read(folder.samples[0].outputs['instances'], 1))
    result = predict_array(det_model, image)
    assert isinstance(result, InstanceArrays)
    instances, classes, scores = result
    np.testing.assert_array_equal(instances, ids)
    assert len(np.unique(instances)) == 8  # the seven objects (those cut by tile borders merged) and background
    assert set(np.unique(classes[instances > 0])) == {1} and (classes[instances == 0] == 0).all()
    assert ((scores[instances > 0] >= 0.6) & (scores[instances > 0] <= 0.9)).all()


def test_an_exported_model_file_predicts_without_a_checkpoint(tmp_path):
    model_file = export_tiny(tmp_path, 'pt2')
    model = init_model(model_file)
    path = scene(tmp_path / 'in' / 's.tif', 40, 40, seed=5)
    summary = predict(model, path, tmp_path / 'out', progress=False)
    assert summary.exit_status == 0 and summary.samples[0].outputs['classes'].endswith('s_pred.tif')
    with rasterio.open(path) as src:
        classes, probabilities = predict_array(model, src.read(), nodata=src.nodata)
    np.testing.assert_array_equal(classes, read(summary.samples[0].outputs['classes'], 1))
    with pytest.raises(SetupError, match='no checkpoint or config options'):
        init_model(model_file, 'some.pth')


def test_errors_name_the_problem_and_share_one_base(seg_model, tmp_path):
    scene(tmp_path / 'in' / 'a.tif', 40, 40)
    with pytest.raises(OptionsError, match=r"unknown prediction option\(s\) \['probability'\]"):
        predict(seg_model, tmp_path / 'in', tmp_path / 'out', probability=True)
    with pytest.raises(OptionsError, match='--batch-size must be at least 1'):
        PredictOptions(batch_size=0)
    with pytest.raises(SetupError, match='--geojson writes the instances of detection configs'):
        predict(seg_model, tmp_path / 'in', tmp_path / 'out2', geojson=True)
    assert not (tmp_path / 'out2').exists()  # nothing ran: the folder it created is gone
    with pytest.raises(SetupError, match='checkpoint file not found'):
        init_model(TINY, tmp_path / 'missing.pth')
    with pytest.raises(SetupError, match='a config needs its checkpoint'):
        init_model(TINY)
    scene(tmp_path / 'other' / 'a.tif', 40, 40, seed=1)
    with pytest.raises(SetupError, match="are both sample 'a'"):
        predict(seg_model, [tmp_path / 'in', tmp_path / 'other'], tmp_path / 'out3')
    with pytest.raises(SetupError, match='reads 1 file'):
        predict_array(seg_model, {'s2_path': np.zeros((6, 8, 8))})
    for error in (OptionsError, SetupError):
        assert issubclass(error, GeospatialMMError)
