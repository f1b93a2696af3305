"""Shims that let the 2023-24 OpenMMLab stack (mmengine, mmcv 2.1, mmseg 1.2, mmdet 3.3, mmpretrain 1.2) run on
current PyTorch. They are applied once, when :mod:`geospatial_mm` is imported (configs import it through
``custom_imports``, before any runner, model or checkpoint is built).

Each shim says why it exists and has a test in ``tests/test_compat.py``:

* :func:`patch_cpu_distributed` - ``--launcher pytorch`` on a machine without CUDA. mmengine always calls
  ``torch.cuda.set_device`` and the configs ask for NCCL; DDP is built with ``device_ids`` that only make sense for
  GPU modules. On a machine without CUDA we fall back to gloo, skip the device calls and build DDP without device ids.
* :func:`patch_safe_checkpoint_loading` - mmengine loads checkpoints with ``torch.load(weights_only=False)``
  (local, pavi, object-store and open-mmlab files) or through ``torch.utils.model_zoo.load_url``, whose
  ``weights_only`` also defaults to False (http(s), and so torchvision://, open-mmlab:// and mmcls:// URLs); either
  executes arbitrary pickled code. Every scheme is re-registered with a loader that downloads and caches as before
  and unpickles with ``weights_only=True`` and an allow-list of exactly the globals that mmengine checkpoints
  contain; a checkpoint that needs anything else, and a scheme registered later with a loader of its own, are
  refused with a message that says how to trust it (``GEOSPATIAL_MM_TRUST_CHECKPOINTS=1`` or ``--trust-checkpoint``).
* :func:`patch_resume_latest_checkpoint` - mmengine's auto-resume reads only the work dir's ``last_checkpoint``
  file; without it (a kill between the checkpoint and that file, a copied work dir) training silently starts over.
  We resume from the newest complete checkpoint instead, or stop with an error when none is complete.
* :func:`patch_mmpretrain_transformers` - mmpretrain 1.2.0 imports its multi-modal models whenever a transformers
  >= 4.28 is installed, and current transformers releases lack names those models import, so ``import mmpretrain``
  fails. When that is so, mmpretrain is told that the multi-modal dependencies are missing (see the function).
* :func:`patch_mmseg_focal_loss_cpu` - mmseg 1.2.2's ``FocalLoss`` fails on CPU for class-index targets: its CPU
  branch keeps the one-hot column ``num_classes`` instead of the first ``num_classes`` columns
  (open-mmlab/mmsegmentation#3249, still open), so any multi-class focal loss crashes on a CPU run. On CPU we build
  the one-hot target correctly and call mmseg's own ``py_sigmoid_focal_loss``; CUDA tensors keep mmseg's path.
"""
from __future__ import annotations

import functools
import importlib.abc
import io
import logging
import os
import os.path as osp
import re
import sys
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


def _download(url: str, model_dir: str | None = None, progress: bool = False) -> str:
    """The local copy of ``url`` in torch's hub cache (``$TORCH_HOME/hub/checkpoints/<basename>``, where mmengine's
    and torch's own URL loaders keep it), downloaded first when it is not there. torch's downloader writes to a
    temporary file and renames it when complete."""
    import sys
    from urllib.parse import urlparse

    from torch.hub import download_url_to_file, get_dir
    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        sys.stderr.write(f'Downloading: "{url}" to {cached}\n')
        download_url_to_file(url, cached, None, progress=progress)
    return cached


def _unpack_legacy_zip(path: str) -> str:
    """A checkpoint zipped by hand around one torch < 1.6 file (as torch.hub still accepts) -> the extracted file."""
    import zipfile
    if not zipfile.is_zipfile(path):
        return path
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) != 1 or members[0].is_dir():
            return path  # torch's own zip format (data.pkl, version, the tensors, ...)
        target = osp.realpath(osp.join(osp.dirname(path), members[0].filename))
        if osp.dirname(target) != osp.realpath(osp.dirname(path)):
            raise UntrustedCheckpointError(f'{path}: its single member {members[0].filename!r} would be extracted '
                                           'outside the checkpoint folder')
        archive.extract(members[0], osp.dirname(path))
    return target


def load_from_local(filename: str, map_location: Any = None) -> Any:
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_torch_load(filename, map_location=map_location)


def load_from_http(filename: str, map_location: Any = None, model_dir: str | None = None,
                   progress: bool = os.isatty(0)) -> Any:
    """http(s):// - downloaded once into torch's hub cache (rank 0 first, the other ranks after a barrier), then
    loaded weights-only."""
    from mmengine.dist import get_dist_info
    rank, world_size = get_dist_info()
    cached = _download(filename, model_dir, progress) if rank == 0 else None
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            cached = _download(filename, model_dir, progress)
    return safe_torch_load(_unpack_legacy_zip(cached), map_location=map_location,
                           name=f'{filename} (cached as {cached})')


