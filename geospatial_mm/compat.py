"""Shims that let the 2023-24 OpenMMLab stack (mmengine, mmcv 2.1, mmseg 1.2, mmdet 3.3, mmpretrain 1.2) run on
current PyTorch. They are applied once, when :mod:`geospatial_mm` is imported (configs import it through
``custom_imports``, before any runner, model or checkpoint is built).

Each shim says why it exists and has a test in ``tests/test_compat.py``:

* :func:`patch_cpu_distributed` - ``--launcher pytorch`` on a machine without CUDA. mmengine always calls
  ``torch.cuda.set_device`` and the configs ask for NCCL; DDP is built with ``device_ids`` that only make sense for
  GPU modules. On a machine without CUDA we fall back to gloo, skip the device calls and build DDP without device ids.
* :func:`patch_safe_checkpoint_loading` - mmengine loads every checkpoint with ``torch.load(weights_only=False)``,
  which executes arbitrary pickled code. We load with ``weights_only=True`` and an allow-list of exactly the globals
  that mmengine checkpoints contain; a checkpoint that needs anything else is refused with a message that says how to
  trust it (``GEOSPATIAL_MM_TRUST_CHECKPOINTS=1`` or ``--trust-checkpoint`` on tools/train.py and tools/test.py).
* :func:`patch_mmseg_focal_loss_cpu` - mmseg 1.2.2's ``FocalLoss`` fails on CPU for class-index targets: its CPU
  branch keeps the one-hot column ``num_classes`` instead of the first ``num_classes`` columns
  (open-mmlab/mmsegmentation#3249, still open), so any multi-class focal loss crashes on a CPU run. On CPU we build
  the one-hot target correctly and call mmseg's own ``py_sigmoid_focal_loss``; CUDA tensors keep mmseg's path.
"""
from __future__ import annotations

import functools
import io
import logging
import os
import os.path as osp
from typing import Any, Callable

import torch

TRUST_ENV = 'GEOSPATIAL_MM_TRUST_CHECKPOINTS'

_APPLIED: set[str] = set()


def _once(func: Callable[[], None]) -> Callable[[], None]:
    @functools.wraps(func)
    def wrapper() -> None:
        if func.__name__ in _APPLIED:
            return
        func()
        _APPLIED.add(func.__name__)

    return wrapper


# --------------------------------------------------------------------------------------------------------------------
# Distributed training on CPU
# --------------------------------------------------------------------------------------------------------------------
@_once
def patch_cpu_distributed() -> None:
    """Let ``--launcher pytorch`` run on CPU-only machines (gloo, no CUDA device calls, DDP without device ids)."""
    import mmengine.dist.utils as dist_utils
    from mmengine.model.wrappers import MMDistributedDataParallel

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


