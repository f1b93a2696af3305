"""tools/model_inference.py on rasters served over HTTP by a server on 127.0.0.1 that honours Range requests: the
predictions equal those of the same files read locally, survive a failing network, fail only the sample of a missing
raster, and no secret of a URL or header reaches the logs, the summary, the errors or the outputs."""
import json

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from helpers.model_inference import scene, tool
from helpers.models import TINY, make_checkpoint
from helpers.range_server import Faults, RangeServer

pytestmark = pytest.mark.slow  # tool runs with a model
SECRET = 'sv=2024&sig=TOPSECRET0123'
NAMES = ('scene_a', 'scene_b')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """Two COGs (6-band int16, 64 px tiles), a tiny checkpoint and the predictions of the local files."""
    root = tmp_path_factory.mktemp('remote')
    served = root / 'served'
    served.mkdir()
    for i, name in enumerate(NAMES):
        tiled = scene(root / 'tiled' / f'{name}.tif', 150 + 20 * i, 170, nodata_rows=7, seed=i)
        rasterio.shutil.copy(tiled, served / f'{name}.tif', driver='COG', BLOCKSIZE=64, COMPRESS='DEFLATE')
    ckpt = make_checkpoint(TINY, root / 'tiny.pth')
    local = root / 'local'
    tool('-config', TINY, '-ckpt', ckpt, '-input', served, '-output', local, '--tile', 64, '--stride', 48)
    return root, served, ckpt, local


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """Short waits between attempts (GDAL's and the package's), so that a failing network costs little time."""
    monkeypatch.setenv('GDAL_HTTP_RETRY_DELAY', '0.01')
    monkeypatch.setenv('GEOSPATIAL_MM_REMOTE_RETRY_DELAY', '0.01')


def predict(ckpt, inputs, out, *args, check=True, **process):
    return tool('-config', TINY, '-ckpt', ckpt, '-input', inputs, '-output', out, '--tile', 64, '--stride', 48,
                *args, check=check, **process)


def assert_same_prediction(path, reference):
    with rasterio.open(path) as got, rasterio.open(reference) as ref:
        assert (got.crs, got.transform, got.shape, got.nodata) == (ref.crs, ref.transform, ref.shape, ref.nodata)
        assert got.colormap(1) == ref.colormap(1)
        assert np.array_equal(got.read(1), ref.read(1))


def url_list(path, server, names, query=None):
    path.write_text('# rasters of the test\n' + '\n'.join(server.url(f'{n}.tif', query) for n in names) + '\n\n')
    return path


def test_cogs_over_http_give_the_predictions_of_the_local_files(data, tmp_path):
    root, served, ckpt, local = data
    with RangeServer(served) as server:
        predict(ckpt, url_list(tmp_path / 'scenes.txt', server, NAMES), tmp_path / 'out')
        one = predict(ckpt, server.url('scene_a.tif'), tmp_path / 'one')  # a URL on its own
        stats = server.stats()
    for name in NAMES:
        assert_same_prediction(tmp_path / 'out' / f'{name}_pred.tif', local / f'{name}_pred.tif')
    assert_same_prediction(tmp_path / 'one' / 'scene_a_pred.tif', local / 'scene_a_pred.tif')
    assert '1 sample(s)' in one.stdout
    # windows read by range requests: every request asked for a range, never the whole file
    assert stats.statuses.get(200, 0) <= stats.requests - stats.statuses.get(206, 0)
    assert stats.statuses.get(206, 0) > 0


def test_one_request_in_ten_failing_leaves_the_predictions_identical(data, tmp_path):
    root, served, ckpt, local = data
    faults = Faults(rate_503=0.05, drop_rate=0.05, seed=7)
    with RangeServer(served, faults=faults) as server:
        proc = predict(ckpt, url_list(tmp_path / 'scenes.txt', server, NAMES), tmp_path / 'out')
        stats = server.stats()
    assert stats.statuses.get(503, 0) + stats.dropped > 0, stats  # the network did fail
    assert 'summary: 2 sample(s): 2 predicted' in proc.stdout
    for name in NAMES:
        assert_same_prediction(tmp_path / 'out' / f'{name}_pred.tif', local / f'{name}_pred.tif')