def load_from_torchvision(filename: str, map_location: Any = None) -> Any:
    """torchvision:// (and the deprecated modelzoo://) - torchvision's URL of the model, through the http loader."""
    from mmengine.runner.checkpoint import get_torchvision_models
    name = filename.split('://', 1)[1]
    urls = get_torchvision_models()
    if name not in urls:
        raise KeyError(f'{filename}: torchvision has no weights named {name!r}')
    return load_from_http(urls[name], map_location=map_location)


def load_from_openmmlab(filename: str, map_location: Any = None) -> Any:
    """open-mmlab:// and openmmlab:// - mmengine's table of OpenMMLab models (and ``$MMENGINE_HOME/open_mmlab.json``):
    a URL goes through the http loader, a relative path is a file under mmengine's home."""
    from mmengine.runner.checkpoint import _get_mmengine_home, get_deprecated_model_names, get_external_models
    prefix, name = filename.split('://', 1)
    deprecated = get_deprecated_model_names()
    if name in deprecated:
        logging.getLogger('geospatial_mm').warning('%s://%s is deprecated in favor of %s://%s', prefix, name, prefix,
                                                   deprecated[name])
        name = deprecated[name]
    urls = get_external_models()
    if name not in urls:
        raise KeyError(f'{filename}: mmengine knows no OpenMMLab model named {name!r}')
    url = urls[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location=map_location)
    path = osp.join(_get_mmengine_home(), url)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    return safe_torch_load(path, map_location=map_location, name=f'{filename} ({path})')


def load_from_mmcls(filename: str, map_location: Any = None) -> Any:
    """mmcls:// - mmengine's table of MMClassification models through the http loader; backbone keys kept."""
    from mmengine.runner.checkpoint import _process_mmcls_checkpoint, get_mmcls_models
    name = filename[len('mmcls://'):]
    urls = get_mmcls_models()
    if name not in urls:
        raise KeyError(f'{filename}: mmengine knows no MMClassification model named {name!r}')
    return _process_mmcls_checkpoint(load_from_http(urls[name], map_location=map_location))


def load_from_pavi(filename: str, map_location: Any = None) -> Any:
    """pavi:// - downloaded from pavi's model cloud into a temporary folder, then loaded weights-only."""
    import tempfile
    try:
        from pavi import modelcloud
    except ImportError:
        raise ImportError('Please install pavi to load checkpoint from modelcloud.') from None
    model = modelcloud.get(filename[len('pavi://'):])
    with tempfile.TemporaryDirectory() as tmp_dir:
        downloaded = osp.join(tmp_dir, model.name)
        model.download(downloaded)
        return safe_torch_load(downloaded, map_location=map_location, name=filename)


