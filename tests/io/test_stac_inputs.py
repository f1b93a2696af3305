"""STAC inputs (geospatial_mm/io/stac.py): items from files, static catalogues and a STAC API, their bands as VRT
sources, and items grouped in time - against the test COGs, catalogue and API of tests/helpers/stac_server.py."""
import copy
import importlib.util
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from helpers.cogs import north_up, synthetic_band
from helpers.range_server import RangeServer
from helpers.stac_server import (
    AssetSpec,
    ItemSpec,
    StacServer,
    item_document,
    write_sentinel2_like,
    write_static_catalog,
)
from pystac_client.warnings import NoConformsTo

from geospatial_mm.io import RasterError
from geospatial_mm.io.remote import remote_options
from geospatial_mm.io.stac import (
    StacError,
    group_items,
    is_stac_source,
    item_bands,
    load_items,
    search_items,
    search_query,
    sign_items,
    stac_extensions_read,
)
from geospatial_mm.io.vrt import VrtBand, stack_vrt, write_vrt

S2 = [f'S2X_{i:03d}' for i in range(5)]  # dated 2023-06-01, -06, -11, -16, -21; cloud cover 0, 17, 34, 51, 68
OTHER = ['OTH_000', 'OTH_001']


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """Two collections of items over small COGs (B04, B08 at 10 m, B11 at 20 m), a relative static catalogue of
    them, and an ItemCollection file of the first collection, all in one folder."""
    folder = tmp_path_factory.mktemp('stac')
    items = write_sentinel2_like(folder, 5)
    items += write_sentinel2_like(folder, 2, collection='other', id_prefix='OTH', start='2022-01-01T10:00:00Z')
    write_static_catalog(folder, items)
    features = [item_document(i, lambda h: h, []) for i in items if i.collection == 's2-like']  # hrefs relative
    (folder / 'items.geojson').write_text(json.dumps({'type': 'FeatureCollection', 'features': features}))
    return folder, items


def read(path, band=1):
    with rasterio.open(path) as src:
        return src.read(band)


def item_of(spec, assets=None, href=lambda h: h):
    """A pystac Item of an ItemSpec, with ``assets`` (AssetSpecs) instead of its own when given."""
    spec = copy.deepcopy(spec)
    if assets is not None:
        spec.assets = assets
    return pystac.Item.from_dict(item_document(spec, href, []))


# ------------------------------------------------------------------------------------------------- which sources
def test_stac_sources_are_told_from_rasters(scene, tmp_path):
    folder, _ = scene
    assert is_stac_source(str(folder / 'catalog.json'))
    assert is_stac_source(str(folder / 's2-like' / 'collection.json'))
    assert is_stac_source(str(folder / 's2-like' / 'S2X_000' / 'S2X_000.json'))
    assert is_stac_source(str(folder / 'items.geojson'))
    assert not is_stac_source(str(folder / 'cogs' / 'S2X_000' / 'S2X_000_B04.tif'))
    (tmp_path / 'other.json').write_text('{"type": "Topology"}')
    (tmp_path / 'list.json').write_text('[1, 2]')
    (tmp_path / 'broken.json').write_text('{"type": "Feature"')
    (tmp_path / 'item.txt').write_text('{"type": "Feature"}')
    for name in ('other.json', 'list.json', 'broken.json', 'item.txt', 'missing.json'):
        assert not is_stac_source(str(tmp_path / name)), name
    assert is_stac_source('https://h.example/catalog/item.json') and is_stac_source('http://h/x.GeoJSON?sig=a.tif')
    assert is_stac_source('s3://bucket/stac/catalog.json')
    assert not is_stac_source('https://h.example/B04.tif?x=.json') and not is_stac_source('https://h.example/v1')
    assert not is_stac_source('/vsicurl/https://h.example/item.json')