def test_a_missing_or_non_raster_url_fails_only_its_sample_at_once(data, tmp_path):
    root, served, ckpt, local = data
    (served / 'page.tif').write_text('<html>not a raster</html>' * 40)
    summary = tmp_path / 'summary.json'
    with RangeServer(served, faults=Faults(missing=('gone.tif',))) as server:
        proc = predict(ckpt, url_list(tmp_path / 'scenes.txt', server, ['scene_a', 'gone', 'page', 'scene_b']),
                       tmp_path / 'out', '--summary', summary, check=False)
        requests = {n: server.stats().requests_for(f'{n}.tif') for n in ('gone', 'page')}
    (served / 'page.tif').unlink()
    assert proc.returncode == 1
    report = {s['name']: s for s in json.loads(summary.read_text())['samples']}
    assert {n: s['status'] for n, s in report.items()} == {'scene_a': 'ok', 'gone': 'failed', 'page': 'failed',
                                                           'scene_b': 'ok'}
    assert 'gone.tif: HTTP 404' in report['gone']['error'] and report['gone']['input'].endswith('/gone.tif')
    assert 'page.tif: not a readable raster' in report['page']['error']
    assert requests['gone'] <= 2 and requests['page'] <= 3, requests  # permanent: no retries by the package
    for name in ('scene_a', 'scene_b'):
        assert_same_prediction(tmp_path / 'out' / f'{name}_pred.tif', local / f'{name}_pred.tif')


def test_secrets_of_urls_and_headers_reach_no_log_summary_error_or_output(data, tmp_path, monkeypatch):
    root, served, ckpt, local = data
    token = 'BEARERSECRET42'
    monkeypatch.setenv('GDAL_HTTP_HEADERS', f'Authorization: Bearer {token}')
    summary = tmp_path / 'summary.json'
    faults = Faults(require_header=('Authorization', f'Bearer {token}'), missing=('gone.tif',))
    with RangeServer(served, faults=faults) as server:
        listed = url_list(tmp_path / 'scenes.txt', server, ['scene_a', 'gone'], SECRET)
        with_user = server.url('scene_b.tif', SECRET).replace('http://', 'http://alice:HUNTER2PASS@')
        listed.write_text(listed.read_text() + with_user + '\n')
        proc = predict(ckpt, listed, tmp_path / 'out', '--summary', summary, '--verbose', check=False)
        received = [r.header('Authorization') for r in server.records()]
    assert proc.returncode == 1  # gone.tif
    assert received and set(received) == {f'Bearer {token}'}  # the header did reach the server
    shown = [proc.stdout, proc.stderr, summary.read_text()]
    for name in ('scene_a', 'scene_b'):
        with rasterio.open(tmp_path / 'out' / f'{name}_pred.tif') as src:
            shown.append(json.dumps(src.tags()))
            assert 'scene' in src.tags()['source']
        assert_same_prediction(tmp_path / 'out' / f'{name}_pred.tif', local / f'{name}_pred.tif')
    for text in shown:
        for secret in ('TOPSECRET0123', 'HUNTER2PASS', token, 'alice:'):
            assert secret not in text
    assert 'gone.tif?<redacted>: HTTP 404' in proc.stdout


def test_skip_existing_after_an_interrupted_run_fetches_only_the_missing_samples(data, tmp_path):
    root, served, ckpt, local = data
    with RangeServer(served) as server:
        listed = url_list(tmp_path / 'scenes.txt', server, NAMES)
        predict(ckpt, listed, tmp_path / 'out')
        (tmp_path / 'out' / 'scene_b_pred.tif').unlink()  # as if the run had been killed during scene_b
        server.reset_stats()
        proc = predict(ckpt, listed, tmp_path / 'out', '--skip-existing')
        stats = server.stats()
    assert 'summary: 2 sample(s): 1 predicted, 1 skipped' in proc.stdout
    assert stats.requests_for('scene_a.tif') == 0  # its outputs existed: not read
    for name in NAMES:
        assert_same_prediction(tmp_path / 'out' / f'{name}_pred.tif', local / f'{name}_pred.tif')


def test_an_exported_model_reads_remote_inputs_as_it_reads_files(data, tiny_pt2, tmp_path):
    root, served, ckpt, local = data
    tool('-model', tiny_pt2, '-input', served / 'scene_a.tif', '-output', tmp_path / 'local')
    with RangeServer(served) as server:
        tool('-model', tiny_pt2, '-input', server.url('scene_a.tif', SECRET), '-output', tmp_path / 'remote')
    assert_same_prediction(tmp_path / 'remote' / 'scene_a_pred.tif', tmp_path / 'local' / 'scene_a_pred.tif')
