"""Loading transforms on generated GeoTIFFs: bands, scaling, nodata, windows, frames, pairs, labels, errors."""
import numpy as np
import pytest
import rasterio
from helpers.rasters import TRANSFORM, ramp, write_geotiff
from rasterio.windows import Window
from rasterio.windows import transform as rio_window_transform

from geospatial_mm.datasets.transforms import (
    LoadGeospatialAnnotations,
    LoadGeospatialImageFromFile,
    LoadGeospatialImagePair,
    RandomWindow,
)
from geospatial_mm.io import RasterError

LAYOUTS = [pytest.param(False, id='striped'), pytest.param(True, id='tiled')]


@pytest.mark.parametrize('tiled', LAYOUTS)
@pytest.mark.parametrize('dtype', ['int16', 'uint16', 'float32'])
@pytest.mark.parametrize('backend', ['rasterio', 'tifffile'])
def test_bands_scale_and_metainfo(tmp_path, tiled, dtype, backend):
    data = ramp(6, 24, 20, dtype)
    path = write_geotiff(tmp_path / 'img.tif', data, tiled=tiled, descriptions=[f'B{i}' for i in range(6)])
    out = LoadGeospatialImageFromFile(bands=[5, 1, 2], scale=0.5, backend=backend)(dict(img_path=str(path)))
    img = out['img']
    assert img.dtype == np.float32 and img.shape == (24, 20, 3)
    np.testing.assert_allclose(img, data[[5, 1, 2]].transpose(1, 2, 0).astype(np.float32) * 0.5)
    assert out['img_shape'] == (24, 20) and out['ori_shape'] == (24, 20)
    geo = out['geo_meta']
    assert geo['path'] == str(path) and geo['count'] == 6 and geo['bands'] == [5, 1, 2]
    assert geo['transform'] == pytest.approx(tuple(TRANSFORM)[:6])
    assert rasterio.crs.CRS.from_wkt(geo['crs']).to_epsg() == 32610
    if backend == 'rasterio':
        assert geo['band_names'] == tuple(f'B{i}' for i in range(6))
    assert not out['nodata_mask'].any()
    assert out['img_keys'] == ['img'] and out['num_frames'] == 1


@pytest.mark.parametrize('dtype,nodata', [('int16', -9999), ('uint16', 0), ('float32', -1.0)])
def test_nodata_from_the_file_is_replaced_and_masked(tmp_path, dtype, nodata):
    data = ramp(3, 10, 10, dtype) + 1
    data[1, 2, 3] = nodata  # one band is enough to mark the pixel
    data[:, 7, 7] = nodata
    path = write_geotiff(tmp_path / 'nd.tif', data, nodata=nodata)
    out = LoadGeospatialImageFromFile(nodata_replace=-5.0, scale=2.0)(dict(img_path=str(path)))
    expected_mask = np.zeros((10, 10), bool)
    expected_mask[2, 3] = expected_mask[7, 7] = True
    np.testing.assert_array_equal(out['nodata_mask'], expected_mask)
    assert (out['img'][expected_mask] == -5.0).all()  # replaced after scaling, in output units
    np.testing.assert_allclose(out['img'][~expected_mask], (data.transpose(1, 2, 0)[~expected_mask] * 2.0))
    assert out['geo_meta']['nodata'] == nodata


def test_nodata_from_the_config_and_nan(tmp_path):
    data = ramp(2, 6, 6, 'float32')
    data[0, 0, 0] = 42
    data[1, 5, 5] = np.nan
    path = write_geotiff(tmp_path / 'f.tif', data)  # no nodata in the file
    out = LoadGeospatialImageFromFile(nodata=42)(dict(img_path=str(path)))
    assert out['nodata_mask'][0, 0] and out['nodata_mask'][5, 5] and out['nodata_mask'].sum() == 2
    assert np.isfinite(out['img']).all()


@pytest.mark.parametrize('tiled', LAYOUTS)
@pytest.mark.parametrize('backend', ['rasterio', 'tifffile'])
def test_window_read_equals_the_crop_of_a_full_read_and_shifts_the_transform(tmp_path, tiled, backend):
    path = write_geotiff(tmp_path / 'w.tif', ramp(4, 50, 40, 'int16'), tiled=tiled)
    loader = LoadGeospatialImageFromFile(backend=backend)
    full = loader(dict(img_path=str(path)))['img']
    out = loader(dict(img_path=str(path), read_window=(11, 6, 20, 17)))
    np.testing.assert_array_equal(out['img'], full[11:31, 6:23])
    expected = rio_window_transform(Window(6, 11, 17, 20), TRANSFORM)
    assert out['geo_meta']['transform'] == pytest.approx(tuple(expected)[:6])
    assert out['geo_meta']['window'] == (11, 6, 20, 17)


