"""geospatial_mm/compat/distributed.py for ``--launcher slurm`` without a SLURM cluster: a process given the
variables that srun sets initialises gloo without CUDA, with rank, world size, local rank and a master port per job
taken from them. (tests/slurm/ runs it under a real srun.)"""
import json
import os
import textwrap

import pytest
from helpers.commands import BIN, run

from geospatial_mm.compat.distributed import slurm_master_port

SLURM_TASK = {'SLURM_PROCID': '0', 'SLURM_NTASKS': '1', 'SLURM_LOCALID': '0', 'SLURM_NODELIST': 'node07',
              'SLURM_JOB_ID': '123456', 'CUDA_VISIBLE_DEVICES': ''}
INIT = textwrap.dedent('''
    import json, os
    import torch
    import geospatial_mm  # noqa: F401
    from mmengine.dist import get_dist_info, init_dist
    assert not torch.cuda.is_available()
    try:
        init_dist('slurm', backend='nccl')  # what the configs ask for
    except RuntimeError as exc:
        print(json.dumps(dict(error=str(exc), port=os.environ.get('MASTER_PORT'))))
        raise SystemExit(3)
    print(json.dumps(dict(backend=torch.distributed.get_backend(), dist=get_dist_info(),
                          env={k: os.environ[k] for k in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'LOCAL_RANK',
                                                          'WORLD_SIZE')})))
''')


def _environment_without_rendezvous():
    return {k: v for k, v in os.environ.items()
            if not k.startswith('SLURM_') and k not in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'LOCAL_RANK',
                                                        'WORLD_SIZE')}


def test_master_port_follows_the_job_id():
    assert slurm_master_port({'SLURM_JOB_ID': '123456'}) == 23456
    assert slurm_master_port({'SLURM_JOB_ID': '7'}) == 20007
    assert slurm_master_port({'SLURM_JOBID': '7'}) == 20007  # the older name
    assert slurm_master_port({}) is None
    ports = {slurm_master_port({'SLURM_JOB_ID': str(job)}) for job in range(1000, 11000)}
    assert len(ports) == 10000 and min(ports) >= 20000 and max(ports) < 30000
    with pytest.raises(ValueError, match="SLURM_JOB_ID must be an integer, found 'x1'"):
        slurm_master_port({'SLURM_JOB_ID': 'x1'})


@pytest.mark.slow
def test_slurm_launcher_initialises_gloo_without_cuda_from_slurm_variables(tmp_path):
    script = tmp_path / 'init.py'
    script.write_text(INIT)
    env = {**_environment_without_rendezvous(), **SLURM_TASK, 'MASTER_ADDR': '127.0.0.1', 'PATH': str(BIN)}
    proc = run([BIN / 'python', script], env=env, timeout=300)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report['backend'] == 'gloo' and report['dist'] == [0, 1]
    assert report['env'] == {'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': '23456', 'RANK': '0', 'LOCAL_RANK': '0',
                             'WORLD_SIZE': '1'}
    assert "using the gloo backend instead of 'nccl' for the slurm launcher" in proc.stderr


@pytest.mark.slow
def test_slurm_launcher_keeps_a_given_master_port_and_names_scontrol_when_it_cannot_find_the_master(tmp_path):
    script = tmp_path / 'init.py'
    script.write_text(INIT)
    env = {**_environment_without_rendezvous(), **SLURM_TASK, 'MASTER_PORT': '29877', 'PATH': str(BIN)}
    proc = run([BIN / 'python', script], env=env, timeout=300, check=False)
    # PATH holds only the venv: no scontrol to expand SLURM_NODELIST into the master's host name
    assert proc.returncode == 3, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report['error'] == ("--launcher slurm needs scontrol (not found on PATH) to expand "
                               "SLURM_NODELIST='node07' into the master host; or set MASTER_ADDR")
    assert report['port'] == '29877'  # MASTER_PORT of the environment wins over the job's port
