"""The split-scene benchmark runs end to end with tiny settings and reports what the docs quote (keys, not speeds);
the scene split across two one-thread processes has the class map of one process with one thread."""
import json

import pytest
from helpers.commands import BIN, ROOT, run

SCRIPT = ROOT / 'tools' / 'benchmark' / 'split_scene.py'


@pytest.mark.slow
def test_split_scene_benchmark_reports_the_speed_ups_the_join_and_memory(tmp_path):
    out = tmp_path / 'split.json'
    run([BIN / 'python', SCRIPT, '--size', '600x256', '--work', tmp_path / 'work', '--json', out], timeout=600)
    report = json.loads(out.read_text())
    assert {'megapixels_per_s', 'seconds', 'join_seconds', 'peak_rss_mb', 'split_over_one_thread',
            'split_over_two_threads', 'join_share', 'targets', 'targets_met', 'pixels_differing_from_one_thread',
            'runs', 'parts'} <= set(report)
    assert set(report['megapixels_per_s']) == {'one_thread', 'two_threads', 'split'}
    assert report['size'] == [600, 256] and report['parts'] == [[0, 256], [256, 600]]
    # the joined parts of two one-thread processes: the pixels of one process with one thread
    assert report['pixels_differing_from_one_thread']['split'] == 0
    assert 0 < report['join_share'] < 1 and report['join_seconds'] > 0
    assert [len(r['peak_rss_mb']) for r in report['runs']['split']] == [2]
