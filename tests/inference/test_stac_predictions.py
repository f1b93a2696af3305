"""tools/model_inference.py on STAC items served on 127.0.0.1 (a static catalogue and a STAC API whose items' assets
are single-band COGs at 10 m and 20 m): one sample per item named after it, assets mapped to the model's bands and
read onto one grid, equal to predicting the same bands stacked into a local file; missing assets and missing files
fail only their item; multi-temporal samples grouped by a property; --skip-existing resumes by item."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import rasterio
from helpers.cogs import write_scene
from helpers.commands import ROOT
from helpers.model_inference import TOOL, tool
from helpers.models import CROP, TINY, make_checkpoint
from helpers.range_server import Faults
from helpers.rasters import write_geotiff
from helpers.stac_server import StacServer, item_from_cogs, write_sentinel2_like, write_static_catalog

pytestmark = pytest.mark.slow  # tool runs with a model
BANDS = {'B02': 10.0, 'B03': 10.0, 'B04': 10.0, 'B8A': 20.0, 'B11': 20.0, 'B12': 20.0}
ASSETS = list(BANDS)
ITEMS = ['S2X_000', 'S2X_001', 'S2X_002']


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setenv('GDAL_HTTP_RETRY_DELAY', '0.01')
    monkeypatch.setenv('GEOSPATIAL_MM_REMOTE_RETRY_DELAY', '0.01')


def stacked_locally(folder, item, path):
    """The item's six bands on its 10 m grid (20 m bands repeated 2x2: nearest neighbour on aligned grids), as a
    local 6-band file: what the STAC run must predict alike."""
    bands = []
    for band in ASSETS:
        with rasterio.open(folder / item.assets[band].href) as src:
            data = src.read(1)
            if band == 'B02':
                transform, crs = src.transform, src.crs
        bands.append(np.repeat(np.repeat(data, 2, 0), 2, 1) if BANDS[band] == 20.0 else data)
    return write_geotiff(path, np.stack(bands).astype(np.uint16), transform=transform, crs=str(crs), nodata=0)


@pytest.fixture(scope='module')
def catalogue(tmp_path_factory):
    """Three Sentinel-2-like items (six single-band COGs each, 128 px at 10 m), one item without B12, a static
    catalogue of them, a tiny checkpoint, and the predictions of each item's bands stacked into a local file."""
    root = tmp_path_factory.mktemp('stac')
    items = write_sentinel2_like(root, 3, bands=BANDS, extent=(1280.0, 1280.0), block=64, seed=4)
    lacking = write_sentinel2_like(root, 1, bands={b: r for b, r in BANDS.items() if b != 'B12'},
                                   extent=(1280.0, 1280.0), block=64, id_prefix='LACK', seed=5,
                                   start='2023-07-01T18:30:00Z')
    items += lacking
    write_static_catalog(root, items)
    ckpt = make_checkpoint(TINY, root / 'tiny.pth')
    local = root / 'local_in'
    for item in items[:3]:
        stacked_locally(root, item, local / f'{item.id}.tif')
    tool('-config', TINY, '-ckpt', ckpt, '-input', local, '-output', root / 'local_out', '--tile', 64, '--stride', 48)
    return root, items, ckpt, root / 'local_out'


def predict(ckpt, out, *args, check=True, **process):
    return tool('-config', TINY, '-ckpt', ckpt, '-output', out, '--tile', 64, '--stride', 48, '--assets', *ASSETS,
                *args, check=check, **process)


def assert_same(path, reference):
    with rasterio.open(path) as got, rasterio.open(reference) as ref:
        assert (got.crs, got.transform, got.shape) == (ref.crs, ref.transform, ref.shape)
        assert np.array_equal(got.read(1), ref.read(1))


def test_a_served_catalogue_predicts_each_item_as_its_bands_stacked_locally(catalogue, tmp_path):
    root, items, ckpt, local = catalogue
    summary = tmp_path / 'summary.json'
    with StacServer(root, items) as server:
        proc = predict(ckpt, tmp_path / 'out', '-input', server.url('catalog.json'), '--summary', summary,
                       check=False)
        stats = server.stats()
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the item without B12
    report = {s['name']: s for s in json.loads(summary.read_text())['samples']}
    assert {n: s['status'] for n, s in report.items()} == {**{i: 'ok' for i in ITEMS}, 'LACK_000': 'failed'}
    assert "LACK_000: no asset or band named 'B12'" in report['LACK_000']['error']
    assert report['S2X_000']['input'].endswith('S2X_000.json')  # the item, not a temporary file
    for item in ITEMS:
        assert_same(tmp_path / 'out' / f'{item}_pred.tif', local / f'{item}_pred.tif')
    assert stats.statuses.get(206, 0) > 0  # the COGs read by range requests
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == [f'{i}_pred.tif' for i in ITEMS]


