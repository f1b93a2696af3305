"""tools/model_inference.py as a SLURM job array on the local cluster: each array task predicts its shard of a folder
with no process group; one task cancelled mid-run costs only its samples, its resubmission finishes them, the
shards' summaries merge into one, and the outputs are those of a one-process run, byte for byte."""
import json
import subprocess
import time

import pytest
from helpers.commands import BIN, ROOT, TESTS
from helpers.model_inference import TOOL, scene, tool
from helpers.models import TINY, make_checkpoint

pytestmark = pytest.mark.slurm

JOB = '''#!/bin/bash
set -euo pipefail
cd {root}
{python} {tool} -config {config} -ckpt {ckpt} -input {inputs} -output {out} --tile 32 --stride 16 --batch-size 4 \\
    --skip-existing --no-progress --summary {summaries}/shard_${{SLURM_ARRAY_TASK_ID}}_${{SLURM_JOB_ID}}.json \\
    ${{SHARD:+--shard $SHARD}}
'''


def wait_until_ended(cluster, job, seconds=300):
    deadline = time.monotonic() + seconds
    while cluster.run(['squeue', '-h', '-j', job], timeout=30).stdout.strip():
        assert time.monotonic() < deadline, f'job {job} did not end within {seconds} s'
        time.sleep(0.3)


def test_a_job_array_predicts_a_folder_and_a_cancelled_task_is_finished_by_its_resubmission(slurm_cluster,
                                                                                               tmp_path):
    ckpt = make_checkpoint(TINY, tmp_path / 'tiny.pth')
    inputs, out, summaries = tmp_path / 'in', tmp_path / 'out', tmp_path / 'summaries'
    summaries.mkdir()
    # six samples; shard 1 of 3 takes s_1 and s_4, and s_4 is large enough to be cancelled in the middle
    paths = [scene(inputs / f's_{i}.tif', *((512, 512) if i == 4 else (40, 48)), seed=i) for i in range(6)]
    script = tmp_path / 'predict.sh'
    script.write_text(JOB.format(root=ROOT, python=BIN / 'python', tool=TOOL, config=TINY, ckpt=ckpt, inputs=inputs,
                                 out=out, summaries=summaries))
    env = {'PYTHONPATH': str(TESTS), 'OMP_NUM_THREADS': '1'}
    job = slurm_cluster.run(['sbatch', '--parsable', '--array=0-2', '-n1', '-c1', '-t', '10',
                             '-o', tmp_path / 'task_%a.out', script], env=env, timeout=60).stdout.strip()
    deadline = time.monotonic() + 300
    while not list(out.glob('.s_4_pred.tif.*.tmp.tif')):  # task 1 is writing s_4
        assert time.monotonic() < deadline, (tmp_path / 'task_1.out').read_text()
        time.sleep(0.1)
    slurm_cluster.run(['scancel', f'{job}_1'], timeout=30)
    wait_until_ended(slurm_cluster, job)
    assert not (out / 's_4_pred.tif').exists()  # the cancelled task's sample; the other shards' are done
    assert sorted(p.name for p in out.glob('*_pred.tif')) == [f's_{i}_pred.tif' for i in (0, 1, 2, 3, 5)]
    # resubmit the cancelled task alone, as shard 1 of 3
    again = slurm_cluster.run(['sbatch', '--parsable', '--array=1', '-n1', '-c1', '-t', '10', '--export',
                               'ALL,SHARD=1/3', '-o', tmp_path / 'again_%a.out', script], env=env,
                              timeout=60).stdout.strip()
    wait_until_ended(slurm_cluster, again)
    rerun = (tmp_path / 'again_1.out').read_text()
    assert 'shard 1/3 takes 2' in rerun and 'summary: 2 sample(s): 1 predicted, 1 skipped' in rerun, rerun
    files = sorted(summaries.glob('*.json'), key=lambda p: p.stat().st_mtime)
    assert len(files) == 3  # the cancelled task wrote none
    merged = subprocess.run([BIN / 'python', ROOT / 'tools' / 'merge_summaries.py', *files, '-o',
                             tmp_path / 'run.json'], capture_output=True, text=True, timeout=120)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    run = json.loads((tmp_path / 'run.json').read_text())
    assert [s['name'] for s in run['samples']] == [f's_{i}' for i in range(6)] and run['failed'] == 0
    # one process over the same folder writes the same files
    tool('-config', TINY, '-ckpt', ckpt, '-input', inputs, '-output', tmp_path / 'one', '--tile', 32, '--stride', 16,
         '--batch-size', 4)
    for path in paths:
        name = f'{path.stem}_pred.tif'
        assert (out / name).read_bytes() == (tmp_path / 'one' / name).read_bytes(), name
    assert not list(out.glob('.*'))  # the cancelled task's temporary file was cleaned up by the resubmission