def test_band_groups_and_files_stack_as_frames_in_order(tmp_path):
    data = ramp(6, 8, 8, 'int16')
    path = write_geotiff(tmp_path / 'multi.tif', data)
    out = LoadGeospatialImageFromFile(frames=[[0, 1], [2, 3], [4, 5]])(dict(img_path=str(path)))
    assert out['num_frames'] == 3 and out['img'].shape == (8, 8, 6)
    np.testing.assert_array_equal(out['img'][..., 2], data[2])
    paths = [write_geotiff(tmp_path / f't{t}.tif', data + 100 * t) for t in range(3)]
    out = LoadGeospatialImageFromFile(bands=[0, 4])(dict(img_path=[str(p) for p in paths]))
    assert out['num_frames'] == 3 and out['img'].shape == (8, 8, 6)
    for t in range(3):
        np.testing.assert_array_equal(out['img'][..., 2 * t], data[0] + 100 * t)
        np.testing.assert_array_equal(out['img'][..., 2 * t + 1], data[4] + 100 * t)


def test_frames_from_files_that_are_not_coregistered(tmp_path):
    a = write_geotiff(tmp_path / 'a.tif', ramp(2, 8, 8, 'int16'))
    b = write_geotiff(tmp_path / 'b.tif', ramp(2, 8, 8, 'int16'), transform=TRANSFORM @ TRANSFORM.translation(1, 0))
    with pytest.raises(RasterError, match=r'b\.tif: not co-registered with .*a\.tif: transform'):
        LoadGeospatialImageFromFile()(dict(img_path=[str(a), str(b)]))


def test_pair_loads_both_images_and_checks_them(tmp_path):
    pre = write_geotiff(tmp_path / 'pre.tif', ramp(3, 12, 12, 'uint16'))
    post = write_geotiff(tmp_path / 'post.tif', ramp(3, 12, 12, 'uint16') + 5)
    out = LoadGeospatialImagePair()(dict(img_path=str(pre), post_img_path=str(post)))
    assert out['img_keys'] == ['img', 'img_post']
    np.testing.assert_array_equal(out['img_post'] - out['img'], 5)
    stacked = LoadGeospatialImagePair(stack=True)(dict(img_path=str(pre), post_img_path=str(post)))
    assert stacked['img'].shape == (12, 12, 6) and stacked['img_keys'] == ['img']

    other_size = write_geotiff(tmp_path / 'big.tif', ramp(3, 14, 12, 'uint16'))
    with pytest.raises(RasterError, match=r'big\.tif: does not match .*pre\.tif of the same pair: size 14x12'):
        LoadGeospatialImagePair()(dict(img_path=str(pre), post_img_path=str(other_size)))
    other_crs = write_geotiff(tmp_path / 'crs.tif', ramp(3, 12, 12, 'uint16'), crs='EPSG:4326')
    with pytest.raises(RasterError, match=r'crs\.tif: does not match .*CRS differs \(EPSG:4326 vs EPSG:32610\)'):
        LoadGeospatialImagePair()(dict(img_path=str(pre), post_img_path=str(other_crs)))


def _label(tmp_path, values, name='lab.tif', nodata=None, **kw):
    return write_geotiff(tmp_path / name, np.asarray(values)[None], nodata=nodata, **kw)


def test_annotations_nodata_ignore_reduce_zero_and_label_map(tmp_path):
    lab = _label(tmp_path, np.array([[-1, 0, 1], [2, 3, -1]], dtype='int16'), nodata=-1)
    out = LoadGeospatialAnnotations()(dict(seg_map_path=str(lab)))
    np.testing.assert_array_equal(out['gt_seg_map'], [[255, 0, 1], [2, 3, 255]])
    assert out['gt_seg_map'].dtype == np.int64 and out['seg_fields'] == ['gt_seg_map']
    out = LoadGeospatialAnnotations(reduce_zero_label=True)(dict(seg_map_path=str(lab)))
    np.testing.assert_array_equal(out['gt_seg_map'], [[255, 255, 0], [1, 2, 255]])
    out = LoadGeospatialAnnotations(ignore_values=[3], label_map={1: 0, 2: 1})(dict(seg_map_path=str(lab)))
    np.testing.assert_array_equal(out['gt_seg_map'], [[255, 0, 0], [1, 255, 255]])
    # the dataset's label_map is used when the transform has none
    out = LoadGeospatialAnnotations()(dict(seg_map_path=str(lab), label_map={0: 9}))
    np.testing.assert_array_equal(out['gt_seg_map'], [[255, 9, 1], [2, 3, 255]])