# ------------------------------------------------------------------------------------------------- loading items
def test_load_an_item_file_with_asset_hrefs_made_absolute(scene):
    folder, _ = scene
    items = load_items(str(folder / 's2-like' / 'S2X_001' / 'S2X_001.json'))
    assert [i.id for i in items] == ['S2X_001']
    item = items[0]
    assert item.datetime == datetime(2023, 6, 6, 18, 30, tzinfo=timezone.utc)
    assert item.properties['eo:cloud_cover'] == 17.0 and item.collection_id == 's2-like'
    assert {k: a.href for k, a in item.assets.items()} == {
        b: str(folder / 'cogs' / 'S2X_001' / f'S2X_001_{b}.tif') for b in ('B04', 'B08', 'B11')}


def test_load_an_item_collection_file_resolving_relative_hrefs_against_it(scene):
    folder, _ = scene
    items = load_items(str(folder / 'items.geojson'))
    assert [i.id for i in items] == S2
    assert items[3].assets['B11'].href == str(folder / 'cogs' / 'S2X_003' / 'S2X_003_B11.tif')
    assert all(Path(a.href).is_file() for i in items for a in i.assets.values())


def test_load_a_static_catalogue_recursively_in_a_stable_order(scene, monkeypatch):
    folder, _ = scene
    items = load_items(str(folder / 'catalog.json'))
    assert [i.id for i in items] == S2 + OTHER  # the catalogue's order: collection by collection
    assert items[5].assets['B04'].href == str(folder / 'cogs' / 'OTH_000' / 'OTH_000_B04.tif')
    assert [i.id for i in load_items(str(folder / 'other' / 'collection.json'))] == OTHER
    monkeypatch.chdir(folder)  # a relative path to the catalogue
    assert [i.id for i in load_items('catalog.json')] == S2 + OTHER
    assert load_items('catalog.json')[0].assets['B08'].href == str(folder / 'cogs' / 'S2X_000' / 'S2X_000_B08.tif')


def test_load_catalogues_and_items_over_http(scene, tmp_path):
    folder, _ = scene
    with RangeServer(folder) as server:  # the relative catalogue: links and hrefs resolved against its URL
        items = load_items(server.url('catalog.json'))
        assert [i.id for i in items] == S2 + OTHER
        assert items[0].assets['B04'].href == server.url('cogs/S2X_000/S2X_000_B04.tif')
        served = load_items(server.url('items.geojson'))
        assert served[1].assets['B11'].href == server.url('cogs/S2X_001/S2X_001_B11.tif')
    specs = write_sentinel2_like(tmp_path, 2)
    with RangeServer(tmp_path) as server:  # a catalogue with absolute links
        write_static_catalog(tmp_path, specs, base_url=server.base_url)
        items = load_items(server.url('catalog.json'))
        assert [i.id for i in items] == ['S2X_000', 'S2X_001']
        item = load_items(server.url('s2-like/S2X_001/S2X_001.json'))[0]
        href = item.assets['B08'].href
        assert href == server.url('cogs/S2X_001/S2X_001_B08.tif')
        assert server.stats().requests_for('catalog.json') == 1
        with rasterio.Env(**remote_options()):
            np.testing.assert_array_equal(read(href), read(tmp_path / 'cogs' / 'S2X_001' / 'S2X_001_B08.tif'))


def test_load_errors_name_the_source_without_its_secrets(scene, tmp_path):
    folder, _ = scene
    with pytest.raises(StacError, match='missing.json: cannot read the STAC document'):
        load_items(str(tmp_path / 'missing.json'))
    (tmp_path / 'topology.json').write_text('{"type": "Topology"}')
    with pytest.raises(StacError, match="topology.json: expected a STAC Item.*found JSON type 'Topology'"):
        load_items(str(tmp_path / 'topology.json'))
    (tmp_path / 'broken.json').write_text('{"type": "Feature"')
    with pytest.raises(StacError, match='broken.json'):
        load_items(str(tmp_path / 'broken.json'))
    (tmp_path / 'bad-item.json').write_text('{"type": "Feature", "id": "x"}')
    with pytest.raises(StacError, match='bad-item.json: cannot read the Feature'):
        load_items(str(tmp_path / 'bad-item.json'))
    with RangeServer(folder) as server:
        url = server.url('nope/catalog.json', 'token=S3CRET-TOKEN')
        with pytest.raises(StacError) as err:
            load_items(url)
    assert 'nope/catalog.json' in str(err.value) and '404' in str(err.value) and 'S3CRET' not in str(err.value)
    assert isinstance(err.value, RasterError)


