"""geospatial_mm.io.raster on generated GeoTIFFs: both backends, striped and tiled, int16/uint16/float32."""
import numpy as np
import pytest
import rasterio
from helpers.rasters import CRS, TRANSFORM, ramp, write_geotiff

from geospatial_mm.io import RasterError, read_bands, read_meta

LAYOUTS = [pytest.param(False, id='striped'), pytest.param(True, id='tiled')]
DTYPES = ['int16', 'uint16', 'float32']
BACKENDS = ['rasterio', 'tifffile']


@pytest.mark.parametrize('tiled', LAYOUTS)
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('backend', BACKENDS)
def test_reads_selected_bands_of_a_window_in_order(tmp_path, tiled, dtype, backend):
    data = ramp(4, 40, 36, dtype)
    path = write_geotiff(tmp_path / 'a.tif', data, tiled=tiled, nodata=7)
    meta = read_meta(path, backend)
    assert (meta.count, meta.height, meta.width, meta.dtype) == (4, 40, 36, dtype)
    assert meta.tiled is tiled
    assert meta.nodata == 7
    assert rasterio.crs.CRS.from_wkt(meta.crs) == rasterio.crs.CRS.from_string(CRS)
    assert meta.transform == pytest.approx(tuple(TRANSFORM)[:6])
    out = read_bands(path, [3, 0, 2], (5, 7, 20, 11), backend, meta)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, data[[3, 0, 2], 5:25, 7:18])
    np.testing.assert_array_equal(read_bands(path, backend=backend), data)


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(RasterError, match=r'nope\.tif: file not found'):
        read_meta(tmp_path / 'nope.tif')
    with pytest.raises(RasterError, match='expected a raster file, found a directory'):
        read_meta(tmp_path)


@pytest.mark.parametrize('backend', BACKENDS)
def test_not_a_raster(tmp_path, backend):
    path = tmp_path / 'notes.tif'
    path.write_text('this is not a tiff')
    with pytest.raises(RasterError, match=r'notes\.tif: not a readable'):
        read_meta(path, backend)


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('tiled', LAYOUTS)
def test_truncated_file_is_an_error_not_zeros(tmp_path, backend, tiled):
    path = write_geotiff(tmp_path / 'cut.tif', ramp(3, 64, 64, 'int16'), tiled=tiled)
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])
    with pytest.raises(RasterError, match=r'cut\.tif: .*(truncated|corrupt|not a readable)'):
        meta = read_meta(path, backend)
        read_bands(path, backend=backend, meta=meta)


@pytest.mark.parametrize('backend', BACKENDS)
def test_band_index_out_of_range(tmp_path, backend):
    path = write_geotiff(tmp_path / 'six.tif', ramp(6, 8, 8, 'int16'))
    with pytest.raises(RasterError, match=r'six\.tif: band index 6 out of range: the file has 6 band\(s\) '
                                          r'\(indices 0-5\)'):
        read_bands(path, [0, 6], backend=backend)


def test_window_outside_the_raster(tmp_path):
    path = write_geotiff(tmp_path / 'small.tif', ramp(1, 10, 12, 'uint16'))
    with pytest.raises(RasterError, match=r'small\.tif: window rows 5:15, cols 0:4 is outside the raster of 10x12'):
        read_bands(path, window=(5, 0, 10, 4))


def test_unsupported_dtype(tmp_path):
    path = write_geotiff(tmp_path / 'complex.tif', (np.ones((1, 4, 4)) * (1 + 2j)).astype('complex64'))
    with pytest.raises(RasterError, match=r'complex\.tif: unsupported data type complex64'):
        read_meta(path)


def test_keep_open_reuses_one_open_dataset_per_file_and_closes_it_after(tmp_path, monkeypatch):
    from geospatial_mm.io import keep_open, read_raster
    data = ramp(3, 32, 32, 'int16')
    path = write_geotiff(tmp_path / 'a.tif', data, tiled=True)
    opened = []
    real_open = rasterio.open

    def counting_open(*args, **kwargs):
        opened.append(real_open(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(rasterio, 'open', counting_open)
    with keep_open():
        for r in range(0, 24, 8):
            out, meta = read_raster(path, [2, 0], (r, 4, 8, 8))
            np.testing.assert_array_equal(out, data[[2, 0], r:r + 8, 4:12])
        assert len(opened) == 1 and not opened[0].closed
    assert opened[0].closed
    read_raster(path, None, (0, 0, 4, 4))  # outside the block: opened and closed per call
    assert len(opened) == 2 and opened[1].closed
