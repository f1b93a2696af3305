"""The test HTTP server (tests/helpers/range_server.py): Range requests, keep-alive, statistics, records, faults and
bounds, checked with a raw HTTP client and with GDAL's /vsicurl/ through rasterio."""
import http.client
import json
import socket
import threading
import time

import numpy as np
import pytest
import rasterio
from helpers.cogs import north_up, synthetic_band, write_cog
from helpers.range_server import Faults, LimitReached, RangeServer, Response, parse_range
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

DATA = bytes(range(256)) * 40  # 10240 bytes, every byte's value is its offset modulo 256
# GDAL settings of every read here: no directory listing or sidecar probes, so that the requests are the file's
GDAL = dict(GDAL_DISABLE_READDIR_ON_OPEN='EMPTY_DIR', GDAL_HTTP_RETRY_DELAY='0.01')


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('served')
    (root / 'data.bin').write_bytes(DATA)
    (root / 'sub').mkdir()
    (root / 'sub' / 'small.txt').write_bytes(b'hello\n')
    (tmp_path_factory.getbasetemp() / 'secret.txt').write_bytes(b'outside the served folder\n')
    return root


@pytest.fixture(scope='module')
def cog(folder):
    """A 2048 x 2048 uint16 COG with 512 x 512 tiles (16 tiles), deflate, no overviews, in the served folder."""
    data = synthetic_band(2048, 2048, seed=3)
    info = write_cog(folder / 'big.tif', data, north_up((500000.0, 4200000.0), 10.0), block=512)
    return info, data


def request(server, method, path, headers=None, body=None, conn=None, query=None):
    """One request; returns (response, body). ``path`` is relative to the server's folder, or the raw request
    target when it starts with '/'. A given connection is reused (keep-alive)."""
    conn = conn or http.client.HTTPConnection('127.0.0.1', server.port, timeout=5)
    target = path if path.startswith('/') else server.url(path, query)[len(f'http://127.0.0.1:{server.port}'):]
    conn.request(method, target, body=body, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def refuses_connections(port) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(('127.0.0.1', port)) != 0


# ------------------------------------------------------------------------------------------------- HTTP itself
@pytest.mark.parametrize('header, expected', [
    ('bytes=0-9', [(0, 9)]), ('bytes=10-', [(10, 99)]), ('bytes=-5', [(95, 99)]), ('bytes=90-200', [(90, 99)]),
    ('bytes=0-1, 5-6', [(0, 1), (5, 6)]), ('bytes=-500', [(0, 99)]), ('bytes=100-', []), ('bytes=-0', []),
    ('bytes=5-2', None), ('items=0-1', None), ('bytes=a-b', None), ('bytes=-', None),
])
def test_parse_range(header, expected):
    assert parse_range(header, 100) == expected


def test_single_ranges_head_full_get_and_416(folder):
    with RangeServer(folder) as server:
        response, body = request(server, 'GET', 'data.bin', {'Range': 'bytes=100-199'})
        assert response.status == 206 and body == DATA[100:200]
        assert response.headers['Content-Range'] == f'bytes 100-199/{len(DATA)}'
        response, body = request(server, 'GET', 'data.bin', {'Range': 'bytes=10000-'})
        assert response.status == 206 and body == DATA[10000:]
        response, body = request(server, 'GET', 'data.bin', {'Range': 'bytes=-40'})
        assert response.status == 206 and body == DATA[-40:]
        assert response.headers['Content-Range'] == f'bytes {len(DATA) - 40}-{len(DATA) - 1}/{len(DATA)}'
        response, body = request(server, 'HEAD', 'data.bin')
        assert response.status == 200 and body == b''
        assert response.headers['Content-Length'] == str(len(DATA))
        assert response.headers['Accept-Ranges'] == 'bytes'
        response, body = request(server, 'GET', 'data.bin')
        assert response.status == 200 and body == DATA
        response, body = request(server, 'GET', 'data.bin', {'Range': f'bytes={len(DATA)}-'})
        assert response.status == 416 and response.headers['Content-Range'] == f'bytes */{len(DATA)}'
        response, body = request(server, 'GET', 'data.bin', {'Range': 'bytes=9-3'})  # invalid: ignored
        assert response.status == 200 and body == DATA


def test_multiple_ranges_are_answered_as_multipart_byteranges(folder):
    with RangeServer(folder) as server:
        response, body = request(server, 'GET', 'data.bin', {'Range': 'bytes=0-3,1000-1009,-2'})
    assert response.status == 206
    ctype = response.headers['Content-Type']
    assert ctype.startswith('multipart/byteranges; boundary=')
    boundary = ctype.split('boundary=')[1].encode()
    assert int(response.headers['Content-Length']) == len(body)
    assert body.endswith(b'--' + boundary + b'--\r\n')
    parts = body.split(b'--' + boundary)[1:-1]
    found = []
    for part in parts:
        head, _, payload = part.strip(b'\r\n').partition(b'\r\n\r\n')
        content_range = [h for h in head.split(b'\r\n') if h.startswith(b'Content-Range: ')][0]
        first, last = map(int, content_range.split(b' ')[2].split(b'/')[0].split(b'-'))
        assert payload == DATA[first:last + 1]
        found.append((first, last))
    assert found == [(0, 3), (1000, 1009), (len(DATA) - 2, len(DATA) - 1)]


def test_query_strings_are_ignored_and_paths_outside_the_folder_are_not_served(folder):
    with RangeServer(folder) as server:
        response, body = request(server, 'GET', 'sub/small.txt', query='sig=abc&se=2030-01-01')
        assert response.status == 200 and body == b'hello\n'
        assert request(server, 'GET', 'sub/../../secret.txt')[0].status == 404
        assert request(server, 'GET', f'/{server.prefix}/sub%2F..%2F..%2Fsecret.txt')[0].status == 404
        assert request(server, 'GET', f'/{server.prefix}/sub/%2E%2E/data.bin')[1] == DATA  # inside: served
        assert request(server, 'GET', '/data.bin')[0].status == 404  # outside the server's prefix
        assert request(server, 'GET', 'sub')[0].status == 404  # a folder is not listed
        assert request(server, 'POST', 'data.bin', body=b'x')[0].status == 405
        assert server.stats().requests_for('sub/small.txt') == 1  # counted without its query string
        assert server.records()[0].query == 'sig=abc&se=2030-01-01'


def test_keep_alive_serves_many_requests_on_one_connection(folder):
    with RangeServer(folder) as server:
        conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=5)
        for first in (0, 100, 200):
            response, body = request(server, 'GET', 'data.bin', {'Range': f'bytes={first}-{first + 9}'}, conn=conn)
            assert body == DATA[first:first + 10] and not response.will_close
        response, _ = request(server, 'GET', 'missing.bin', conn=conn)  # an error answer keeps it open too
        assert response.status == 404 and not response.will_close
        conn.close()
        assert len({r.client_port for r in server.records()}) == 1