# --------------------------------------------------------------------------------------------------------------------
# Checkpoints without executing pickled code
# --------------------------------------------------------------------------------------------------------------------
class UntrustedCheckpointError(RuntimeError):
    """A checkpoint needs globals outside the allow-list to be unpickled."""


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while unpickling: a HistoryBuffer pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``; any other use of getattr could reach arbitrary code and is refused."""
    import pickle

    from mmengine.logging.history_buffer import HistoryBuffer

    # the built-in statistics (registered lazily, so possibly not yet in this process) and any registered later
    allowed = {'min', 'max', 'current', 'mean'} | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and isinstance(name, str) and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')


def checkpoint_allowlist() -> list:
    """The globals an mmengine checkpoint may contain besides what torch's weights-only unpickler already allows.

    Measured on checkpoints written by mmengine's CheckpointHook: the message hub keeps :class:`HistoryBuffer`
    objects (numpy arrays inside, statistics methods pickled through ``getattr``), and meta/runtime info may hold
    numpy scalars. ``builtins.getattr`` is mapped to :func:`_history_buffer_getattr`, never to the real getattr.
    """
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    dtype_classes = [type(np.dtype(t)) for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
        np.float16, np.float32, np.float64)]
    return [HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes,
            (_history_buffer_getattr, 'builtins.getattr')]


def _allowlist_names() -> set[str]:
    names = set()
    for entry in checkpoint_allowlist():
        if isinstance(entry, tuple):
            names.add(entry[1])
        else:
            names.add(f'{entry.__module__}.{entry.__qualname__}')
    return names


def checkpoints_trusted() -> bool:
    return os.environ.get(TRUST_ENV, '').lower() in ('1', 'true', 'yes')


def safe_torch_load(source: Any, map_location: Any = None, name: str | None = None) -> Any:
    """``torch.load`` that never runs pickled code unless checkpoints are explicitly trusted.

    Args:
        source: a path or a binary file-like object.
        map_location: as for :func:`torch.load`.
        name: how to call the checkpoint in messages (defaults to the path).
    """
    name = name or (str(source) if isinstance(source, (str, os.PathLike)) else '<checkpoint buffer>')
    if checkpoints_trusted():
        return torch.load(source, map_location=map_location, weights_only=False)
    allow = checkpoint_allowlist()
    try:
        with torch.serialization.safe_globals(allow):
            return torch.load(source, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError (and sometimes others) for forbidden globals
        if not _is_weights_only_refusal(exc):
            raise
        unsafe = _unsafe_globals(source)
        raise UntrustedCheckpointError(
            f'{name}: refused to load: unpickling it would need globals outside the checkpoint allow-list '
            f'({", ".join(unsafe) if unsafe else exc}). Loading it could execute code stored in the file. '
            f'If you trust where it comes from, set {TRUST_ENV}=1 or pass --trust-checkpoint to '
            f'tools/train.py / tools/test.py.') from None


def _is_weights_only_refusal(exc: Exception) -> bool:
    import pickle
    text = str(exc)
    return isinstance(exc, pickle.UnpicklingError) or 'weights_only' in text or 'Weights only load failed' in text


def _unsafe_globals(source: Any) -> list[str]:
    try:
        if hasattr(source, 'seek'):
            source.seek(0)
        found = torch.serialization.get_unsafe_globals_in_checkpoint(source)
    except Exception:  # the listing is only for the message; the refusal stands either way
        return []
    allowed = _allowlist_names()
    return [g for g in found if g not in allowed]


@_once
def patch_safe_checkpoint_loading() -> None:
    """Route mmengine's local and object-store checkpoint loaders through :func:`safe_torch_load`.

    mmengine 0.11 passes ``weights_only=False`` explicitly for these; its http(s)/torchvision loaders use torch's
    default, which is already weights-only on torch >= 2.6.
    """
    from mmengine.fileio import get_file_backend
    from mmengine.runner.checkpoint import CheckpointLoader

    def load_from_local(filename: str, map_location: Any = None) -> Any:
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return safe_torch_load(filename, map_location=map_location)

    def load_from_ceph(filename: str, map_location: Any = None, backend: str = 'petrel') -> Any:
        file_backend = get_file_backend(filename, backend_args={'backend': backend})
        with io.BytesIO(file_backend.get(filename)) as buffer:
            return safe_torch_load(buffer, map_location=map_location, name=filename)

    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    CheckpointLoader.register_scheme(prefixes=[r'(\S+\:)?s3://', r'(\S+\:)?petrel://'], loader=load_from_ceph,
                                     force=True)


# --------------------------------------------------------------------------------------------------------------------
# mmseg FocalLoss on CPU
# --------------------------------------------------------------------------------------------------------------------
@_once
def patch_mmseg_focal_loss_cpu() -> None:
    """Give mmseg's ``FocalLoss`` a working CPU path for class-index targets (see the module docstring)."""
    import torch.nn.functional as F
    from mmseg.models.losses import focal_loss

    original_forward = focal_loss.FocalLoss.forward

    @functools.wraps(original_forward)
    def forward(self, pred, target, weight=None, avg_factor=None, reduction_override=None, ignore_index=255,
                **kwargs):
        if pred.is_cuda or pred.shape == target.shape:  # CUDA, or one-hot / soft targets: mmseg's path works
            return original_forward(self, pred, target, weight=weight, avg_factor=avg_factor,
                                    reduction_override=reduction_override, ignore_index=ignore_index, **kwargs)
        if pred.shape[0] != target.shape[0] or pred.shape[2:] != target.shape[1:]:
            raise ValueError(f'FocalLoss: prediction {tuple(pred.shape)} does not match target {tuple(target.shape)}')
        num_classes = pred.size(1)
        flat_pred = pred.transpose(0, 1).reshape(num_classes, -1).transpose(0, 1).contiguous()
        flat_target = target.reshape(-1)
        valid = flat_target != ignore_index
        index = torch.where(valid, flat_target, flat_target.new_zeros(()))
        if num_classes == 1:  # one sigmoid channel: class 1 is the positive
            one_hot = (index == 1).long()[:, None]
        else:
            one_hot = F.one_hot(index, num_classes=num_classes)
        if weight is not None and weight.numel() == flat_target.numel():
            weight = weight.reshape(-1)
        reduction = reduction_override or self.reduction
        loss = self.loss_weight * focal_loss.py_sigmoid_focal_loss(
            flat_pred, one_hot, None, weight, gamma=self.gamma, alpha=self.alpha, class_weight=self.class_weight,
            valid_mask=valid[:, None], reduction=reduction, avg_factor=avg_factor)
        if reduction == 'none':
            shape = pred.shape
            loss = loss.transpose(0, 1).reshape(shape[1], shape[0], *shape[2:]).transpose(0, 1).contiguous()
        return loss

    focal_loss.FocalLoss.forward = forward


def apply_all() -> None:
    """Apply every shim (idempotent)."""
    patch_cpu_distributed()
    patch_safe_checkpoint_loading()
    patch_mmseg_focal_loss_cpu()