# ------------------------------------------------------------------------------------------------- searching
@pytest.fixture
def api(scene):
    folder, items = scene
    with StacServer(folder, items, default_limit=2) as server:  # 2 items a page: searches span pages
        yield server


def test_search_across_pages(api):
    items = search_items(api.url(''), collections=['s2-like'])
    assert [i.id for i in items] == S2
    assert len([r for r in api.records() if r.path == 'search']) == 3
    assert items[2].assets['B11'].href == api.url('cogs/S2X_002/S2X_002_B11.tif')
    assert [i.id for i in search_items(api.url(''))] == S2 + OTHER


@pytest.mark.parametrize('kwargs, expected', [
    (dict(collections=['other']), OTHER),
    (dict(bbox=[-122.96, 37.93, -122.95, 37.94]), ['S2X_001', 'OTH_001']),
    (dict(datetime='2023-06-05/2023-06-12'), ['S2X_001', 'S2X_002']),
    (dict(collections=['s2-like'], datetime='2023-06-06T00:00:00Z/..', max_items=3), ['S2X_001', 'S2X_002',
                                                                                       'S2X_003']),
    (dict(max_items=5), S2),
    (dict(collections=['s2-like'], query=['eo:cloud_cover<40']), ['S2X_000', 'S2X_001', 'S2X_002']),
    (dict(query={'eo:cloud_cover': {'gte': 51}}), ['S2X_003', 'S2X_004']),
    (dict(ids=['OTH_001', 'S2X_004'], limit=1), ['S2X_004', 'OTH_001']),
])
def test_search_filters(api, kwargs, expected):
    assert [i.id for i in search_items(api.url(''), **kwargs)] == expected


def test_search_errors_name_the_api_without_its_query_string(scene, api):
    with pytest.raises(StacError, match='the item search failed') as err:
        search_items(api.url('', 'key=S3CRET'), datetime='2023-06-10/2023-06-01')  # rejected by the API
    assert api.base_url in str(err.value) and 'S3CRET' not in str(err.value)
    folder, _ = scene
    with RangeServer(folder) as closed:
        url = closed.url('', 'key=S3CRET')
    with pytest.raises(StacError, match='cannot open the STAC API') as err:
        search_items(url)  # nothing listens there any more
    assert closed.base_url in str(err.value) and 'S3CRET' not in str(err.value)
    with RangeServer(folder) as static:  # a static catalogue is no API: it cannot search
        with pytest.raises(StacError, match='catalog.json: the item search failed.*ITEM_SEARCH'), \
                pytest.warns(NoConformsTo):
            search_items(static.url('catalog.json'), collections=['s2-like'])


def test_query_strings_are_sent_with_numbers_as_numbers(api):
    assert search_query(['eo:cloud_cover<20', 'eo:cloud_cover>=5', 'platform=test-sat', 'x<>null']) == {
        'eo:cloud_cover': {'lt': 20, 'gte': 5}, 'platform': {'eq': 'test-sat'}, 'x': {'neq': None}}
    assert search_query(['{"eo:cloud_cover": {"lte": 17.5}}', 'constellation=test']) == {
        'eo:cloud_cover': {'lte': 17.5}, 'constellation': {'eq': 'test'}}
    assert search_query({'a': {'eq': '1'}}) == {'a': {'eq': '1'}} and search_query(None) is None
    with pytest.raises(StacError, match="query: expected <property><operator><value>.*found 'cloudy'"):
        search_query(['cloudy'])
    api.clear_records()
    found = search_items(api.url(''), query=['eo:cloud_cover<=17', 'platform=test-sat'], collections=['s2-like'])
    assert [i.id for i in found] == ['S2X_000', 'S2X_001']
    sent = json.loads(next(r for r in api.records() if r.path == 'search').body)['query']
    assert sent == {'eo:cloud_cover': {'lte': 17}, 'platform': {'eq': 'test-sat'}}