def test_annotations_must_match_their_image(tmp_path):
    img = write_geotiff(tmp_path / 'img.tif', ramp(2, 6, 6, 'int16'))
    results = LoadGeospatialImageFromFile()(dict(img_path=str(img)))
    small = _label(tmp_path, np.zeros((5, 6), 'uint8'), name='small.tif')
    with pytest.raises(RasterError, match=r'small\.tif: label of 5x6 pixels does not match its image .*img\.tif '
                                          r'of 6x6'):
        LoadGeospatialAnnotations()(dict(results, seg_map_path=str(small)))
    shifted = _label(tmp_path, np.zeros((6, 6), 'uint8'), name='shifted.tif',
                     transform=TRANSFORM @ TRANSFORM.translation(0, 2))
    with pytest.raises(RasterError, match=r'shifted\.tif: label transform .* does not match its image'):
        LoadGeospatialAnnotations()(dict(results, seg_map_path=str(shifted)))
    fractional = _label(tmp_path, np.full((6, 6), 0.5, 'float32'), name='frac.tif')
    with pytest.raises(RasterError, match=r'frac\.tif: label raster holds non-integer values'):
        LoadGeospatialAnnotations()(dict(seg_map_path=str(fractional)))


def test_a_label_in_another_crs_than_its_image_names_both(tmp_path):
    img = write_geotiff(tmp_path / 'img.tif', ramp(2, 6, 6, 'int16'))
    results = LoadGeospatialImageFromFile()(dict(img_path=str(img)))
    other = _label(tmp_path, np.zeros((6, 6), 'uint8'), name='other_crs.tif', crs='EPSG:32611')
    with pytest.raises(RasterError, match=r'other_crs\.tif: label CRS EPSG:32611 differs from the CRS of its image '
                                          r'.*img\.tif \(EPSG:32610\)'):
        LoadGeospatialAnnotations()(dict(results, seg_map_path=str(other)))
    same = _label(tmp_path, np.zeros((6, 6), 'uint8'), name='same_crs.tif')  # the same CRS, other WKT text is fine
    assert LoadGeospatialAnnotations()(dict(results, seg_map_path=str(same)))['gt_seg_map'].shape == (6, 6)


def test_label_values_outside_the_classes_and_the_ignore_index_name_the_file(tmp_path):
    lab = _label(tmp_path, np.array([[0, 1, 7], [-1, 1, 9]], dtype='int16'), nodata=-1)
    with pytest.raises(RasterError, match=r'lab\.tif: label values \[7, 9\] are neither a class index \(0-1, 2 '
                                          r'classes\) nor the ignore index 255'):
        LoadGeospatialAnnotations()(dict(seg_map_path=str(lab), num_classes=2))  # as the datasets set it
    with pytest.raises(RasterError, match=r'label values \[9\] are neither a class index \(0-7, 8 classes\)'):
        LoadGeospatialAnnotations(num_classes=8)(dict(seg_map_path=str(lab), num_classes=2))  # its own count wins
    out = LoadGeospatialAnnotations(ignore_values=[7, 9])(dict(seg_map_path=str(lab), num_classes=2))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 1, 255], [255, 1, 255]])  # mapped first, then checked
    assert LoadGeospatialAnnotations()(dict(seg_map_path=str(lab)))['gt_seg_map'].max() == 255  # no class count
    mapped = LoadGeospatialAnnotations(label_map={7: 0, 9: 1})(dict(seg_map_path=str(lab), num_classes=2))
    np.testing.assert_array_equal(mapped['gt_seg_map'], [[0, 1, 0], [255, 1, 1]])


