"""The STAC test helpers (tests/helpers/stac_server.py, tests/helpers/cogs.py): COGs at two resolutions, a static
catalogue read by pystac, and the STAC API searched by pystac-client."""
import http.client
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pystac
import pystac_client
import pytest
import rasterio
from helpers.cogs import north_up, synthetic_band, write_cog, write_scene
from helpers.range_server import Faults, RangeServer
from helpers.stac_server import StacServer, format_datetime, write_sentinel2_like, write_static_catalog
from pystac.extensions.eo import EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterExtension
from pystac_client.exceptions import APIError

GDAL = dict(GDAL_DISABLE_READDIR_ON_OPEN='EMPTY_DIR')
S2 = [f'S2X_{i:03d}' for i in range(5)]  # dated 2023-06-01, -06, -11, -16, -21; cloud cover 0, 17, 34, 51, 68
OTHER = ['OTH_000', 'OTH_001']


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """Two collections of items over small COGs (B04, B08 at 10 m, B11 at 20 m), and a relative static catalogue
    of them, all in one folder."""
    folder = tmp_path_factory.mktemp('stac')
    items = write_sentinel2_like(folder, 5)
    items += write_sentinel2_like(folder, 2, collection='other', id_prefix='OTH', start='2022-01-01T10:00:00Z')
    write_static_catalog(folder, items)
    return folder, items


@pytest.fixture
def api(scene):
    folder, items = scene
    with StacServer(folder, items, default_limit=2) as server:
        yield server, pystac_client.Client.open(server.url(''))


def raw_get(server, target):
    path, _, query = target.partition('?')
    conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=5)
    conn.request('GET', server.url(path, query.replace('"', '%22').replace('{', '%7B').replace('}', '%7D')))
    response = conn.getresponse()
    return response.status, json.loads(response.read())


# ------------------------------------------------------------------------------------------------- COGs
def test_write_scene_writes_one_cog_per_band_at_its_resolution_over_one_extent(tmp_path):
    cogs = write_scene(tmp_path, 'T1', {'B04': 10.0, 'B11': 20.0}, extent=(2560.0, 1280.0), block=64)
    assert cogs['B04'].shape == (128, 256) and cogs['B11'].shape == (64, 128)
    assert cogs['B04'].bounds == cogs['B11'].bounds == (500000.0, 4198720.0, 502560.0, 4200000.0)
    for band, info in cogs.items():
        with rasterio.open(info.path) as src:
            assert src.count == 1 and src.crs.to_epsg() == 32610 and src.transform == info.transform
            assert src.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
            assert src.block_shapes == [(64, 64)] and src.nodata == 0 and src.descriptions == (band,)
            assert (src.read(1) != 0).all()  # nodata appears only where asked for
    west, south, east, north = cogs['B04'].lonlat_bounds
    assert -123.1 < west < east < -122.9 and 37.8 < south < north < 38.0
    with pytest.raises(ValueError, match='whole number'):
        write_scene(tmp_path, 'T2', {'B01': 60.0}, extent=(100.0, 100.0))


def test_write_cog_with_overviews(tmp_path):
    data = synthetic_band(512, 512, seed=1, dtype='float32')
    info = write_cog(tmp_path / 'o.tif', data, north_up((0.0, 512.0), 1.0), block=128, overviews=(2, 4))
    with rasterio.open(info.path) as src:
        assert src.overviews(1) == [2, 4] and src.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
        np.testing.assert_array_equal(src.read(1), data)


# ------------------------------------------------------------------------------------------------- static catalogue
def test_relative_static_catalog_is_read_by_pystac(scene):
    folder, items = scene
    catalog = pystac.Catalog.from_file(str(folder / 'catalog.json'))
    assert sorted(c.id for c in catalog.get_children()) == ['other', 's2-like']
    read = {i.id: i for i in catalog.get_items(recursive=True)}
    assert sorted(read) == sorted(S2 + OTHER)
    item = read['S2X_001']
    assert item.datetime.isoformat() == '2023-06-06T18:30:00+00:00'
    assert item.get_collection().id == 's2-like' and item.properties['eo:cloud_cover'] == 17.0
    assert ProjectionExtension.ext(item).epsg == 32610
    assert Path(item.assets['B11'].get_absolute_href()) == folder / 'cogs' / 'S2X_001' / 'S2X_001_B11.tif'
    raster = RasterExtension.ext(item.assets['B11']).bands[0]
    assert (raster.scale, raster.offset, raster.nodata) == (1e-4, 0.0, 0)
    assert EOExtension.ext(item.assets['B04']).bands[0].common_name == 'red'
    assert item.assets['B04'].media_type == 'image/tiff; application=geotiff; profile=cloud-optimized'
    assert ProjectionExtension.ext(item.assets['B11']).shape == [128, 128]
    assert ProjectionExtension.ext(item.assets['B04']).shape == [256, 256]
    text = (folder / 's2-like' / 'S2X_001' / 'S2X_001.json').read_text()
    assert str(folder) not in text and 'http' not in text.replace('https://stac-extensions', '')  # self-contained


