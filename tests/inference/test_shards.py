"""Shards of a prediction run: I/N from the command line or from SLURM's variables, each shard's share of the samples,
and one summary merged from the shards' summaries (tools/merge_summaries.py)."""
import json

import pytest
from helpers.commands import ROOT, run_main
from helpers.model_inference import scene, tool
from helpers.models import TINY, make_checkpoint

from geospatial_mm.inference.shards import ShardError, parse_shard, shard_from_environment, take_shard
from geospatial_mm.inference.summary import RunSummary, SampleResult, merge_summaries

MERGE = ROOT / 'tools' / 'merge_summaries.py'


def test_shards_parse_and_cover_every_sample_exactly_once():
    assert parse_shard('1/4') == (1, 4) and parse_shard(' 0 / 1 ') == (0, 1)
    for bad in ('4/4', '-1/3', '1', 'a/b', '1/0'):
        with pytest.raises(ShardError, match='shard'):
            parse_shard(bad)
    items = list(range(11))
    shares = [take_shard(items, (i, 3)) for i in range(3)]
    assert sorted(x for share in shares for x in share) == items and take_shard(items, None) == items


def test_slurm_array_tasks_and_srun_tasks_are_shards():
    array = {'SLURM_ARRAY_TASK_ID': '3', 'SLURM_ARRAY_TASK_COUNT': '3', 'SLURM_ARRAY_TASK_MIN': '1',
             'SLURM_ARRAY_TASK_MAX': '3', 'SLURM_PROCID': '0', 'SLURM_NTASKS': '1'}
    assert shard_from_environment(array) == (2, 3)  # --array=1-3: the third task
    assert shard_from_environment({'SLURM_PROCID': '1', 'SLURM_NTASKS': '2'}) == (1, 2)
    assert shard_from_environment({'SLURM_PROCID': '0', 'SLURM_NTASKS': '1'}) is None
    assert shard_from_environment({}) is None
    with pytest.raises(ShardError, match='not 3 consecutive ids'):
        shard_from_environment(dict(array, SLURM_ARRAY_TASK_MAX='7'))  # --array=1,5,7


def record(name, status, error=None):
    return SampleResult(name=name, input=f'/in/{name}.tif', status=status, error=error)


def test_merging_keeps_each_samples_best_record_and_names_missing_shards(tmp_path):
    first = RunSummary([record('a', 'ok'), record('c', 'failed', 'RasterError: cancelled')], shard=(0, 3))
    second = RunSummary([record('b', 'ok')], shard=(1, 3))
    rerun = RunSummary([record('a', 'skipped'), record('c', 'ok')], shard=(0, 3))
    merged, problems = merge_summaries([first, second, rerun])
    assert [(r.name, r.status) for r in merged.samples] == [('a', 'skipped'), ('b', 'ok'), ('c', 'ok')]
    assert problems == ['no summary of shard(s) 2/3: their samples are not in the merged summary']
    merged, _ = merge_summaries([rerun, first])  # a failure never replaces outputs that exist
    assert [(r.name, r.status) for r in merged.samples] == [('a', 'ok'), ('c', 'ok')]
    # through the tool, from the files the runs wrote
    files = []
    for i, summary in enumerate((first, second, RunSummary([record('d', 'ok')], shard=(2, 3)), rerun)):
        files.append(tmp_path / f'{i}.json')
        files[-1].write_text(json.dumps(summary.to_dict()))
    proc = run_main(MERGE, [*map(str, files), '-o', str(tmp_path / 'run.json')])
    assert '4 sample(s) from 4 summaries: 3 predicted, 1 skipped (outputs existed), 0 failed' in proc.stdout
    merged_file = json.loads((tmp_path / 'run.json').read_text())
    assert [s['name'] for s in merged_file['samples']] == ['a', 'b', 'c', 'd'] and merged_file['failed'] == 0
    (tmp_path / 'bad.json').write_text('{"samples": 3}')
    proc = run_main(MERGE, [str(tmp_path / 'bad.json'), '-o', str(tmp_path / 'x.json')], check=False)
    assert proc.returncode == 2 and 'bad.json: not a summary of tools/model_inference.py' in proc.stderr


@pytest.mark.slow  # predictions with a model
def test_shards_of_a_run_predict_disjoint_shares_that_together_are_the_whole_run(tmp_path, monkeypatch):
    ckpt = make_checkpoint(TINY, tmp_path / 'tiny.pth')
    inputs = [scene(tmp_path / 'in' / f's_{i}.tif', 40, 48, seed=i) for i in range(5)]
    common = ['-config', TINY, '-ckpt', ckpt, '-input', tmp_path / 'in', '--tile', 32]
    tool(*common, '-output', tmp_path / 'one')
    tool(*common, '-output', tmp_path / 'sharded', '--shard', '0/2', '--summary', tmp_path / 's0.json')
    # the second shard as a SLURM job array task would run it, from SLURM's variables
    for name, value in (('SLURM_ARRAY_TASK_ID', '6'), ('SLURM_ARRAY_TASK_COUNT', '2'), ('SLURM_ARRAY_TASK_MIN', '5'),
                        ('SLURM_ARRAY_TASK_MAX', '6')):
        monkeypatch.setenv(name, value)
    proc = tool(*common, '-output', tmp_path / 'sharded', '--summary', tmp_path / 's1.json')
    assert '5 sample(s) in' in proc.stdout and 'shard 1/2 takes 2' in proc.stdout
    names = [{s['name'] for s in json.loads((tmp_path / f's{i}.json').read_text())['samples']} for i in range(2)]
    assert names == [{'s_0', 's_2', 's_4'}, {'s_1', 's_3'}]
    for path in inputs:
        assert (tmp_path / 'sharded' / f'{path.stem}_pred.tif').read_bytes() == \
            (tmp_path / 'one' / f'{path.stem}_pred.tif').read_bytes()
