"""mmengine's ``--launcher slurm`` on a CPU node of the local SLURM cluster: tools/train.py under ``srun -N1 -n2``
trains with world size 2 on gloo and writes the checkpoint that ``--launcher pytorch`` under torchrun writes with the
same seed, and two jobs running at once meet on master ports of their own."""
import json
import os
import subprocess
import textwrap

import pytest
import torch
from helpers.commands import BIN, ROOT, TESTS, data_root_options, run
from helpers.local_slurm import local_cluster

pytestmark = pytest.mark.slurm

DDP_CONFIG = ROOT / 'tests' / 'configs' / 'tiny_seg_ddp.py'
CONFIG = ROOT / 'tests' / 'configs' / 'tiny_seg.py'


@pytest.fixture
def job_env(monkeypatch):
    """What the tasks need (the venv's programs, the test helpers, one thread each), without any rendezvous
    variables of the calling environment: the launcher must find everything from SLURM."""
    for name in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(name, raising=False)
    python_path = os.pathsep.join(p for p in (str(TESTS), os.environ.get('PYTHONPATH', '')) if p)
    return {'PATH': f'{BIN}{os.pathsep}{os.environ.get("PATH", "")}', 'PYTHONPATH': python_path,
            'OMP_NUM_THREADS': '1'}


def test_srun_trains_with_world_size_two_on_gloo(slurm_cluster, shapes_root, tmp_path, job_env):
    work = tmp_path / 'work'
    proc = slurm_cluster.run(
        ['srun', '-N1', '-n2', '-c1', '-t', '15', '--kill-on-bad-exit=1', '--label',
         BIN / 'python', ROOT / 'tools' / 'train.py', DDP_CONFIG, '--launcher', 'slurm', '--work-dir', work,
         '--cfg-options', *data_root_options(shapes_root), 'train_cfg.max_iters=10', 'train_cfg.val_interval=10'],
        env=job_env, timeout=900)
    log = proc.stdout + proc.stderr
    for rank in (0, 1):  # srun --label prefixes each task's lines with its rank
        assert f"{rank}: No CUDA device: using the gloo backend instead of 'nccl' for the slurm launcher" in log, \
            log[-4000:]
    assert 'Distributed launcher: slurm' in log and 'GPU number: 2' in log, log[-4000:]
    states = [torch.load(work / f'rank{r}_params.pt', map_location='cpu') for r in (0, 1)]
    assert [s['world_size'] for s in states] == [2, 2]
    assert [s['rank'] for s in states] == [0, 1]
    assert states[0]['batches_seen'] != states[1]['batches_seen']  # each rank trained on its own shard
    p0, p1 = states[0]['params'], states[1]['params']
    assert p0.keys() == p1.keys() and len(p0) > 10
    for name in p0:
        assert torch.equal(p0[name], p1[name]), f'{name} differs between the ranks'
    assert any(not torch.equal(states[0]['initial_params'][k], p0[k]) for k in p0), 'no parameter was trained'
    checkpoint = torch.load(work / 'iter_10.pth', map_location='cpu', weights_only=False)
    assert checkpoint['meta']['iter'] == 10
    assert all(torch.equal(checkpoint['state_dict'][k], p0[k]) for k in p0)


RENDEZVOUS = textwrap.dedent('''
    import json, os, sys, time
    import torch
    import geospatial_mm  # noqa: F401  (the shims)
    from mmengine.dist import get_dist_info, init_dist
    init_dist('slurm')  # the configs' default backend, nccl
    meeting = sys.argv[1]
    open(os.path.join(meeting, os.environ['SLURM_JOB_ID']), 'w').close()
    deadline = time.monotonic() + 120
    while len(os.listdir(meeting)) < 2 and time.monotonic() < deadline:  # hold the port until both jobs do
        time.sleep(0.1)
    print(json.dumps(dict(job=int(os.environ['SLURM_JOB_ID']), port=int(os.environ['MASTER_PORT']),
                          addr=os.environ['MASTER_ADDR'], dist=get_dist_info(),
                          backend=torch.distributed.get_backend(), met=len(os.listdir(meeting)) >= 2)))
    torch.distributed.destroy_process_group()
''')