def test_absolute_static_catalog_over_http_is_read_by_pystac_and_rasterio(tmp_path):
    items = write_sentinel2_like(tmp_path, 2)
    with RangeServer(tmp_path) as server:
        write_static_catalog(tmp_path, items, base_url=server.base_url)
        catalog = pystac.Catalog.from_file(server.url('catalog.json'))
        item = next(i for i in catalog.get_items(recursive=True) if i.id == 'S2X_001')
        href = item.assets['B08'].get_absolute_href()
        assert href == server.url('cogs/S2X_001/S2X_001_B08.tif')
        assert item.get_self_href() == server.url('s2-like/S2X_001/S2X_001.json')
        with rasterio.Env(**GDAL), rasterio.open(href) as src, \
                rasterio.open(tmp_path / 'cogs' / 'S2X_001' / 'S2X_001_B08.tif') as local:
            np.testing.assert_array_equal(src.read(1), local.read(1))
        assert server.stats().requests_for('catalog.json') == 1


# ------------------------------------------------------------------------------------------------- the API
def test_landing_page_conformance_and_collections(api):
    server, client = api
    for name in ('CORE', 'COLLECTIONS', 'FEATURES', 'ITEM_SEARCH', 'QUERY'):
        assert client.conforms_to(name), name
    assert sorted(c.id for c in client.get_collections()) == ['other', 's2-like']
    collection = client.get_collection('s2-like')
    assert collection.extent.temporal.intervals[0][0].isoformat() == '2023-06-01T18:30:00+00:00'
    status, body = raw_get(server, 'conformance')
    assert status == 200 and 'https://api.stacspec.org/v1.0.0/item-search' in body['conformsTo']


@pytest.mark.parametrize('method', ['GET', 'POST'])
def test_search_walks_every_page(api, method):
    server, client = api
    server.clear_records()
    search = client.search(collections=['s2-like'], method=method, limit=2)
    pages = list(search.pages())
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [i.id for p in pages for i in p.items] == S2
    searches = [r for r in server.records() if r.path == 'search']
    assert len(searches) == 3 and {r.method for r in searches} == {method}
    if method == 'GET':
        assert 'token=next%3A2' in searches[1].query and 'token=next%3A4' in searches[2].query
    else:
        assert [json.loads(r.body).get('token') for r in searches] == [None, 'next:2', 'next:4']
        assert json.loads(searches[2].body)['collections'] == ['s2-like']
    assert search.matched() == 5


@pytest.mark.parametrize('method', ['GET', 'POST'])
@pytest.mark.parametrize('kwargs, expected', [
    (dict(collections=['other']), OTHER),
    (dict(bbox=[-122.96, 37.93, -122.95, 37.94]), ['S2X_001', 'OTH_001']),  # both second in line
    (dict(datetime='2023-06-11T18:30:00Z'), ['S2X_002']),
    (dict(datetime='2023-06-05/2023-06-12'), ['S2X_001', 'S2X_002']),
    (dict(datetime='../2023-06-06T18:30:00Z'), ['S2X_000', 'S2X_001', 'OTH_000', 'OTH_001']),
    (dict(datetime='2023-06-15T00:00:00Z/..'), ['S2X_003', 'S2X_004']),
    (dict(ids=['S2X_003', 'OTH_000']), ['S2X_003', 'OTH_000']),
    (dict(collections=['s2-like'], query={'eo:cloud_cover': {'lt': 40}}), ['S2X_000', 'S2X_001', 'S2X_002']),
    (dict(query={'eo:cloud_cover': {'gte': 51, 'lte': 68}}), ['S2X_003', 'S2X_004']),
    (dict(query={'eo:cloud_cover': {'eq': 34}}), ['S2X_002']),
    (dict(collections=['s2-like'], datetime='2023-06-01/2023-06-30', query={'eo:cloud_cover': {'gt': 20}},
          bbox=[-124, 37, -122, 39]), ['S2X_002', 'S2X_003', 'S2X_004']),
])
def test_search_filters(api, method, kwargs, expected):
    _, client = api
    assert [i.id for i in client.search(method=method, limit=3, **kwargs).items()] == expected


