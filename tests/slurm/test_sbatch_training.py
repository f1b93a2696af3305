"""The sbatch training script of docs/running.md, taken from the page and submitted as it is written to the local
SLURM cluster: a first submission trains from the beginning, and a job cancelled with scancel after a checkpoint,
submitted again with the same command, resumes from that checkpoint and finishes."""
import os
import re
import time

import pytest
import torch
from helpers.commands import BIN, ROOT, data_root_options

pytestmark = pytest.mark.slurm

DOCS = ROOT / 'docs' / 'running.md'
MARKER = '<!-- sbatch-training-script'
CONFIG = 'tests/configs/tiny_seg.py'  # relative: the job runs in the folder it was submitted from, the checkout
LOGGED_ITER = re.compile(r'Iter\(train\) \[\s*(\d+)/(\d+)\]')


def docs_script() -> str:
    """The first bash block after the marker comment of docs/running.md."""
    text = DOCS.read_text()
    assert text.count(MARKER) == 1, f'{DOCS} must hold one {MARKER} comment before the sbatch training script'
    match = re.search(r'```bash\n(.*?)```', text[text.index(MARKER):], re.S)
    assert match, f'no ```bash block after {MARKER} in {DOCS}'
    script = match.group(1)
    assert script.startswith('#!/bin/bash\n') and '#SBATCH' in script, script
    return script


@pytest.fixture
def submit(slurm_cluster, shapes_root, tmp_path, monkeypatch):
    """``submit(work_dir, *options)``: sbatch the docs' script as the page says (``--export=ALL,CONFIG=...,
    WORK_DIR=...``, from the checkout, the environment's programs on PATH), with the data root and ``options`` for
    tools/train.py as the script's arguments; the job's output goes to ``job_<id>.out`` of the test's folder
    (``SBATCH_OUTPUT``, which takes precedence over the script's ``#SBATCH --output``). Returns the job id."""
    for name in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(name, raising=False)
    script = tmp_path / 'train.sbatch'
    script.write_text(docs_script())
    env = {'PATH': f'{BIN}{os.pathsep}{os.environ.get("PATH", "")}', 'OMP_NUM_THREADS': '1',
           'SBATCH_OUTPUT': str(tmp_path / 'job_%j.out')}

    def _submit(work_dir, *options):
        proc = slurm_cluster.run(
            ['sbatch', '--parsable', f'--export=ALL,CONFIG={CONFIG},WORK_DIR={work_dir}', script,
             '--cfg-options', *data_root_options(shapes_root), *options], env=env, cwd=ROOT, timeout=60)
        return proc.stdout.strip().split(';')[0]

    return _submit


def job_state(cluster, job) -> str:
    fields = dict(f.split('=', 1) for f in cluster.run(['scontrol', '-o', 'show', 'job', job]).stdout.split()
                  if '=' in f)
    return f'{fields["JobState"]} {fields["ExitCode"]}'


def wait_until_ended(cluster, job, seconds=150) -> str:
    deadline = time.monotonic() + seconds
    while cluster.run(['squeue', '-h', '-j', job], timeout=30).stdout.strip():
        assert time.monotonic() < deadline, f'job {job} did not end within {seconds} s'
        time.sleep(0.2)
    return job_state(cluster, job)


def job_output(tmp_path, job) -> str:
    return (tmp_path / f'job_{job}.out').read_text()


def logged_iterations(log: str, max_iters: int) -> list[int]:
    found = [(int(i), int(n)) for i, n in LOGGED_ITER.findall(log)]
    assert {n for _, n in found} <= {max_iters}, found
    return [i for i, _ in found]


def last_checkpoint(work_dir):
    return (work_dir / 'last_checkpoint').read_text().strip()


def checkpoint_iter(path) -> int:
    return torch.load(path, map_location='cpu', weights_only=False)['meta']['iter']


OPTIONS = ('train_cfg.val_interval=1000', 'default_hooks.logger.interval=1')


def test_the_docs_sbatch_script_trains_from_the_beginning_in_an_empty_work_dir(slurm_cluster, submit, tmp_path):
    work = tmp_path / 'work'
    job = submit(work, *OPTIONS, 'train_cfg.max_iters=10', 'default_hooks.checkpoint.interval=5')
    state = wait_until_ended(slurm_cluster, job)
    log = job_output(tmp_path, job)
    assert state == 'COMPLETED 0:0', f'{state}\n{log[-4000:]}'
    assert f'--resume: {work} holds no checkpoint yet; training starts from the beginning' in log, log[-4000:]
    assert 'Distributed launcher: slurm' in log and 'GPU number: 2' in log, log[-4000:]
    assert logged_iterations(log, 10) == list(range(1, 11))
    assert last_checkpoint(work) == str(work / 'iter_10.pth')
    assert checkpoint_iter(work / 'iter_5.pth') == 5 and checkpoint_iter(work / 'iter_10.pth') == 10


def test_the_docs_sbatch_script_resumes_a_cancelled_job_when_submitted_again(slurm_cluster, submit, tmp_path):
    work, max_iters, interval = tmp_path / 'work', 80, 10
    options = (*OPTIONS, f'train_cfg.max_iters={max_iters}', f'default_hooks.checkpoint.interval={interval}')
    first = submit(work, *options)
    deadline = time.monotonic() + 120
    while not (work / 'last_checkpoint').exists():  # the checkpoint of iteration 10 is written
        assert time.monotonic() < deadline, job_output(tmp_path, first)[-4000:]
        time.sleep(0.05)
    slurm_cluster.run(['scancel', first], timeout=30)
    state = wait_until_ended(slurm_cluster, first)
    cancelled_log = job_output(tmp_path, first)
    assert state.startswith('CANCELLED'), f'{state}\n{cancelled_log[-4000:]}'
    done = logged_iterations(cancelled_log, max_iters)
    assert done[:interval] == list(range(1, interval + 1)) and done[-1] < max_iters, done
    assert not (work / f'iter_{max_iters}.pth').exists()

    second = submit(work, *options)  # the same command again
    state = wait_until_ended(slurm_cluster, second)
    log = job_output(tmp_path, second)
    assert state == 'COMPLETED 0:0', f'{state}\n{log[-4000:]}'
    resumed = re.search(r'resumed epoch: 0, iter: (\d+)', log)
    assert resumed, log[-4000:]
    start = int(resumed.group(1))
    assert start % interval == 0 and interval <= start <= done[-1], (start, done[-1])
    assert f'Auto resumed from the latest checkpoint {work / f"iter_{start}.pth"}' in log, log[-4000:]
    assert logged_iterations(log, max_iters) == list(range(start + 1, max_iters + 1))  # iteration 1 is not redone
    assert last_checkpoint(work) == str(work / f'iter_{max_iters}.pth')
    assert checkpoint_iter(work / f'iter_{max_iters}.pth') == max_iters