def test_stats_count_requests_and_body_bytes_per_path_and_reset(folder):
    with RangeServer(folder) as server:
        request(server, 'GET', 'data.bin', {'Range': 'bytes=0-99'})
        request(server, 'GET', 'data.bin', {'Range': 'bytes=0-1,10-11'})
        request(server, 'HEAD', 'data.bin')
        request(server, 'GET', 'sub/small.txt')
        stats = server.stats()
        multipart = server.records()[1].body_bytes
        assert multipart > 4  # the parts' headers count too
        assert stats.requests == 4 and stats.requests_for('data.bin') == 3 and stats.requests_for('sub/small.txt') == 1
        assert stats.bytes_for('data.bin') == 100 + multipart and stats.bytes_for('sub/small.txt') == 6
        assert stats.bytes_sent == 106 + multipart
        assert stats.statuses == {206: 2, 200: 2}
        server.reset_stats()
        assert server.stats().requests == 0 and server.stats().bytes_sent == 0
        assert len(server.records()) == 4  # records are kept until clear_records()
        server.clear_records()
        assert server.records() == []


def test_stats_are_thread_safe(folder):
    with RangeServer(folder) as server:
        def worker():
            conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=5)
            for _ in range(10):
                request(server, 'GET', 'data.bin', {'Range': 'bytes=0-9'}, conn=conn)
            conn.close()
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert server.stats().requests == 40 and server.stats().bytes_sent == 400
        assert len({r.client_port for r in server.records()}) == 4


def test_routes_answer_before_files_and_a_failing_route_is_raised_on_close(folder):
    server = RangeServer(folder)
    server.add_route(('GET', 'POST'), r'echo/(\w+)', lambda r: Response.json({'name': r.match.group(1),
                                                                              'body': r.body.decode(),
                                                                              'q': r.params.get('q')}))
    server.add_route('GET', 'boom', lambda r: 1 / 0)
    with pytest.raises(RuntimeError, match='ZeroDivisionError'):
        with server:
            response, body = request(server, 'POST', 'echo/abc', body=b'hi', query='q=1')
            assert response.status == 200 and json.loads(body) == {'name': 'abc', 'body': 'hi', 'q': ['1']}
            assert request(server, 'PUT', 'echo/abc', body=b'x')[0].status == 405
            response, body = request(server, 'GET', 'boom')
            assert response.status == 500 and b'ZeroDivisionError' in body
    assert len(server.errors()) == 1