# ------------------------------------------------------------------------------------------------- bands
def test_bands_by_asset_key_carry_the_assets_grid(scene, tmp_path):
    folder, specs = scene
    item = load_items(str(folder / 's2-like' / 'S2X_002' / 'S2X_002.json'))[0]
    b11, b04 = item_bands(item, ['B11', 'B04'])
    assert b11 == VrtBand(path=str(folder / 'cogs' / 'S2X_002' / 'S2X_002_B11.tif'), band=1, nodata=0.0,
                          description='B11', shape=(128, 128),
                          transform=(20.0, 0.0, 500000.0 + 2 * 2560.0, 0.0, -20.0, 4200000.0), crs='EPSG:32610',
                          dtype='uint16')
    assert b04.shape == (256, 256) and b04.transform[0] == 10.0 and b04.description == 'B04'
    with rasterio.open(write_vrt(tmp_path / 'S2X_002.vrt', [b04, b11])) as src:
        assert src.shape == (256, 256) and src.crs.to_epsg() == 32610
        np.testing.assert_array_equal(src.read(1), read(b04.path))
        np.testing.assert_array_equal(src.read(2), np.repeat(np.repeat(read(b11.path), 2, 0), 2, 1))


def test_bands_by_eo_name_and_common_name_in_the_order_asked(scene):
    folder, specs = scene
    spec = specs[0]
    renamed = {'red': spec.assets['B04'], 'nir': spec.assets['B08'], 'swir16': spec.assets['B11']}
    item = item_of(spec, renamed, href=lambda h: str(folder / h))
    bands = item_bands(item, ['B11', 'nir', 'red', 'B08'])  # eo name, key, key (and common name), eo name
    assert [b.path for b in bands] == [str(folder / spec.assets[b].href) for b in ('B11', 'B08', 'B04', 'B08')]
    assert [b.description for b in bands] == ['B11', 'nir', 'red', 'B08']
    assert [b.nodata for b in bands] == [0.0] * 4 and {b.crs for b in bands} == {'EPSG:32610'}
    original = item_of(spec, href=lambda h: str(folder / h))
    by_common = item_bands(original, ['swir16', 'nir', 'red'])
    assert [Path(b.path).stem for b in by_common] == ['S2X_000_B11', 'S2X_000_B08', 'S2X_000_B04']
    assert [b.description for b in by_common] == ['swir16', 'nir', 'red']
    # an asset key wins over a band name: the asset 'B04' here holds the band named 'B08'
    swapped = item_of(spec, {'B04': spec.assets['B08'], 'B08': spec.assets['B04']})
    assert item_bands(swapped, ['B04'])[0].path == spec.assets['B08'].href