def load_from_ceph(filename: str, map_location: Any = None, backend: str = 'petrel') -> Any:
    """s3:// and petrel:// - read into memory through mmengine's file backend, then loaded weights-only."""
    from mmengine.fileio import get_file_backend
    file_backend = get_file_backend(filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return safe_torch_load(buffer, map_location=map_location, name=filename)


# every scheme mmengine registers, and its weights-only loader
SAFE_SCHEMES: dict[tuple[str, ...], Callable] = {
    ('',): load_from_local,
    ('http://', 'https://'): load_from_http,
    ('modelzoo://', 'torchvision://'): load_from_torchvision,
    ('open-mmlab://', 'openmmlab://'): load_from_openmmlab,
    ('mmcls://',): load_from_mmcls,
    ('pavi://',): load_from_pavi,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_from_ceph,
}
SAFE_LOADERS = frozenset(SAFE_SCHEMES.values())


def _refusing_loader(prefix: str, loader: Callable) -> Callable:
    def load_from_unknown_scheme(filename: str, map_location: Any = None) -> Any:
        raise UntrustedCheckpointError(
            f'{filename}: refused to load: the loader of the {prefix!r} scheme ({getattr(loader, "__module__", "?")}.'
            f'{getattr(loader, "__qualname__", loader)}) does not go through geospatial_mm\'s weights-only loader, so '
            f'it could execute code stored in the file. If you trust where it comes from, set {TRUST_ENV}=1 or pass '
            '--trust-checkpoint to tools/train.py / tools/test.py / tools/model_inference.py.')
    return load_from_unknown_scheme


@_once
def patch_safe_checkpoint_loading() -> None:
    """Route every checkpoint scheme of mmengine through :func:`safe_torch_load`.

    mmengine 0.11 loads local, pavi, object-store and open-mmlab files with ``torch.load(weights_only=False)``, and
    http(s) - hence torchvision://, open-mmlab:// and mmcls:// URLs - through ``torch.utils.model_zoo.load_url``,
    whose ``weights_only`` defaults to False. Each scheme gets a loader here that downloads and caches as mmengine's
    does (torch's hub cache for URLs) and unpickles weights-only. A scheme that another library registers later with
    a loader of its own is refused, with the same message and the same opt-in as a refused file.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    for prefixes, loader in SAFE_SCHEMES.items():
        CheckpointLoader.register_scheme(prefixes=list(prefixes), loader=loader, force=True)
    find_loader = CheckpointLoader._get_checkpoint_loader.__func__

    def _get_checkpoint_loader(cls, path):
        loader = find_loader(cls, path)
        if loader is None or loader in SAFE_LOADERS or checkpoints_trusted():
            return loader
        prefix = next((p for p, f in cls._schemes.items() if f is loader), '?')
        return _refusing_loader(prefix, loader)

    CheckpointLoader._get_checkpoint_loader = classmethod(_get_checkpoint_loader)


# --------------------------------------------------------------------------------------------------------------------
# --resume without a usable last_checkpoint
# --------------------------------------------------------------------------------------------------------------------
_NUMBERED_CHECKPOINT = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def checkpoint_complete(path: str) -> bool:
    """Whether ``path`` is a whole checkpoint file: torch saves a zip archive whose directory is written last, so a
    file cut short by a kill has none."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith('data.pkl') for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def find_resumable_checkpoint(work_dir: str) -> str | None:
    """The checkpoint that ``--resume`` (without a file) continues from.

    mmengine reads only the work dir's ``last_checkpoint`` file, and without it (a kill between writing the
    checkpoint and that file, a copied work dir) starts training over from the first iteration. Here: the file named
    by ``last_checkpoint`` when it is complete, else the newest complete ``iter_N.pth`` / ``epoch_N.pth`` of the work
    dir (said in the log). Checkpoints that are all incomplete are an error; a work dir without any checkpoint starts
    from the beginning, with a warning.
    """
    from mmengine.logging import print_log
    record = osp.join(work_dir, 'last_checkpoint')
    recorded = None
    if osp.isfile(record):
        with open(record) as f:
            recorded = f.read().strip() or None
        if recorded and checkpoint_complete(recorded):
            return recorded
    numbered = []
    if osp.isdir(work_dir):
        for name in os.listdir(work_dir):
            match = _NUMBERED_CHECKPOINT.match(name)
            if match:
                path = osp.join(work_dir, name)
                numbered.append((int(match.group(2)), os.path.getmtime(path), path))
    for _, _, path in sorted(numbered, reverse=True):
        if checkpoint_complete(path):
            why = (f'{record} names {recorded}, which is missing or incomplete' if recorded else
                   f'{work_dir} has no last_checkpoint file')
            print_log(f'--resume: {why}; resuming from the newest complete checkpoint {path}', logger='current',
                      level=logging.WARNING)
            return path
    if numbered or recorded:
        found = [p for _, _, p in sorted(numbered, reverse=True)] or [recorded]
        raise RuntimeError(f'{work_dir}: --resume found no complete checkpoint to continue from (incomplete or '
                           f'missing: {", ".join(found[:5])}). Give one with --resume CKPT, or remove them to start '
                           'over.')
    print_log(f'--resume: {work_dir} holds no checkpoint yet; training starts from the beginning', logger='current',
              level=logging.WARNING)
    return None


@_once
def patch_resume_latest_checkpoint() -> None:
    """Make mmengine's auto-resume (``resume=True`` without ``load_from``) use :func:`find_resumable_checkpoint`."""
    import mmengine.runner.checkpoint as checkpoint_module
    import mmengine.runner.runner as runner_module
    runner_module.find_latest_checkpoint = find_resumable_checkpoint
    checkpoint_module.find_latest_checkpoint = find_resumable_checkpoint


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


# --------------------------------------------------------------------------------------------------------------------
# Running code right after a module is imported
# --------------------------------------------------------------------------------------------------------------------
class _AfterImportLoader(importlib.abc.Loader):
    def __init__(self, loader, callbacks: list) -> None:
        self.loader = loader
        self.callbacks = callbacks

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        for callback in self.callbacks:
            callback(module)


class _AfterImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader that the other finders give for a watched module."""

    def __init__(self) -> None:
        self.callbacks: dict[str, list] = {}

    def find_spec(self, fullname, path=None, target=None):
        callbacks = self.callbacks.pop(fullname, None)
        if callbacks is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, 'exec_module'):
                    spec.loader = _AfterImportLoader(spec.loader, callbacks)
                return spec
        return None


_AFTER_IMPORT = _AfterImportFinder()


def after_import(name: str, callback: Callable[[Any], None]) -> None:
    """Call ``callback(module)`` once module ``name`` has been executed: now if it already is, else right after its
    import (before anything that imports it sees it)."""
    if name in sys.modules:
        callback(sys.modules[name])
        return
    if _AFTER_IMPORT not in sys.meta_path:
        sys.meta_path.insert(0, _AFTER_IMPORT)
    _AFTER_IMPORT.callbacks.setdefault(name, []).append(callback)


# --------------------------------------------------------------------------------------------------------------------
# mmpretrain beside a transformers it cannot use
# --------------------------------------------------------------------------------------------------------------------
# mmpretrain modules that import transformers at their top when WITH_MULTIMODAL is set
_MMPRETRAIN_TRANSFORMERS_USERS = ('models/multimodal', 'models/utils/huggingface.py', 'models/utils/tokenizer.py')


def _transformers_imports(package_dir: str) -> set[tuple[str, str | None]]:
    """``(module, name)`` for every top-level ``from transformers... import name`` (``name`` None for ``import
    transformers...``) of mmpretrain's multi-modal code, read from its source."""
    import ast
    found: set[tuple[str, str | None]] = set()
    files = []
    for part in _MMPRETRAIN_TRANSFORMERS_USERS:
        path = osp.join(package_dir, part)
        if osp.isdir(path):
            files += [osp.join(root, f) for root, _, names in os.walk(path) for f in names if f.endswith('.py')]
        elif osp.isfile(path):
            files.append(path)
    for path in files:
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), path)
        statements = list(tree.body)
        while statements:  # module level, including the bodies of module-level try/if blocks
            node = statements.pop()
            if isinstance(node, (ast.Try, ast.If)):
                statements += node.body + getattr(node, 'orelse', []) + [
                    s for handler in getattr(node, 'handlers', []) for s in handler.body]
            elif isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[0] == 'transformers' \
                    and not node.level:
                found.update((node.module, alias.name) for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update((alias.name, None) for alias in node.names if alias.name.split('.')[0] == 'transformers')
    return found


def transformers_problem(package_dir: str) -> str | None:
    """What mmpretrain's multi-modal code needs from the installed transformers and does not find, or None."""
    import importlib
    for module_name, name in sorted(_transformers_imports(package_dir), key=lambda t: (t[0], t[1] or '')):
        try:
            module = importlib.import_module(module_name)
            if name is not None and not hasattr(module, name):
                importlib.import_module(f'{module_name}.{name}')  # a sub-module imported by name
        except Exception as exc:  # any failure means mmpretrain's import of it would fail too
            what = f'{module_name}.{name}' if name else module_name
            return f'{what} ({type(exc).__name__}: {exc})'
    return None


def _disable_unusable_multimodal(dependency) -> None:
    if not getattr(dependency, 'WITH_MULTIMODAL', False):
        return
    problem = transformers_problem(osp.dirname(osp.dirname(dependency.__file__)))
    if problem is None:
        return
    dependency.WITH_MULTIMODAL = False
    from importlib.metadata import version
    logging.getLogger('geospatial_mm').warning(
        'transformers %s lacks what mmpretrain 1.2.0\'s multi-modal models import (%s): those models (BLIP, CLIP, '
        'OFA, ...) are left out so that mmpretrain imports', version('transformers'), problem)


@_once
def patch_mmpretrain_transformers() -> None:
    """mmpretrain 1.2.0 only checks that transformers >= 4.28 is installed before importing its multi-modal models,
    whose imports from transformers newer releases no longer provide (``import mmpretrain`` then fails with
    ``TypeError: NoneType takes no arguments``). Right after ``mmpretrain.utils.dependency`` is imported, those
    imports are tried; when one fails, mmpretrain is told that the multi-modal dependencies are missing, so it
    registers placeholders for those models, as it does without transformers."""
    after_import('mmpretrain.utils.dependency', _disable_unusable_multimodal)


def apply_all() -> None:
    """Apply every shim (idempotent)."""
    patch_cpu_distributed()
    patch_safe_checkpoint_loading()
    patch_resume_latest_checkpoint()
    patch_mmpretrain_transformers()
    patch_mmseg_focal_loss_cpu()
