"""Remote rasters at the bottom layer: names, failure kinds, retries above GDAL's own, and redaction of secrets."""
import numpy as np
import pytest
from helpers.cogs import north_up, synthetic_band, write_cog
from helpers.range_server import Faults, RangeServer

from geospatial_mm.io import RasterError, keep_open, read_bands, read_meta
from geospatial_mm.io.redaction import redact
from geospatial_mm.io.remote import (
    failure_kind,
    forget,
    gdal_name,
    http_status,
    is_gdal_path,
    is_remote,
    remote_options,
    remote_stem,
    retry_delays,
)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setenv('GDAL_HTTP_RETRY_DELAY', '0.01')
    monkeypatch.setenv('GEOSPATIAL_MM_REMOTE_RETRY_DELAY', '0.01')


@pytest.fixture(scope='module')
def cog(tmp_path_factory):
    folder = tmp_path_factory.mktemp('cogs')
    data = synthetic_band(300, 260, seed=3)
    write_cog(folder / 'b.tif', data, north_up((500000.0, 4100000.0), 10.0), block=64)
    return folder, data


def test_names_of_urls_and_gdal_paths():
    assert is_remote('https://h/x.tif') and is_remote('s3://bucket/k.tif') and is_remote('/vsicurl/http://h/x')
    assert not is_remote('/vsimem/x.tif') and is_gdal_path('/vsimem/x.tif') and not is_gdal_path('/data/x.tif')
    assert remote_stem('https://h/a/T10SEG_B04.tif?sig=x&se=1') == 'T10SEG_B04'
    assert remote_stem('/vsis3/bucket/key/x.tif') == 'x'
    assert remote_stem('/vsicurl?url=https%3A%2F%2Fh%2Fdir%2Fy.tif&use_head=no') == 'y'
    assert gdal_name('https://h/x.tif') == '/vsicurl/https://h/x.tif' and gdal_name('s3://b/k.tif') == '/vsis3/b/k.tif'


def test_failure_kinds_from_gdal_messages():
    assert failure_kind('HTTP response code: 503') == 'transient' and failure_kind('HTTP response code: 429') == \
        'transient'
    assert failure_kind('HTTP response code: 404') == 'permanent' and failure_kind('HTTP response code: 403') == \
        'permanent'
    assert failure_kind("'x.tif' not recognized as being in a supported file format.") == 'permanent'
    assert failure_kind('IReadBlock failed at X offset 0, Y offset 3: TIFFReadEncodedTile() failed.') == 'transient'
    assert http_status('a; HTTP response code: 500; b') == 500 and http_status('no status') is None


def test_retry_waits_grow_with_jitter_and_are_bounded():
    waits = retry_delays(6, 1.0)
    assert len(waits) == 5
    for i, w in enumerate(waits):
        assert min(16.0, 2.0 ** i) <= w <= 1.5 * min(16.0, 2.0 ** i)


def test_remote_options_leave_what_the_environment_sets(monkeypatch):
    options = remote_options()
    assert options['GDAL_DISABLE_READDIR_ON_OPEN'] == 'EMPTY_DIR' and 'GDAL_HTTP_MAX_RETRY' in options
    assert 'GDAL_HTTP_RETRY_DELAY' not in options  # set by the fixture: GDAL reads the environment's value
    monkeypatch.setenv('GDAL_HTTP_TIMEOUT', '5')
    assert 'GDAL_HTTP_TIMEOUT' not in remote_options()


def test_an_open_failing_past_gdals_retries_is_tried_again_and_gdal_forgets_the_failure(cog, monkeypatch):
    folder, data = cog
    monkeypatch.setenv('GDAL_HTTP_MAX_RETRY', '1')
    # GDAL tries twice (once and one retry), then the package's next attempt asks the server again
    with RangeServer(folder, faults=Faults(script=('503',) * 3)) as server:
        meta = read_meta(server.url('b.tif'))
        assert (meta.height, meta.width) == data.shape
        assert server.stats().statuses[503] == 3
    with RangeServer(folder, faults=Faults(script=('503',) * 2)) as server:
        monkeypatch.setenv('GEOSPATIAL_MM_REMOTE_ATTEMPTS', '1')  # no retry by the package: the failure shows
        with pytest.raises(RasterError, match='HTTP 503'):
            read_meta(server.url('b.tif'))
        assert forget(server.url('b.tif'))
        assert read_meta(server.url('b.tif')).height == data.shape[0]  # asked again, not the remembered failure


def test_windows_read_through_dropped_connections_equal_the_file(cog):
    folder, data = cog
    with RangeServer(folder, faults=Faults(drop_rate=0.3, seed=5)) as server:
        url = server.url('b.tif')
        with keep_open():
            meta = read_meta(url)
            for row in range(0, 300, 70):
                for col in range(0, 260, 90):
                    h, w = min(100, 300 - row), min(100, 260 - col)
                    assert np.array_equal(read_bands(url, [0], (row, col, h, w), meta=meta)[0],
                                          data[row:row + h, col:col + w])
        assert server.stats().dropped > 0


def test_a_missing_raster_fails_at_once_naming_the_url_without_its_secret(cog):
    folder, _ = cog
    with RangeServer(folder, faults=Faults(missing=('gone.tif',))) as server:
        with pytest.raises(RasterError) as err:
            read_meta(server.url('gone.tif', 'sig=SECRET99'))
        assert server.stats().requests_for('gone.tif') == 1
    assert 'gone.tif?<redacted>: HTTP 404' in str(err.value) and 'SECRET99' not in str(err.value)


@pytest.mark.parametrize('text, hidden', [
    ('https://acct.blob.core.windows.net/c/x.tif?sv=2021&sig=AbC%2Fd: failed', 'AbC'),
    ('open https://user:pa55word@host/x.tif', 'pa55word'),
    ('/vsicurl?url=https%3A%2F%2Fh%2Fx.tif&header.Authorization=Bearer%20tok123', 'tok123'),
    ('headers: Authorization: Bearer eyJhbGciOi.payload.sig', 'eyJhbGciOi'),
    ('x-api-key=k3y-val', 'k3y-val'),
])
def test_redaction_hides_queries_credentials_and_auth_values(text, hidden):
    out = redact(text)
    assert hidden not in out and '<redacted>' in out
    assert redact(out) == out


def test_redaction_hides_secret_environment_values_and_keeps_plain_text(monkeypatch):
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG')
    assert 'wJalr' not in redact('GDAL said: key wJalrXUtnFEMI/K7MDENG rejected')
    plain = '/data/scenes/T10SEG_2024.tif: band index 6 out of range? no.'
    assert redact(plain) == plain