def test_two_jobs_at_once_get_master_ports_of_their_own(slurm_cluster, tmp_path, job_env):
    """mmengine alone gives every job port 29500: the second job on a node could not bind it."""
    script = tmp_path / 'rendezvous.py'
    script.write_text(RENDEZVOUS)
    meeting = tmp_path / 'meeting'
    meeting.mkdir()
    cmd = ['srun', '-n1', '-c1', '-t', '5', BIN / 'python', script, meeting]
    jobs = [subprocess.Popen([str(c) for c in cmd], env=slurm_cluster.environ(job_env), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        outputs = [job.communicate(timeout=300) for job in jobs]
    finally:
        for job in jobs:
            if job.poll() is None:
                job.kill()
    assert [job.returncode for job in jobs] == [0, 0], outputs
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert all(r['met'] for r in reports), reports  # both held their ports at the same time
    assert [r['port'] for r in reports] == [20000 + r['job'] % 10000 for r in reports]
    assert reports[0]['port'] != reports[1]['port']
    assert {r['addr'] for r in reports} == {slurm_cluster.node}  # scontrol show hostnames of SLURM_NODELIST
    assert [r['dist'] for r in reports] == [[0, 1], [0, 1]] and {r['backend'] for r in reports} == {'gloo'}


def _checkpoint(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_srun_and_torchrun_with_one_seed_write_the_same_checkpoint(slurm_cluster, shapes_root, tmp_path, job_env):
    """The slurm launcher is only another way of starting the same 2-process job: with the config's seed and the same
    data, its checkpoint is the one of ``--launcher pytorch`` under torchrun, tensor for tensor."""
    options = ['--cfg-options', *data_root_options(shapes_root), 'train_cfg.max_iters=10',
               'train_cfg.val_interval=1000', 'default_hooks.checkpoint.interval=10', 'randomness.seed=0']
    srun_job = slurm_cluster.run(['srun', '-N1', '-n2', '-c1', '-t', '15', '--kill-on-bad-exit=1', BIN / 'python',
                                  ROOT / 'tools' / 'train.py', CONFIG, '--launcher', 'slurm', '--work-dir',
                                  tmp_path / 'slurm', *options], env=job_env, timeout=600)
    port = local_cluster.free_ports(1)[0]
    torchrun_job = run([BIN / 'torchrun', '--nproc-per-node', '2', '--master-addr', '127.0.0.1', '--master-port',
                        port, ROOT / 'tools' / 'train.py', CONFIG, '--launcher', 'pytorch', '--work-dir',
                        tmp_path / 'torchrun', *options], env=job_env, timeout=600)
    for launcher, proc in (('slurm', srun_job), ('pytorch', torchrun_job)):
        log = proc.stdout + proc.stderr
        assert f'Distributed launcher: {launcher}' in log and 'GPU number: 2' in log, log[-4000:]
    by_slurm = _checkpoint(tmp_path / 'slurm' / 'iter_10.pth')
    by_torchrun = _checkpoint(tmp_path / 'torchrun' / 'iter_10.pth')
    assert by_slurm['meta']['iter'] == by_torchrun['meta']['iter'] == 10
    assert by_slurm['meta']['seed'] == by_torchrun['meta']['seed'] == 0
    weights, reference = by_slurm['state_dict'], by_torchrun['state_dict']
    assert weights.keys() == reference.keys() and len(weights) > 10
    different = [name for name in weights if not torch.equal(weights[name], reference[name])]
    assert not different, f'{len(different)} of {len(weights)} tensors differ: {different[:10]}'
    moments, reference_moments = by_slurm['optimizer']['state'], by_torchrun['optimizer']['state']  # AdamW's
    assert moments.keys() == reference_moments.keys() and len(moments) > 10
    for index, state in moments.items():
        for key, value in state.items():
            assert torch.equal(value, reference_moments[index][key]), f'optimizer state {index}.{key} differs'