def test_a_multi_band_asset_gives_all_its_bands_or_the_one_named(tmp_path):
    data = np.stack([synthetic_band(40, 60, seed=s, dtype='uint8') for s in range(3)])
    path = tmp_path / 'visual.tif'
    transform = north_up((600000.0, 5000000.0), 3.0)
    with rasterio.open(path, 'w', driver='GTiff', height=40, width=60, count=3, dtype='uint8', crs='EPSG:32633',
                       transform=transform) as dst:
        dst.write(data)
    names = [{'name': n, 'common_name': c} for n, c in (('R', 'red'), ('G', 'green'), ('B', 'blue'))]
    asset = AssetSpec(str(path), media_type='image/tiff; application=geotiff', eo_bands=names,
                      raster_bands=[{'data_type': 'uint8', 'nodata': 255}] * 3,
                      extra={'proj:shape': [40, 60], 'proj:transform': list(transform)})  # 9 numbers
    spec = ItemSpec('V1', 'v', '2024-01-01T00:00:00Z', (15.0, 45.0, 15.1, 45.1), {'proj:epsg': 32633},
                    {'rgb': asset})
    item = item_of(spec)
    bands = item_bands(item, ['rgb'])
    assert [(b.band, b.description, b.nodata, b.dtype) for b in bands] == [
        (1, 'R', 255.0, 'uint8'), (2, 'G', 255.0, 'uint8'), (3, 'B', 255.0, 'uint8')]
    assert bands[0].transform == tuple(transform)[:6] and bands[0].shape == (40, 60) and bands[0].crs == 'EPSG:32633'
    assert [(b.band, b.description) for b in item_bands(item, ['blue', 'G'])] == [(3, 'blue'), (2, 'G')]
    with rasterio.open(write_vrt(tmp_path / 'rgb.vrt', bands)) as src:
        np.testing.assert_array_equal(src.read(), data)
        assert src.nodatavals == (255.0,) * 3


def test_assets_without_a_grid_are_read_from_their_header(tmp_path):
    data = synthetic_band(30, 20, seed=2)
    path = tmp_path / 'plain.tif'
    with rasterio.open(path, 'w', driver='GTiff', height=30, width=20, count=1, dtype='uint16', crs='EPSG:32610',
                       transform=north_up((500000.0, 4200000.0), 30.0)) as dst:
        dst.write(data, 1)
    spec = ItemSpec('P1', 'p', '2024-01-01T00:00:00Z', (-123.0, 37.9, -122.9, 38.0), {},
                    {'band': AssetSpec(str(path), media_type=None, roles=())})  # no roles, no media type: data
    item = item_of(spec)
    item.assets['band'].media_type = None
    (band,) = item_bands(item, ['band'])
    assert (band.shape, band.transform, band.crs, band.dtype, band.nodata) == (None, None, None, None, None)
    with rasterio.open(write_vrt(tmp_path / 'plain.vrt', [band])) as src:
        assert src.shape == (30, 20) and src.crs.to_epsg() == 32610
        np.testing.assert_array_equal(src.read(1), data)


def test_a_name_that_matches_nothing_is_an_error_listing_the_data_assets(scene):
    folder, specs = scene
    spec = specs[0]
    assets = dict(spec.assets, thumbnail=AssetSpec('thumb.png', media_type='image/png', roles=('thumbnail',)),
                  meta=AssetSpec('meta.xml', media_type='application/xml', roles=('metadata',)),
                  preview=AssetSpec('preview.tif', roles=('overview',)))
    item = item_of(spec, assets)
    with pytest.raises(StacError) as err:
        item_bands(item, ['B04', 'B05'])
    assert str(err.value) == "S2X_000: no asset or band named 'B05' (assets: B04, B08, B11)"
    with pytest.raises(StacError, match=r"no asset or band named 'thumbnail' \(assets: B04, B08, B11; asset "
                                        r"'thumbnail' is not read: roles \['thumbnail'\], not 'data'\)"):
        item_bands(item, ['thumbnail'])
    with pytest.raises(StacError, match="'preview' is not read: roles"):
        item_bands(item, ['preview'])
    with pytest.raises(StacError, match="'meta' is not read: media type 'application/xml'"):
        assets['meta'] = AssetSpec('meta.xml', media_type='application/xml')
        item_bands(item_of(spec, assets), ['meta'])