def test_a_search_of_the_api_and_a_failing_network_give_the_same_predictions(catalogue, tmp_path):
    root, items, ckpt, local = catalogue
    faults = Faults(rate_503=0.05, drop_rate=0.05, seed=11, fault_paths=('cogs/*',))
    with StacServer(root, items, default_limit=1, faults=faults) as server:  # pages of one item
        proc = predict(ckpt, tmp_path / 'out', '--stac-search', server.url(''), '--collections', 's2-like',
                       '--max-items', '2', '--datetime', '2023-06-01T00:00:00Z/2023-06-30T00:00:00Z')
        stats = server.stats()
    assert stats.statuses.get(503, 0) + stats.dropped > 0
    assert 'summary: 2 sample(s): 2 predicted' in proc.stdout
    for item in ITEMS[:2]:
        assert_same(tmp_path / 'out' / f'{item}_pred.tif', local / f'{item}_pred.tif')


def test_a_missing_asset_file_fails_only_its_item(catalogue, tmp_path):
    root, items, ckpt, local = catalogue
    with StacServer(root, items[:3], faults=Faults(missing=('cogs/S2X_001/S2X_001_B11.tif',))) as server:
        proc = predict(ckpt, tmp_path / 'out', '-input', server.url('catalog.json'), check=False)
    assert proc.returncode == 1 and 'S2X_001_B11.tif (a source of ' in proc.stdout and 'HTTP 404' in proc.stdout
    assert 'summary: 4 sample(s): 2 predicted, 0 skipped (outputs existed), 2 failed' in proc.stdout  # and LACK_000
    for item in ('S2X_000', 'S2X_002'):
        assert_same(tmp_path / 'out' / f'{item}_pred.tif', local / f'{item}_pred.tif')