# ------------------------------------------------------------------------------------------------- faults
def test_required_header_401_403_and_records_show_what_was_sent(folder):
    faults = Faults(require_header=('Authorization', 'Bearer s3cret'), auth_paths=('sub/*',))
    with RangeServer(folder, faults=faults) as server:
        response, _ = request(server, 'GET', 'sub/small.txt')
        assert response.status == 401 and response.headers['WWW-Authenticate'].startswith('Bearer')
        assert request(server, 'GET', 'sub/small.txt', {'Authorization': 'Bearer nope'})[0].status == 403
        assert request(server, 'GET', 'sub/small.txt', {'Authorization': 'Bearer s3cret'})[1] == b'hello\n'
        assert request(server, 'GET', 'data.bin')[0].status == 200  # not under auth_paths
        sent = [r.header('authorization') for r in server.records()]
        assert sent == [None, 'Bearer nope', 'Bearer s3cret', None]
        assert server.records()[2].request_line == f'GET /{server.prefix}/sub/small.txt HTTP/1.1'


def test_503_and_429_rates_are_seeded_and_repeatable(folder):
    def statuses(seed):
        with RangeServer(folder, faults=Faults(rate_503=0.3, rate_429=0.1, seed=seed, retry_after=1)) as server:
            conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=5)
            out = [request(server, 'GET', 'sub/small.txt', conn=conn)[0] for _ in range(60)]
            conn.close()
        return [r.status for r in out], out

    first, responses = statuses(7)
    again, _ = statuses(7)
    other, _ = statuses(8)
    assert first == again and first != other
    assert set(first) == {200, 429, 503}
    assert 8 <= first.count(503) <= 30 and 1 <= first.count(429) <= 15
    assert all(r.headers['Retry-After'] == '1' for r in responses if r.status != 200)


def test_faults_can_be_changed_while_running_and_limited_to_paths(folder):
    with RangeServer(folder) as server:
        assert request(server, 'GET', 'data.bin')[0].status == 200
        server.configure(rate_503=1.0, fault_paths=('*.bin',))
        assert request(server, 'GET', 'data.bin')[0].status == 503
        assert request(server, 'GET', 'sub/small.txt')[0].status == 200
        server.configure(rate_503=0.0, missing=('sub/*',))
        assert request(server, 'GET', 'sub/small.txt')[0].status == 404
        assert request(server, 'GET', 'data.bin')[0].status == 200
        server.set_faults(None)
        assert request(server, 'GET', 'sub/small.txt')[0].status == 200


def test_script_plans_the_next_answers(folder):
    with RangeServer(folder, faults=Faults(script=('503', 'ok', '429'))) as server:
        got = [request(server, 'GET', 'sub/small.txt')[0].status for _ in range(4)]
        assert got == [503, 200, 429, 200]
        assert server.faults.script == ()
    with pytest.raises(ValueError, match='script'):
        Faults(script=('500',))


def test_a_dropped_connection_sends_headers_and_part_of_the_body(folder):
    with RangeServer(folder, faults=Faults(script=('drop',), drop_fraction=0.25)) as server:
        conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=5)
        conn.request('GET', server.url('data.bin')[len(f'http://127.0.0.1:{server.port}'):])
        response = conn.getresponse()
        assert response.status == 200 and response.headers['Content-Length'] == str(len(DATA))
        with pytest.raises(http.client.IncompleteRead) as err:
            response.read()
        assert len(err.value.partial) == len(DATA) // 4
        conn.close()
        record = server.records()[0]
        assert record.dropped and record.body_bytes == len(DATA) // 4
        assert server.stats().dropped == 1
        assert request(server, 'GET', 'data.bin')[1] == DATA  # the next request is answered in full


def test_delay_slows_every_answer(folder):
    with RangeServer(folder, faults=Faults(delay=0.3)) as server:
        start = time.monotonic()
        assert request(server, 'GET', 'sub/small.txt')[1] == b'hello\n'
        assert time.monotonic() - start >= 0.3


