"""The remote-raster benchmark runs end to end with tiny settings and reports what the docs quote (keys, not speeds)."""
import json

import pytest
from helpers.commands import BIN, ROOT, run

SCRIPT = ROOT / 'tools' / 'benchmark' / 'remote.py'


@pytest.mark.slow
def test_remote_benchmark_reports_throughput_memory_and_bytes_of_http_against_local(tmp_path):
    out = tmp_path / 'remote.json'
    run([BIN / 'python', SCRIPT, '--size', '256', '--block', '128', '--rounds', '1', '--work', tmp_path / 'work',
         '--json', out], timeout=300)
    report = json.loads(out.read_text())
    assert {'throughput_ratio', 'rss_ratio', 'bytes_ratio', 'local_megapixels_per_s', 'http_megapixels_per_s',
            'local_peak_rss_mb', 'http_peak_rss_mb', 'http_bytes_sent', 'needed_bytes', 'block_bytes',
            'header_bytes', 'blocks_touched', 'http_requests', 'requests_per_1000_tiles', 'http_statuses', 'tiles',
            'tile', 'stride', 'readers', 'targets', 'targets_met', 'runs'} <= set(report)
    assert report['size'] == 256 and report['block'] == 128 and report['tiles'] == 4
    assert report['blocks_touched'] == report['blocks_in_file'] == 4
    assert report['throughput_ratio'] > 0 and report['rss_ratio'] > 0 and report['bytes_ratio'] > 0
    assert [len(report['runs'][k]) for k in ('local', 'http')] == [1, 1]
    http = report['runs']['http'][0]['http']
    assert http['bytes_sent'] >= report['block_bytes'] and http['requests'] > 0
    assert set(report['http_statuses']) <= {'200', '206'}  # HEAD and ranges only: nothing failed
