"""VRTs that stack single bands of several rasters onto one grid (geospatial_mm/io/vrt.py): what GDAL reads from them
equals what it reads from the sources, locally and over HTTP."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio
from helpers.cogs import north_up, synthetic_band, write_cog, write_scene
from helpers.range_server import RangeServer

from geospatial_mm.io import RasterError, read_bands, read_meta
from geospatial_mm.io import vrt as vrt_module
from geospatial_mm.io.remote import remote_options
from geospatial_mm.io.vrt import VrtBand, has_remote_sources, stack_vrt, write_vrt

ORIGIN = (500000.0, 4200000.0)


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """B04 and B08 at 10 m (256 x 128 pixels), B11 at 20 m (128 x 64 pixels), over one extent, nodata 0."""
    folder = tmp_path_factory.mktemp('vrt')
    cogs = write_scene(folder, 'T', {'B04': 10.0, 'B08': 10.0, 'B11': 20.0}, extent=(2560.0, 1280.0), block=64)
    data = {}
    for band, info in cogs.items():
        with rasterio.open(info.path) as src:
            data[band] = src.read(1)
    return folder, cogs, data


def upsample(band, factor=2):
    return np.repeat(np.repeat(band, factor, axis=0), factor, axis=1)


def sources(element):
    return [s.find('SourceFilename').text for s in element.iter('SimpleSource')]


def test_10m_and_20m_bands_read_as_the_sources_with_20m_pixels_repeated(scene, tmp_path):
    _, cogs, data = scene
    bands = [VrtBand(str(cogs[b].path), nodata=0, description=b) for b in ('B04', 'B11', 'B08')]
    path = write_vrt(tmp_path / 'stack.vrt', bands)
    assert path == tmp_path / 'stack.vrt' and sorted(p.name for p in tmp_path.iterdir()) == ['stack.vrt']
    with rasterio.open(path) as src:
        assert src.count == 3 and src.shape == (128, 256) and src.dtypes == ('uint16',) * 3
        assert src.crs.to_epsg() == 32610 and src.transform == cogs['B04'].transform  # the grid of bands[0] ...
        assert src.descriptions == ('B04', 'B11', 'B08') and src.nodatavals == (0.0, 0.0, 0.0)
        stack = src.read()
    np.testing.assert_array_equal(stack[0], data['B04'])
    np.testing.assert_array_equal(stack[1], upsample(data['B11']))  # ... onto which the 20 m band is resampled
    np.testing.assert_array_equal(stack[2], data['B08'])
    # a window read through the package's reader sees the same pixels (0-based bands)
    window = read_bands(path, bands=[2, 1], window=(37, 91, 50, 60))
    np.testing.assert_array_equal(window[0], data['B08'][37:87, 91:151])
    np.testing.assert_array_equal(window[1], upsample(data['B11'])[37:87, 91:151])
    meta = read_meta(path)
    assert meta.band_names == ('B04', 'B11', 'B08') and meta.nodata == 0


def test_the_grid_of_the_first_band_decides_and_resolution_makes_another(scene, tmp_path):
    _, cogs, data = scene
    first_20m = [VrtBand(str(cogs['B11'].path)), VrtBand(str(cogs['B04'].path))]
    with rasterio.open(write_vrt(tmp_path / 'a.vrt', first_20m)) as src:
        # the 10 m band on the 20 m grid of bands[0], nearest neighbour: the 10 m pixel under each 20 m pixel's
        # centre, i.e. the second of every two
        assert src.shape == (64, 128) and src.transform == cogs['B11'].transform
        np.testing.assert_array_equal(src.read(2), data['B04'][1::2, 1::2])
        np.testing.assert_array_equal(src.read(1), data['B11'])
    at_20m = [VrtBand(str(cogs['B04'].path)), VrtBand(str(cogs['B11'].path))]
    with rasterio.open(write_vrt(tmp_path / 'b.vrt', at_20m, resolution=20.0, resampling='average')) as src:
        assert src.shape == (64, 128) and tuple(src.transform)[:6] == (20.0, 0.0, ORIGIN[0], 0.0, -20.0, ORIGIN[1])
        blocks = data['B04'].astype(np.float64).reshape(64, 2, 128, 2).mean(axis=(1, 3))
        assert np.abs(src.read(1) - blocks).max() <= 1  # averaged (and rounded to integers), not picked
        assert np.abs(src.read(1).astype(int) - data['B04'][1::2, 1::2]).max() > 100
        np.testing.assert_array_equal(src.read(2), data['B11'])
    with rasterio.open(write_vrt(tmp_path / 'c.vrt', at_20m, resolution=5.0)) as src:
        assert src.shape == (256, 512)
        np.testing.assert_array_equal(src.read(1), upsample(data['B04']))
        np.testing.assert_array_equal(src.read(2), upsample(data['B11'], 4))


def test_a_band_covering_part_of_the_extent_reads_as_nodata_outside_it(scene, tmp_path):
    _, cogs, data = scene
    # 20 m pixels from 640 m east and 320 m south of the grid's corner, running 640 m past its east edge
    part = synthetic_band(32, 128, seed=7)
    info = write_cog(tmp_path / 'part.tif', part, north_up((ORIGIN[0] + 640.0, ORIGIN[1] - 320.0), 20.0), block=32)
    bands = [VrtBand(str(cogs['B04'].path), nodata=0), VrtBand(str(info.path), nodata=65535, description='part')]
    xml = stack_vrt(bands)
    rects = [s.find('DstRect').attrib for s in ET.fromstring(xml).iter('SimpleSource')]
    assert rects[1] == {'xOff': '64', 'yOff': '32', 'xSize': '192', 'ySize': '64'}  # clipped to the grid
    with rasterio.open(write_vrt(tmp_path / 'p.vrt', bands)) as src:
        got = src.read(2)
        assert src.nodatavals == (0.0, 65535.0)
    expected = np.full((128, 256), 65535, np.uint16)
    expected[32:96, 64:256] = upsample(part[:, :96])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(read_bands(tmp_path / 'p.vrt', bands=[0])[0], data['B04'])


def test_bands_in_another_crs_are_refused_naming_both(scene, tmp_path):
    _, cogs, _ = scene
    other = write_cog(tmp_path / 'zone11.tif', synthetic_band(64, 64), north_up(ORIGIN, 20.0), 'EPSG:32611', block=64)
    with pytest.raises(RasterError) as err:
        stack_vrt([VrtBand(str(cogs['B04'].path)), VrtBand(str(other.path))])
    message = str(err.value)
    assert str(cogs['B04'].path) in message and str(other.path) in message
    assert 'EPSG:32610' in message and 'EPSG:32611' in message
    # a CRS given by the caller, as WKT or as a code, is the same CRS as the file's
    wkt = rasterio.crs.CRS.from_epsg(32610).to_wkt()
    assert '<SRS>' in stack_vrt([VrtBand(str(cogs['B04'].path), crs=wkt), VrtBand(str(cogs['B11'].path),
                                                                                   crs='EPSG:32610')])


def test_rotated_transforms_unknown_resampling_and_bad_bands_are_refused(scene):
    _, cogs, _ = scene
    path = str(cogs['B04'].path)
    given = dict(shape=(10, 10), crs='EPSG:32610', dtype='uint16')
    with pytest.raises(RasterError, match='north-up'):
        stack_vrt([VrtBand(path), VrtBand('/data/r.tif', transform=(10.0, 0.5, ORIGIN[0], 0.0, -10.0, ORIGIN[1]),
                                          **given)])
    with pytest.raises(RasterError, match='north-up'):
        stack_vrt([VrtBand('/data/r.tif', transform=(10.0, 0.0, ORIGIN[0], 0.0, 10.0, ORIGIN[1]), **given)])
    with pytest.raises(ValueError, match='resampling.*lanczos'):
        stack_vrt([VrtBand(path)], resampling='lanczos')
    with pytest.raises(ValueError, match='resolution'):
        stack_vrt([VrtBand(path)], resolution=0)
    with pytest.raises(ValueError, match='at least one band'):
        stack_vrt([])
    with pytest.raises(RasterError, match='band 2 requested, the raster has 1'):
        stack_vrt([VrtBand(path, band=2)])
    with pytest.raises(RasterError, match='file not found'):
        stack_vrt([VrtBand(path), VrtBand('/no/such/file.tif')])
    far = VrtBand('/data/far.tif', transform=(10.0, 0.0, ORIGIN[0] + 1e5, 0.0, -10.0, ORIGIN[1]), **given)
    with pytest.raises(RasterError, match='far.tif: expected the raster to overlap'):
        stack_vrt([VrtBand(path), far])


def test_the_vrt_type_is_the_common_type_of_the_bands():
    grid = dict(shape=(8, 8), transform=(10.0, 0.0, ORIGIN[0], 0.0, -10.0, ORIGIN[1]), crs='EPSG:32610')

    def types(*dtypes):
        xml = stack_vrt([VrtBand(f'/data/{i}.tif', dtype=d, **grid) for i, d in enumerate(dtypes)])
        root = ET.fromstring(xml)
        assert [p.get('DataType') for p in root.iter('SourceProperties')] == [vrt_module.GDAL_TYPES[d] for d in dtypes]
        return {b.get('dataType') for b in root.iter('VRTRasterBand')}

    assert types('uint8', 'uint8') == {'Byte'}
    assert types('uint8', 'int16') == {'Int16'}
    assert types('uint8', 'uint16') == {'UInt16'}
    assert types('uint16', 'int16') == {'Int32'}
    assert types('uint16', 'uint32') == {'UInt32'}
    assert types('uint16', 'float32') == {'Float32'}
    assert types('int32', 'float32') == {'Float64'}
    with pytest.raises(RasterError, match='no common type'):
        types('uint32', 'int32')  # int64


def test_headers_are_read_once_per_file_and_only_when_needed(tmp_path, monkeypatch):
    data = np.stack([synthetic_band(32, 48, seed=s) for s in range(3)])
    path = tmp_path / 'three.tif'
    with rasterio.open(path, 'w', driver='GTiff', height=32, width=48, count=3, dtype='uint16', crs='EPSG:32610',
                       transform=north_up(ORIGIN, 10.0)) as dst:
        dst.write(data)
    calls = []
    monkeypatch.setattr(vrt_module, 'read_meta', lambda p: calls.append(p) or read_meta(p))
    bands = [VrtBand(str(path), band=3), VrtBand(str(path), band=1)]
    with rasterio.open(write_vrt(tmp_path / 'x.vrt', bands)) as src:
        np.testing.assert_array_equal(src.read(), data[[2, 0]])
    assert calls == [str(path)]
    calls.clear()
    given = dict(shape=(32, 48), transform=tuple(north_up(ORIGIN, 10.0))[:6], crs='EPSG:32610', dtype='uint16')
    with rasterio.open(write_vrt(tmp_path / 'y.vrt', [VrtBand(str(path), band=2, **given)])) as src:
        np.testing.assert_array_equal(src.read(1), data[1])
    assert calls == []


def test_urls_are_written_as_gdal_names_and_local_paths_absolute(tmp_path, monkeypatch):
    grid = dict(shape=(8, 8), transform=(10.0, 0.0, ORIGIN[0], 0.0, -10.0, ORIGIN[1]), crs='EPSG:32610',
                dtype='uint16')
    monkeypatch.chdir(tmp_path)
    bands = [VrtBand('https://h.example/a/B04.tif?se=2024&sig=ab%2Fc', **grid),
             VrtBand('s3://bucket/k/B08.tif', **grid), VrtBand('/vsizip//data/x.zip/B11.tif', **grid),
             VrtBand('rel/B12.tif', **grid)]
    xml = stack_vrt(bands)
    assert '&sig' not in xml and '&amp;sig=ab%2Fc' in xml  # escaped in the XML ...
    root = ET.fromstring(xml)
    assert sources(root) == ['/vsicurl/https://h.example/a/B04.tif?se=2024&sig=ab%2Fc',  # ... and read back
                             '/vsis3/bucket/k/B08.tif', '/vsizip//data/x.zip/B11.tif', str(tmp_path / 'rel/B12.tif')]
    assert {s.find('SourceFilename').get('relativeToVRT') for s in root.iter('SimpleSource')} == {'0'}
    assert has_remote_sources(bands) and not has_remote_sources(bands[2:])
    described = stack_vrt([VrtBand('/d/a.tif', description='<B&W> "x"', **grid)])
    assert ET.fromstring(described).find('VRTRasterBand/Description').text == '<B&W> "x"'


def test_a_vrt_of_cogs_over_http_reads_as_the_local_files(scene, tmp_path):
    folder, cogs, data = scene
    signed = {'se': '2030-01-01', 'sp': 'r', 'sig': 'S3CRET'}  # a signed URL's query string: '&' in the XML
    with RangeServer(folder) as server:
        bands = [VrtBand(server.url('T_B04.tif', signed), nodata=0, description='B04'),
                 VrtBand(server.url('T_B11.tif', signed), nodata=0, description='B11')]
        path = write_vrt(tmp_path / 'remote.vrt', bands)
        assert '&amp;sig=S3CRET' in path.read_text()
        assert sources(ET.parse(path).getroot())[0] == '/vsicurl/' + server.url('T_B04.tif', signed)
        with rasterio.Env(**remote_options()), rasterio.open(path) as src:
            assert src.descriptions == ('B04', 'B11')
            np.testing.assert_array_equal(src.read(1), data['B04'])
            np.testing.assert_array_equal(src.read(2), upsample(data['B11']))
        records = [r for r in server.records() if r.path.endswith('.tif')]
    assert {r.path for r in records} == {'T_B04.tif', 'T_B11.tif'}
    assert all('sig=S3CRET' in r.query for r in records)  # the query string reached the server intact


def test_a_window_of_a_remote_vrt_fetches_ranges_of_the_blocks_it_needs(tmp_path):
    data = synthetic_band(512, 512, seed=5)
    cog = write_cog(tmp_path / 'big.tif', data, north_up(ORIGIN, 10.0), block=128, compress='NONE')
    with RangeServer(tmp_path) as server:
        bands = [VrtBand(server.url('big.tif'), description='big'), VrtBand(server.url('big.tif'))]
        path = write_vrt(tmp_path / 'w.vrt', bands, resolution=10.0)
        with rasterio.Env(**remote_options()), rasterio.open(path) as src:
            window = src.read(1, window=((128, 256), (256, 384)))  # one tile of 16
        stats = server.stats()
        ranges = [r.range for r in server.records() if r.path == 'big.tif' and r.method == 'GET']
    np.testing.assert_array_equal(window, data[128:256, 256:384])
    assert ranges and all(r is not None for r in ranges)  # byte ranges only, never the whole file
    assert stats.bytes_for('big.tif') < cog.path.stat().st_size / 4