def test_collection_items_and_single_items(api):
    server, client = api
    collection = client.get_collection('other')
    assert [i.id for i in collection.get_items()] == OTHER
    item = collection.get_item('OTH_001')
    assert item.id == 'OTH_001' and item.datetime.isoformat() == '2022-01-06T10:00:00+00:00'
    assert collection.get_item('S2X_000') is None  # in another collection: 404
    assert any(r.path == 'collections/other/items/OTH_001' and r.status == 200 for r in server.records())


@pytest.mark.parametrize('target, message', [
    ('search?bbox=1,2,3', 'bbox'),
    ('search?bbox=10,0,5,1', 'bbox'),
    ('search?intersects={}', 'unsupported search parameters'),
    ('search?datetime=../..', 'open at both ends'),
    ('search?datetime=2023-13-01', 'datetime'),
    ('search?datetime=2023-06-10/2023-06-01', 'precedes'),
    ('search?limit=0', 'limit'),
    ('search?query={"eo:cloud_cover":{"like":3}}', 'operators'),
    ('search?token=abc', 'token'),
    ('collections/nope', 'no collection'),
    ('collections/s2-like/items?collections=other', 'serves'),
])
def test_bad_requests_are_rejected_with_a_reason(api, target, message):
    server, _ = api
    status, body = raw_get(server, target)
    assert status in (400, 404) and message in body['description']


def test_a_bad_post_search_is_rejected(api):
    server, _ = api
    conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=5)
    conn.request('POST', server.url('search'), body=b'{not json', headers={'Content-Type': 'application/json'})
    response = conn.getresponse()
    assert response.status == 400 and 'JSON' in json.loads(response.read())['description']


def test_item_assets_are_cogs_served_by_the_same_server(api, scene):
    folder, _ = scene
    server, client = api
    item = next(client.search(ids=['S2X_004']).items())
    with rasterio.Env(**GDAL):
        for band, shape in (('B04', (256, 256)), ('B11', (128, 128))):
            href = item.assets[band].href
            assert href == server.url(f'cogs/S2X_004/S2X_004_{band}.tif')
            with rasterio.open(href) as src, rasterio.open(folder / 'cogs' / 'S2X_004' / f'S2X_004_{band}.tif') as ref:
                assert src.shape == shape == tuple(ProjectionExtension.ext(item.assets[band]).shape)
                assert src.transform == ref.transform
                np.testing.assert_array_equal(src.read(1), ref.read(1))
    assert server.stats().requests_for('cogs/S2X_004/S2X_004_B11.tif') >= 1


def test_api_with_required_token_sees_the_client_headers(scene):
    folder, items = scene
    faults = Faults(require_header=('Authorization', 'Bearer api-key'))
    with StacServer(folder, items, faults=faults) as server:
        with pytest.raises(APIError, match='credentials required'):
            pystac_client.Client.open(server.url(''))
        client = pystac_client.Client.open(server.url(''), headers={'Authorization': 'Bearer api-key'})
        assert [i.id for i in client.search(ids=['S2X_000']).items()] == ['S2X_000']
        sent = [(r.status, r.header('Authorization')) for r in server.records()]
    assert sent[0] == (401, None) and all(s == (200, 'Bearer api-key') for s in sent[1:])


def test_api_faults_reach_pystac_client_as_errors(api):
    server, client = api
    server.configure(script=('drop', '503'), fault_paths=('search',))
    with pytest.raises(APIError):
        client.search(ids=['S2X_000']).item_collection()  # the answer is cut in the middle of its JSON
    with pytest.raises(APIError, match='service unavailable'):
        client.search(ids=['S2X_000']).item_collection()
    assert [i.id for i in client.search(ids=['S2X_000']).items()] == ['S2X_000']
    cut = [r for r in server.records() if r.dropped]
    assert len(cut) == 1 and cut[0].path == 'search' and 0 < cut[0].body_bytes


def test_datetimes_are_written_in_utc_with_z():
    assert format_datetime(datetime(2023, 6, 1, 20, 30, tzinfo=timezone(timedelta(hours=2)))) == '2023-06-01T18:30:00Z'
    assert format_datetime(datetime(2023, 6, 1, 18, 30, 0, 500)) == '2023-06-01T18:30:00.000500Z'
