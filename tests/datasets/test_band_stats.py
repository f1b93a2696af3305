"""Band statistics: exact mean and std against numpy, nodata excluded, windows merged, percentiles sampled."""
import json

import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, ROOT, run
from helpers.geotiff_seg_data import make_geotiff_seg_dataset
from helpers.models import TINY
from helpers.rasters import write_geotiff

from geospatial_mm.datasets.band_stats import raster_band_stats


def _raster(tmp_path, name, seed, nodata=None):
    rng = np.random.default_rng(seed)
    data = rng.normal([[[100.0]], [[2000.0]], [[-5.0]]], [[[10.0]], [[300.0]], [[2.0]]], (3, 50, 70))
    data = data.astype(np.float32)
    if nodata is not None:
        data[:, :7, :] = nodata  # a border of nodata rows
        data[1, 30, 40] = nodata  # nodata in one band makes the pixel nodata in all
    return write_geotiff(tmp_path / name, data, nodata=nodata), data


@pytest.mark.parametrize('nodata', [None, -9999.0])
def test_mean_and_std_equal_numpy_over_windows_and_files(tmp_path, nodata):
    a, da = _raster(tmp_path, 'a.tif', 0, nodata)
    b, db = _raster(tmp_path, 'b.tif', 1, nodata)
    stats = raster_band_stats([a, b], window=16)  # windows of 16 px: many merges
    values = np.concatenate([d.reshape(3, -1) for d in (da, db)], axis=1)
    if nodata is not None:
        values = values[:, ~(values == nodata).any(axis=0)]
    assert stats.count == values.shape[1]
    np.testing.assert_allclose(stats.mean, values.astype(np.float64).mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(stats.std, values.astype(np.float64).std(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(stats.minimum, values.min(axis=1))
    np.testing.assert_array_equal(stats.maximum, values.max(axis=1))
    full = raster_band_stats([a, b], sample_size=10 ** 6)  # a sample holding every pixel: exact percentiles
    np.testing.assert_allclose(full.percentiles([2, 98]), np.percentile(values, [2, 98], axis=1), rtol=1e-6)
    sampled = raster_band_stats([a, b], sample_size=500, window=16)
    assert sampled.sample.shape == (500, 3)
    np.testing.assert_allclose(sampled.percentiles([50])[0], np.median(values, axis=1), rtol=0.1, atol=1)


def test_the_tool_prints_and_writes_the_statistics_and_the_normalize_options(tmp_path):
    a, data = _raster(tmp_path / 'in', 'a.tif', 2, nodata=-9999.0)
    out = tmp_path / 'stats.json'
    proc = run([BIN / 'python', ROOT / 'tools' / 'band_stats.py', tmp_path / 'in', '-b', '2', '0', '--scale', '0.5',
                '--out', out])
    report = json.loads(out.read_text())
    valid = ~(data[[2, 0]] == -9999.0).any(axis=0)  # nodata in a band that is not read does not count
    np.testing.assert_allclose(report['mean'], [0.5 * data[2][valid].astype(np.float64).mean(),
                                                0.5 * data[0][valid].astype(np.float64).mean()], rtol=1e-6)
    assert report['pixels'] == valid.sum() and set(report['percentiles']) == {'2', '98'}
    assert 'TorchNormalize(means=[' in proc.stdout


def test_a_configs_dataset_is_measured_through_its_own_loader_and_the_options_name_its_normalize_steps(tmp_path):
    """tools/band_stats.py --config: the train images of the tiny GeoTIFF config, read by its loader (scale 1e-4,
    nodata -9999 replaced): the statistics are those of the scaled valid pixels of every training file."""
    root = make_geotiff_seg_dataset(tmp_path / 'data', n_train=3, n_val=1, size=32)
    out = tmp_path / 'stats.json'
    proc = run([BIN / 'python', ROOT / 'tools' / 'band_stats.py', '--config', TINY, '--out', out, '--cfg-options',
                f'train_dataloader.dataset.data_root={root}'])
    files = sorted((root / 'img_dir' / 'train').glob('*.tif'))
    values = []
    for path in files:
        with rasterio.open(path) as src:
            data = src.read().astype(np.float64)
        values.append(data[:, ~(data == -9999).any(axis=0)] * 1e-4)
    values = np.concatenate(values, axis=1)
    report = json.loads(out.read_text())
    assert report['files'] == 3 and report['pixels'] == values.shape[1]
    np.testing.assert_allclose(report['mean'], values.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(report['std'], values.std(axis=1), rtol=1e-6)
    normalize = [o for o in report['cfg_options'] if o.startswith('train_dataloader.dataset.pipeline.')]
    assert [o.split('=')[0] for o in normalize] == ['train_dataloader.dataset.pipeline.4.means',
                                                    'train_dataloader.dataset.pipeline.4.stds']
    assert '--cfg-options ' + ' '.join(report['cfg_options']) in proc.stdout
