"""``--launcher pytorch`` and ``--launcher slurm`` on a machine without CUDA, and a master port per SLURM job.

mmengine always calls ``torch.cuda.set_device`` and the configs ask for NCCL; DDP is built with ``device_ids`` that
only make sense for GPU modules. Without CUDA (and without the other accelerators mmengine knows) both launchers fall
back to gloo, skip the device calls and build DDP without device ids.

mmengine's slurm launcher also takes the master port from its ``port`` argument, else ``MASTER_PORT``, else 29500
for every job, so two jobs on one node would meet on the same port. Without either, the port is derived from the
job's id (:func:`slurm_master_port`), on every machine.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from typing import Any, Mapping

import torch

SLURM_PORT_BASE = 20000  # below Linux's default ephemeral range (32768-60999)
SLURM_PORT_SPAN = 10000


def slurm_master_port(environ: Mapping[str, str] = os.environ) -> int | None:
    """The rendezvous port of a SLURM job: ``20000 + SLURM_JOB_ID % 10000``, so that jobs sharing a node do not
    collide (job ids 10000 apart would; so would two job steps of one job that run at the same time: set
    ``MASTER_PORT`` for those). None outside a SLURM job."""
    job_id = environ.get('SLURM_JOB_ID') or environ.get('SLURM_JOBID')
    if not job_id:
        return None
    try:
        return SLURM_PORT_BASE + int(job_id) % SLURM_PORT_SPAN
    except ValueError:
        raise ValueError(f'SLURM_JOB_ID must be an integer, found {job_id!r}') from None


def first_slurm_host(node_list: str) -> str:
    """The first host name of a SLURM node list such as ``node[01-04]`` (``scontrol show hostnames``), with an
    error that names the command when it fails."""
    scontrol = shutil.which('scontrol')
    if scontrol is None:
        raise RuntimeError(f'--launcher slurm needs scontrol (not found on PATH) to expand SLURM_NODELIST='
                           f'{node_list!r} into the master host; or set MASTER_ADDR')
    cmd = [scontrol, 'show', 'hostnames', node_list]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    hosts = proc.stdout.split()
    if proc.returncode != 0 or not hosts:
        raise RuntimeError(f'{" ".join(cmd)} failed with exit status {proc.returncode} (no host name for the '
                           f'master): {proc.stderr.strip() or proc.stdout.strip()}')
    return hosts[0]


def _cpu_only(dist_utils) -> bool:
    """No CUDA device and none of the other accelerators that mmengine's launchers handle themselves."""
    if torch.cuda.is_available():
        return False
    others = ('is_mlu_available', 'is_npu_available', 'is_musa_available')
    return not any(getattr(dist_utils, name, lambda: False)() for name in others)


def _gloo_backend(backend: str, init_backend: str, launcher: str) -> str:
    if backend != 'gloo':
        logging.getLogger('geospatial_mm').warning(
            'No CUDA device: using the gloo backend instead of %r for the %s launcher', backend, launcher)
    if init_backend != 'torch':
        raise RuntimeError(f'init_backend={init_backend!r} needs CUDA; only "torch" runs on a CPU-only machine')
    return 'gloo'


def _slurm_variable(name: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        raise KeyError(f'{name} is not set: --launcher slurm runs in the tasks that srun starts') from None


def patch_init_dist(dist_utils) -> None:
    """mmengine's ``_init_dist_pytorch`` and ``_init_dist_slurm`` without CUDA: gloo, no device calls; and the
    slurm launcher's master port per job."""
    original_pytorch = dist_utils._init_dist_pytorch
    original_slurm = dist_utils._init_dist_slurm

    @functools.wraps(original_pytorch)
    def _init_dist_pytorch(backend: str = 'nccl', init_backend: str = 'torch', **kwargs: Any) -> None:
        if not _cpu_only(dist_utils):
            return original_pytorch(backend, init_backend=init_backend, **kwargs)
        backend = _gloo_backend(backend, init_backend, 'pytorch')
        torch.distributed.init_process_group(backend=backend, **kwargs)

    @functools.wraps(original_slurm)
    def _init_dist_slurm(backend: str = 'nccl', port: int | None = None, init_backend: str = 'torch',
                         **kwargs: Any) -> None:
        if port is None and 'MASTER_PORT' not in os.environ:
            job_port = slurm_master_port()
            if job_port is not None:
                os.environ['MASTER_PORT'] = str(job_port)
        if not _cpu_only(dist_utils):
            return original_slurm(backend, port=port, init_backend=init_backend, **kwargs)
        # mmengine's steps, without torch.cuda (its fallback local rank divides by the device count)
        proc_id = int(_slurm_variable('SLURM_PROCID'))
        ntasks = int(_slurm_variable('SLURM_NTASKS'))
        node_list = _slurm_variable('SLURM_NODELIST')
        local_rank = int(os.environ.get('SLURM_LOCALID', proc_id))
        if port is not None:
            os.environ['MASTER_PORT'] = str(port)
        elif 'MASTER_PORT' not in os.environ:
            os.environ['MASTER_PORT'] = '29500'  # mmengine's default, outside a job with an id
        if 'MASTER_ADDR' not in os.environ:
            os.environ['MASTER_ADDR'] = first_slurm_host(node_list)
        os.environ['WORLD_SIZE'] = str(ntasks)
        os.environ['LOCAL_RANK'] = str(local_rank)
        os.environ['RANK'] = str(proc_id)
        backend = _gloo_backend(backend, init_backend, 'slurm')
        torch.distributed.init_process_group(backend=backend, **kwargs)

    dist_utils._init_dist_pytorch = _init_dist_pytorch
    dist_utils._init_dist_slurm = _init_dist_slurm


def patch_ddp(distributed) -> None:
    """``MMDistributedDataParallel`` of a module on the CPU: without ``device_ids`` / ``output_device``."""
    MMDistributedDataParallel = distributed.MMDistributedDataParallel
    original_ddp_init = MMDistributedDataParallel.__init__

    @functools.wraps(original_ddp_init)
    def ddp_init(self, module, detect_anomalous_params: bool = False, **kwargs: Any) -> None:
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        if on_cpu:
            # torch refuses device_ids/output_device for CPU modules
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        original_ddp_init(self, module, detect_anomalous_params=detect_anomalous_params, **kwargs)

    MMDistributedDataParallel.__init__ = ddp_init
