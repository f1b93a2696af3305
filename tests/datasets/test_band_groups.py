"""Per-file value conversion (NaN, clip, scale, offset) and band groups from several co-registered files."""
import numpy as np
import pytest
from helpers.rasters import TRANSFORM, write_geotiff
from rasterio.transform import from_origin

from geospatial_mm.datasets.transforms import LoadGeospatialBandGroups, LoadGeospatialImageFromFile
from geospatial_mm.io import RasterError


def test_nan_replace_clip_scale_and_offset_in_that_order(tmp_path):
    data = np.array([[[-40.0, -25.0, -12.5], [0.0, 3.0, np.nan]]], np.float32)  # one band, 2 x 3, dB
    path = write_geotiff(tmp_path / 's1.tif', data)
    out = LoadGeospatialImageFromFile(nan_replace=0.0, clip=(-25, 0), scale=1 / 25, offset=1.0)(
        dict(img_path=str(path)))
    np.testing.assert_allclose(out['img'][..., 0], [[0.0, 0.0, 0.5], [1.0, 1.0, 1.0]], atol=1e-6)
    assert not out['nodata_mask'].any()  # a replaced NaN is a value, not nodata


def test_without_nan_replace_nan_stays_nodata(tmp_path):
    data = np.array([[[1.0, np.nan]]], np.float32)
    path = write_geotiff(tmp_path / 'f.tif', data)
    out = LoadGeospatialImageFromFile(clip=(0, 10), nodata_replace=-1.0)(dict(img_path=str(path)))
    assert out['nodata_mask'].tolist() == [[False, True]] and out['img'][0, 1, 0] == -1.0


def test_bad_clip_and_scaling_without_float_are_refused():
    with pytest.raises(ValueError, match='clip must be'):
        LoadGeospatialImageFromFile(clip=(5, 1))
    with pytest.raises(ValueError, match='need to_float32'):
        LoadGeospatialImageFromFile(clip=(0, 1), to_float32=False)


def _pair(tmp_path, transform_b=TRANSFORM, size_b=(8, 10)):
    a = np.arange(3 * 8 * 10, dtype=np.uint16).reshape(3, 8, 10) * 10
    b = np.full((2,) + size_b, -10.0, np.float32)
    b[1, 0, 0] = np.nan
    pa = write_geotiff(tmp_path / 'a' / 'x.tif', a, nodata=0)
    pb = write_geotiff(tmp_path / 'b' / 'x.tif', b, transform=transform_b)
    return a, b, pa, pb


SOURCES = [dict(path_key='a_path', bands=[2, 0], scale=0.01, clip=(0, 2000)),
           dict(path_key='b_path', bands=[1], nan_replace=0.0, clip=(-25, 0), scale=1 / 25, offset=1.0)]


def test_band_groups_concatenate_files_with_their_own_settings(tmp_path):
    a, _, pa, pb = _pair(tmp_path)
    loader = LoadGeospatialBandGroups(sources=SOURCES)
    out = loader(dict(a_path=str(pa), b_path=str(pb)))
    img = out['img']
    assert img.shape == (8, 10, 3) and img.dtype == np.float32
    valid = np.ones((8, 10), bool)
    valid[0, 0] = False  # a's band 0 holds its nodata value 0 there: the pixel is nodata in every band
    np.testing.assert_array_equal(out['nodata_mask'], ~valid)
    assert (img[0, 0] == 0.0).all()
    np.testing.assert_allclose(img[..., 0][valid], (np.clip(a[2], 0, 2000) * 0.01)[valid], rtol=1e-6)
    assert img[..., 0].max() == pytest.approx(20.0)  # clipped at 2000 before scaling
    np.testing.assert_allclose(img[..., 1][valid], (a[0] * 0.01)[valid], rtol=1e-6)
    np.testing.assert_allclose(img[..., 2][valid], 0.6, rtol=1e-6)  # -10 dB -> 0.6; b's band 0 (NaN) not read
    geo = out['geo_meta']
    assert geo['path'] == [str(pa), str(pb)] and geo['bands'] == [2, 0, 1]
    assert [s['path_key'] for s in geo['sources']] == ['a_path', 'b_path']
    assert [(lo.path_key, b) for lo, b in loader.channel_sources()] == [('a_path', 2), ('a_path', 0), ('b_path', 1)]


def test_band_groups_read_only_the_window(tmp_path):
    a, _, pa, pb = _pair(tmp_path)
    out = LoadGeospatialBandGroups(sources=SOURCES)(dict(a_path=str(pa), b_path=str(pb), read_window=(2, 3, 4, 5)))
    assert out['img'].shape == (4, 5, 3)
    np.testing.assert_allclose(out['img'][..., 0], np.clip(a[2, 2:6, 3:8], 0, 2000) * 0.01, rtol=1e-6)
    assert out['geo_meta']['transform'][2] == pytest.approx(TRANSFORM.c + 3 * TRANSFORM.a)


def test_files_that_are_not_co_registered_are_refused(tmp_path):
    _, _, pa, pb = _pair(tmp_path, transform_b=from_origin(0, 0, 30, 30))
    with pytest.raises(RasterError, match=f'{pb}: not co-registered with {pa}.*transform'):
        LoadGeospatialBandGroups(sources=SOURCES)(dict(a_path=str(pa), b_path=str(pb)))
    _, _, pa, pb = _pair(tmp_path / 'size', size_b=(8, 9))
    with pytest.raises(RasterError, match=f'{pb}: not co-registered .*size 8x9 differs from 8x10'):
        LoadGeospatialBandGroups(sources=SOURCES)(dict(a_path=str(pa), b_path=str(pb)))


def test_a_missing_path_and_bad_sources_are_reported(tmp_path):
    _, _, pa, _ = _pair(tmp_path)
    with pytest.raises(KeyError, match=r"has no path for \['b_path'\]"):
        LoadGeospatialBandGroups(sources=SOURCES)(dict(a_path=str(pa)))
    with pytest.raises(ValueError, match='needs a path_key and its bands'):
        LoadGeospatialBandGroups(sources=[dict(path_key='a_path')])
    with pytest.raises(ValueError, match='its own path_key'):
        LoadGeospatialBandGroups(sources=[dict(path_key='a', bands=[0]), dict(path_key='a', bands=[1])])