def test_a_dataset_sample_with_an_impossible_label_fails_in_the_pipeline(tmp_path):
    from geospatial_mm.datasets import GeospatialSegDataset
    write_geotiff(tmp_path / 'img' / 'a.tif', ramp(2, 6, 6, 'int16'))
    _label(tmp_path / 'lab', np.full((6, 6), 7, 'uint8'), name='a.tif')
    ds = GeospatialSegDataset(data_root=str(tmp_path), data_prefix=dict(img_path='img', seg_map_path='lab'),
                              metainfo=dict(classes=('no', 'yes'), palette=[[0, 0, 0], [255, 255, 255]]),
                              pipeline=[dict(type='LoadGeospatialImageFromFile'),
                                        dict(type='LoadGeospatialAnnotations')])
    assert ds.get_data_info(0)['num_classes'] == 2
    with pytest.raises(RasterError, match=r'a\.tif: label values \[7\] are neither a class index'):
        ds[0]


@pytest.mark.parametrize('tiled', LAYOUTS)
def test_random_window_reads_aligned_image_and_label(tmp_path, tiled):
    h, w = 60, 50
    rows, cols = np.mgrid[:h, :w]
    img = write_geotiff(tmp_path / 'img.tif', np.stack([rows, cols]).astype('int16'), tiled=tiled)
    lab = _label(tmp_path, ((rows * 7 + cols * 3) % 5).astype('uint8'), tiled=tiled)
    pipeline = [RandomWindow(crop_size=(17, 23)), LoadGeospatialImageFromFile(), LoadGeospatialAnnotations()]
    seen = set()
    for seed in range(15):
        np.random.seed(seed)
        results = dict(img_path=str(img), seg_map_path=str(lab))
        for t in pipeline:
            results = t(results)
        r, c = results['img'][..., 0], results['img'][..., 1]
        assert results['img'].shape == (17, 23, 2)
        np.testing.assert_array_equal(results['gt_seg_map'], (r * 7 + c * 3) % 5)
        assert results['read_window'][:2] == (int(r[0, 0]), int(c[0, 0]))
        seen.add(results['read_window'][:2])
    assert len(seen) > 5  # the windows are random


def test_random_window_cat_max_ratio_avoids_single_class_crops(tmp_path):
    label = np.zeros((64, 64), 'uint8')
    label[:16, :16] = 1  # one object in a corner
    lab = _label(tmp_path, label)
    img = write_geotiff(tmp_path / 'img.tif', ramp(1, 64, 64, 'int16'))

    def hits(ratio):
        count = 0
        for seed in range(30):
            np.random.seed(seed)
            out = RandomWindow(crop_size=16, cat_max_ratio=ratio)(dict(img_path=str(img), seg_map_path=str(lab)))
            r, c, _, _ = out['read_window']
            count += label[r:r + 16, c:c + 16].max() == 1
        return count

    plain, retried = hits(1.0), hits(0.95)
    assert plain <= 6 and retried >= plain + 8, (plain, retried)  # a plain crop holds the object ~1 time in 10


def test_raster_smaller_than_the_window_is_read_whole(tmp_path):
    img = write_geotiff(tmp_path / 'tiny.tif', ramp(2, 5, 7, 'int16'))
    out = RandomWindow(crop_size=16)(dict(img_path=str(img)))
    assert out['read_window'] == (0, 0, 5, 7)


def test_random_window_reads_a_file_header_once_per_file_version(tmp_path, monkeypatch):
    import os

    from geospatial_mm.datasets.transforms import random_window
    opened = []
    real = random_window.read_meta
    monkeypatch.setattr(random_window, 'read_meta', lambda path, backend='rasterio': opened.append(path) or
                        real(path, backend))
    img = write_geotiff(tmp_path / 'img.tif', ramp(2, 40, 50, 'int16'))
    window = RandomWindow(crop_size=16)
    for _ in range(5):
        row, col, h, w = window(dict(img_path=str(img)))['read_window']
        assert (h, w) == (16, 16) and row + h <= 40 and col + w <= 50
    assert opened == [str(img)]
    # the file replaced by a smaller one (another size on disk and another modification time): read again
    write_geotiff(img, ramp(2, 10, 12, 'int16'))
    os.utime(img, ns=(os.stat(img).st_atime_ns, os.stat(img).st_mtime_ns + 10 ** 9))
    assert window(dict(img_path=str(img)))['read_window'] == (0, 0, 10, 12)
    assert opened == [str(img)] * 2
    with pytest.raises(RasterError, match='missing.tif'):
        window(dict(img_path=str(tmp_path / 'missing.tif')))