def test_a_run_killed_mid_item_resumes_by_item_with_skip_existing(catalogue, tmp_path):
    root, items, ckpt, local = catalogue
    out, collection, summary = tmp_path / 'out', tmp_path / 'items.json', tmp_path / 'summary.json'
    slow = Faults(delay=0.4, fault_paths=('cogs/S2X_002/*',))  # the third item's reads are slow
    with StacServer(root, items[:3], faults=slow, max_lifetime=300) as server:
        collection.write_text(json.dumps({'type': 'FeatureCollection',
                                          'features': [server.item_json(i) for i in items[:3]]}))
        args = ['-config', TINY, '-ckpt', ckpt, '-input', collection, '-output', out, '--tile', 64, '--stride', 48,
                '--assets', *ASSETS, '--no-progress']
        env = dict(os.environ, PYTHONPATH=str(ROOT / 'tests'), OMP_NUM_THREADS='1')
        proc = subprocess.Popen([sys.executable, str(TOOL), *map(str, args)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while time.time() < deadline and not list(out.glob('.S2X_002_pred.tif.*.tmp.tif')):
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (out / 'S2X_002_pred.tif').exists()  # killed while writing the third item
        server.set_faults(Faults())
        server.reset_stats()
        resumed = predict(ckpt, out, '-input', collection, '--skip-existing', '--summary', summary)
        stats = server.stats()
    assert 'summary: 3 sample(s): 1 predicted, 2 skipped' in resumed.stdout
    status = {s['name']: s['status'] for s in json.loads(summary.read_text())['samples']}
    assert status == {'S2X_000': 'skipped', 'S2X_001': 'skipped', 'S2X_002': 'ok'}
    assert stats.requests_for('cogs/S2X_000/S2X_000_B02.tif') == 0  # its outputs existed: not read again
    for item in ITEMS:
        assert_same(out / f'{item}_pred.tif', local / f'{item}_pred.tif')
    assert not list(out.glob('.*'))  # the killed run's temporary file was cleaned up


def test_a_multi_temporal_model_takes_the_dates_of_a_group_in_time_order(tmp_path):
    opts = {'model.backbone.arch.embed_dim': 64, 'model.backbone.arch.depth': 2, 'model.backbone.arch.num_heads': 4,
            'model.backbone.pretrained': None, 'model.backbone.allow_unexpected_keys': [],
            'model.neck.embed_dim': 64, 'model.neck.out_channels': 24, 'model.decode_head.in_channels': 24,
            'model.decode_head.channels': 8, 'model.auxiliary_head.in_channels': 24,
            'model.auxiliary_head.channels': 8, 'model.test_cfg.crop_size': (32, 32), 'model.test_cfg.stride': (16, 16)}
    arch = dict(embed_dim=64, depth=2, num_heads=4, patch_size=16, tubelet_size=1)
    ckpt = make_checkpoint(CROP, tmp_path / 'crop.pth', {**{k: v for k, v in opts.items() if '.arch.' not in k},
                                                         'model.backbone.arch': arch})
    items, dates = [], ['2023-06-21T00:00:00Z', '2023-06-01T00:00:00Z', '2023-06-11T00:00:00Z']
    for place, count in (('T10AAA', 3), ('T10BBB', 2)):
        for d in range(count):
            item_id = f'{place}_{d}'
            cogs = write_scene(tmp_path / 'cogs' / item_id, item_id, BANDS, extent=(640.0, 480.0), block=32,
                               seed=d + 7 * len(items))
            items.append(item_from_cogs(item_id, 'hls-like', dates[d], cogs, tmp_path,
                                        properties={'grid:code': place}))
    # the same dates as local files, one per date in time order: what the STAC run must predict alike
    order = sorted(range(3), key=lambda d: dates[d])
    for t, d in enumerate(order):
        spec = items[d]
        stacked_locally(tmp_path, spec, tmp_path / 'dated' / 'T10AAA' / f'{t}.tif')
    cli = [f'{k}={v}' for k, v in opts.items()]
    loader = ['test_dataloader.dataset.pipeline.0.frames=None',
              'test_dataloader.dataset.pipeline.0.bands=[0,1,2,3,4,5]']
    tool('-config', CROP, '-ckpt', ckpt, '--cfg-options', *cli, *loader, '-input', tmp_path / 'dated', '-output',
         tmp_path / 'local')
    write_static_catalog(tmp_path, items)
    with StacServer(tmp_path, items) as server:
        proc = tool('-config', CROP, '-ckpt', ckpt, '--cfg-options', *cli, '-input', server.url('catalog.json'),
                    '-output', tmp_path / 'out', '--group-by', 'grid:code', check=False)
    assert proc.returncode == 1
    assert 'T10BBB' in proc.stdout and 'expected 3' in proc.stdout  # two dates for a model of three
    assert_same(tmp_path / 'out' / 'T10AAA_pred.tif', tmp_path / 'local' / 'T10AAA_pred.tif')


def test_signed_asset_urls_reach_no_log_summary_error_or_output(catalogue, tmp_path):
    root, items, ckpt, local = catalogue
    collection, summary = tmp_path / 'signed.json', tmp_path / 'summary.json'
    with StacServer(root, items[:2], faults=Faults(missing=('cogs/S2X_001/S2X_001_B04.tif',))) as server:
        features = [server.item_json(i) for i in items[:2]]
        for feature in features:
            for asset in feature['assets'].values():
                asset['href'] += '?se=2030-01-01&sig=SASSECRET99'  # as Planetary Computer's signed hrefs
        collection.write_text(json.dumps({'type': 'FeatureCollection', 'features': features}))
        proc = predict(ckpt, tmp_path / 'out', '-input', collection, '--summary', summary, '--verbose', check=False)
    assert proc.returncode == 1 and 'S2X_001_B04.tif?<redacted>' in proc.stdout and 'HTTP 404' in proc.stdout
    shown = proc.stdout + proc.stderr + summary.read_text()
    with rasterio.open(tmp_path / 'out' / 'S2X_000_pred.tif') as src:
        shown += json.dumps(src.tags())
    assert 'SASSECRET99' not in shown
    assert_same(tmp_path / 'out' / 'S2X_000_pred.tif', local / 'S2X_000_pred.tif')
