"""``--launcher pytorch`` on a machine without CUDA.

mmengine always calls ``torch.cuda.set_device`` and the configs ask for NCCL; DDP is built with ``device_ids`` that
only make sense for GPU modules. Without CUDA the pytorch launcher falls back to gloo, skips the device calls and
builds DDP without device ids.
"""
from __future__ import annotations

import functools
import logging
from typing import Any

import torch


def patch_init_dist(dist_utils) -> None:
    """``mmengine.dist.utils._init_dist_pytorch`` on a machine without CUDA: gloo, no device calls."""
    original_init = dist_utils._init_dist_pytorch

    @functools.wraps(original_init)
    def _init_dist_pytorch(backend: str = 'nccl', init_backend: str = 'torch', **kwargs: Any) -> None:
        if torch.cuda.is_available():
            return original_init(backend, init_backend=init_backend, **kwargs)
        if backend != 'gloo':
            logging.getLogger('geospatial_mm').warning(
                'No CUDA device: using the gloo backend instead of %r for the pytorch launcher', backend)
        if init_backend != 'torch':
            raise RuntimeError(f'init_backend={init_backend!r} needs CUDA; only "torch" runs on a CPU-only machine')
        torch.distributed.init_process_group(backend='gloo', **kwargs)

    dist_utils._init_dist_pytorch = _init_dist_pytorch


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