# ------------------------------------------------------------------------------------------------- bounds
def test_stops_answering_after_max_requests(folder):
    with RangeServer(folder, max_requests=3) as server:
        port = server.port
        for _ in range(3):
            assert request(server, 'GET', 'sub/small.txt')[0].status == 200
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            request(server, 'GET', 'sub/small.txt')
        assert server.stop_reason == 'requests'
        with pytest.raises(LimitReached, match='requests bound'):
            server.check_limits()
        assert server.wait_stopped(5) and not server.running
        assert refuses_connections(port)
        assert server.stats().refused == 1 and server.stats().requests == 4


def test_stops_after_max_lifetime(folder):
    with RangeServer(folder, max_lifetime=0.3) as server:
        port = server.port
        assert request(server, 'GET', 'sub/small.txt')[0].status == 200
        assert server.wait_stopped(5)
        assert server.stop_reason == 'lifetime' and not server.running
        assert refuses_connections(port)


def test_stops_and_joins_on_exit_even_when_the_body_raises(folder):
    with pytest.raises(ZeroDivisionError):
        # idle connections would otherwise wait 30 s for a request: closing must cut them
        with RangeServer(folder, faults=Faults(delay=30), idle_timeout=30) as server:
            port = server.port
            idle = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
            idle.connect()  # a connection that sends nothing: its handler waits for a request line
            outcome = []
            slow = threading.Thread(target=lambda: outcome.append(_attempt(request, server, 'GET', 'sub/small.txt')))
            slow.start()  # a request the server is delaying for 30 s
            time.sleep(0.2)
            1 / 0
    slow.join(5)
    assert not slow.is_alive() and isinstance(outcome[0], (OSError, http.client.HTTPException))  # no answer
    assert refuses_connections(port)
    assert not [t for t in threading.enumerate() if t.name.startswith('range-server')]
    idle.close()


def _attempt(fn, *args):
    """What ``fn(*args)`` returned, or the connection error it raised."""
    try:
        return fn(*args)
    except (OSError, http.client.HTTPException) as err:
        return err


@pytest.mark.parametrize('host', ['0.0.0.0', '', 'localhost', '::1', '::', '192.168.0.1'])
def test_refuses_to_listen_anywhere_but_loopback(folder, host):
    with pytest.raises(ValueError, match='127.0.0.1'):
        RangeServer(folder, host=host)


def test_listens_on_loopback_only(folder):
    with RangeServer(folder) as server:
        assert server.address == ('127.0.0.1', server.port)
        assert server.url('x.tif').startswith(f'http://127.0.0.1:{server.port}/')


# ------------------------------------------------------------------------------------------------- GDAL / rasterio
@pytest.mark.parametrize('scheme', ['vsicurl', 'http'])
def test_rasterio_reads_windows_equal_to_the_local_file(cog, scheme):
    info, data = cog
    with RangeServer(info.path.parent) as server, rasterio.Env(**GDAL):
        name = server.vsicurl('big.tif') if scheme == 'vsicurl' else server.url('big.tif')
        with rasterio.open(name) as src:
            assert (src.width, src.height, src.crs.to_epsg()) == (2048, 2048, 32610)
            assert src.block_shapes == [(512, 512)] and src.transform == info.transform
            for window in (Window(0, 0, 200, 200), Window(300, 900, 700, 300), Window(1900, 1950, 148, 98)):
                np.testing.assert_array_equal(src.read(1, window=window), data[window.toslices()])
        assert server.stats().requests_for('big.tif') == server.stats().requests


def test_a_small_window_reads_a_small_part_of_the_file(cog):
    info, data = cog
    size = info.path.stat().st_size
    with RangeServer(info.path.parent) as server, rasterio.Env(**GDAL):
        with rasterio.open(server.url('big.tif')) as src:
            np.testing.assert_array_equal(src.read(1, window=Window(1800, 1800, 200, 200)),
                                          data[1800:2000, 1800:2000])
        stats = server.stats()
    # one 512 x 512 tile of 16 (6.25 %) and the first 16 KiB (the header)
    assert stats.bytes_sent < 0.1 * size, (stats.bytes_sent, size)
    records = server.records()
    assert all(r.status in (200, 206) for r in records)
    assert all(r.range for r in records if r.method == 'GET')  # never a full download
    assert len({r.client_port for r in records}) < len(records)  # GDAL reused its connection


def test_gdal_single_get_multirange_is_answered(cog):
    info, data = cog
    window = Window(0, 0, 700, 700)  # 2 x 2 tiles: two runs of consecutive bytes in the file
    with RangeServer(info.path.parent) as server, rasterio.Env(GDAL_HTTP_MULTIRANGE='SINGLE_GET', **GDAL):
        with rasterio.open(server.url('big.tif')) as src:
            np.testing.assert_array_equal(src.read(1, window=window), data[:700, :700])
    multi = [r for r in server.records() if r.range and ',' in r.range]
    assert len(multi) == 1 and multi[0].status == 206
    assert multi[0].body_bytes > 2 * 512 * 512  # the two runs of tiles came in one answer