def test_an_item_searched_over_http_stacks_into_a_vrt_read_over_http(scene, api, tmp_path):
    folder, _ = scene
    (item,) = search_items(api.url(''), ids=['S2X_004'])
    bands = item_bands(item, ['B08', 'B11'])
    assert bands[0].path == api.url('cogs/S2X_004/S2X_004_B08.tif')
    xml = stack_vrt(bands)
    assert f'/vsicurl/{api.url("cogs/S2X_004/S2X_004_B11.tif")}' in xml
    vrt = tmp_path / 'S2X_004.vrt'
    vrt.write_text(xml)
    with rasterio.Env(**remote_options()), rasterio.open(vrt) as src:
        np.testing.assert_array_equal(src.read(1), read(folder / 'cogs' / 'S2X_004' / 'S2X_004_B08.tif'))
        b11 = read(folder / 'cogs' / 'S2X_004' / 'S2X_004_B11.tif')
        np.testing.assert_array_equal(src.read(2), np.repeat(np.repeat(b11, 2, 0), 2, 1))
    assert api.stats().requests_for('cogs/S2X_004/S2X_004_B11.tif') >= 1


def test_the_extension_fields_read_are_listed():
    read_fields = stac_extensions_read()
    assert 'raster:bands[].nodata' in read_fields['raster'] and 'proj:transform' in read_fields['proj']
    assert not any('scale' in f or 'offset' in f for fields in read_fields.values() for f in fields)


# ------------------------------------------------------------------------------------------------- groups in time
def stac_item(item_id, when, **properties):
    return pystac.Item(item_id, None, None, when, properties, collection=properties.pop('collection', None))


def test_groups_in_time_order_and_sorted_by_key():
    t0 = datetime(2023, 6, 1, tzinfo=timezone.utc)
    items = [stac_item('c2', t0 + timedelta(days=10), tile='10SEG', collection='c'),
             stac_item('a1', t0 + timedelta(days=5), tile='10SFG', collection='c'),
             stac_item('c1', t0, tile='10SEG', collection='c'),
             stac_item('a0', t0, tile='10SFG', collection='c'),
             stac_item('c3', t0 + timedelta(days=10), tile='10SEG', collection='c'),  # same date as c2: by id
             stac_item('b0', t0, tile='10SFG', collection='d'),
             stac_item('b1', t0 - timedelta(days=1), tile='10SFG', collection='d')]
    groups = group_items(items[:5], 'tile', 3)
    assert list(groups) == ['10SEG', '10SFG']
    assert [i.id for i in groups['10SEG']] == ['c1', 'c2', 'c3']
    assert groups['10SFG'] == 'group tile=10SFG: expected 3 items, found 2 (a0, a1)'
    by_tile = group_items(items, 'tile', 3)
    assert by_tile['10SFG'] == 'group tile=10SFG: expected 3 items, found 4 (b1, a0, b0, a1)'
    by_collection = group_items(items, 'collection', 2)
    assert list(by_collection) == ['c', 'd'] and [i.id for i in by_collection['d']] == ['b1', 'b0']
    assert by_collection['c'] == 'group collection=c: expected 2 items, found 5 (a0, c1, a1, c2, c3)'


def test_an_item_without_the_property_is_an_error_group_of_its_own():
    t0 = datetime(2023, 6, 1, tzinfo=timezone.utc)
    items = [stac_item('x2', t0 + timedelta(days=1), tile='T1'), stac_item('lonely', t0),
             stac_item('x1', datetime(2023, 6, 1), tile='T1'), stac_item('y', t0, tile='T0')]  # a naive datetime is UTC
    groups = group_items(items, 'tile', 2)
    assert list(groups) == ['T0', 'T1', 'lonely']
    assert groups['lonely'] == "item lonely: no property 'tile' to group it by"
    assert groups['T0'] == 'group tile=T0: expected 2 items, found 1 (y)'
    assert [i.id for i in groups['T1']] == ['x1', 'x2']
    assert group_items([], 'tile', 2) == {}


def test_signing_needs_its_optional_package_and_names_the_extra():
    if importlib.util.find_spec('planetary_computer') is None:  # not installed by make install: what users see
        with pytest.raises(StacError, match=r'pip install "geospatial_mm\[stac-pc\]"'):
            sign_items([], 'planetary-computer')
    with pytest.raises(ValueError, match='--sign: expected one of planetary-computer'):
        sign_items([], 'nowhere')