def test_reads_succeed_despite_503s_with_gdal_retries(cog):
    info, data = cog
    env = dict(GDAL, GDAL_HTTP_MAX_RETRY='5', GDAL_HTTP_MULTIRANGE='SERIAL')
    windows = [Window(0, 0, 700, 700), Window(1500, 0, 548, 600), Window(0, 1500, 600, 548),
               Window(1200, 1200, 848, 848)]
    with RangeServer(info.path.parent, faults=Faults(rate_503=0.2, seed=1)) as server, rasterio.Env(**env):
        with rasterio.open(server.url('big.tif')) as src:
            for window in windows:
                np.testing.assert_array_equal(src.read(1, window=window), data[window.toslices()])
        statuses = server.stats().statuses
    assert statuses.get(503, 0) >= 1, statuses  # 3 of 11 with this seed: each was retried
    assert server.stats().requests == statuses[503] + statuses[206] + statuses[200]


@pytest.mark.parametrize('retries', [0, 2])
def test_gdal_gives_up_after_its_retries(cog, retries):
    info, _ = cog
    env = dict(GDAL, GDAL_HTTP_MAX_RETRY=str(retries))
    with RangeServer(info.path.parent, faults=Faults(rate_503=1.0)) as server, rasterio.Env(**env):
        with pytest.raises(RasterioIOError, match='503'):
            rasterio.open(server.url('big.tif'))
        assert server.stats().statuses == {503: retries + 1}


def test_a_missing_path_raises_a_rasterio_error(cog):
    info, _ = cog
    with RangeServer(info.path.parent, faults=Faults(missing=('big.tif',))) as server, rasterio.Env(**GDAL):
        with pytest.raises(RasterioIOError, match='404'):
            rasterio.open(server.url('big.tif'))
        with pytest.raises(RasterioIOError):
            rasterio.open(server.url('nothing/here.tif'))
        assert server.stats().statuses == {404: 2}


def test_dropped_connections_fail_the_read_or_are_resumed(cog):
    info, data = cog
    env = dict(GDAL, GDAL_HTTP_MULTIRANGE='SERIAL')
    with RangeServer(info.path.parent) as server, rasterio.Env(**env):
        with rasterio.open(server.url('big.tif')) as src:
            server.configure(script=('drop',))  # the next request, the first of the tile data, is cut in two
            np.testing.assert_array_equal(src.read(1, window=Window(0, 0, 200, 200)), data[:200, :200])
            server.configure(drop_rate=1.0)  # every request is cut
            with pytest.raises(RasterioIOError):
                src.read(1, window=Window(1024, 1024, 200, 200))
    dropped = [r for r in server.records() if r.dropped]
    assert len(dropped) >= 2
    # GDAL asked for the rest of the first cut answer from the first byte it had not received
    records = server.records()
    cut = records.index(dropped[0])
    first = int(dropped[0].range.split('=')[1].split('-')[0])
    assert records[cut + 1].range.startswith(f'bytes={first + dropped[0].body_bytes}-')


def test_gdal_sends_configured_headers(cog):
    info, _ = cog
    faults = Faults(require_header=('Authorization', 'Bearer t0ken'))
    with RangeServer(info.path.parent, faults=faults) as server:
        # a distinct query per attempt: GDAL caches a failed URL for the process
        with rasterio.Env(**GDAL):
            with pytest.raises(RasterioIOError, match='401'):
                rasterio.open(server.url('big.tif', {'try': 1}))
        with rasterio.Env(GDAL_HTTP_HEADERS='Authorization: Bearer wrong', **GDAL):
            with pytest.raises(RasterioIOError, match='403'):
                rasterio.open(server.url('big.tif', {'try': 2}))
        with rasterio.Env(GDAL_HTTP_HEADERS='Authorization: Bearer t0ken', **GDAL):
            with rasterio.open(server.url('big.tif', {'try': 3})) as src:
                assert src.shape == (2048, 2048)
        sent = [(r.status, r.header('Authorization')) for r in server.records()]
    assert sent[:2] == [(401, None), (403, 'Bearer wrong')]
    assert sent[2:] and all(s in (200, 206) and h == 'Bearer t0ken' for s, h in sent[2:])
