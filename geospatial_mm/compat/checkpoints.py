"""Checkpoints without executing pickled code.

mmengine 0.11 loads checkpoints with ``torch.load(weights_only=False)`` (local, pavi, object-store and open-mmlab
files) or through ``torch.utils.model_zoo.load_url``, whose ``weights_only`` also defaults to False (http(s), and so
torchvision://, modelzoo://, open-mmlab:// and mmcls:// URLs); either executes arbitrary pickled code. Every scheme is
re-registered with a loader that downloads and caches as before and unpickles with ``weights_only=True`` and an
allow-list of exactly the globals that mmengine checkpoints contain; a checkpoint that needs anything else, and a
scheme registered later with a loader of its own, are refused with a message that says how to trust it
(``GEOSPATIAL_MM_TRUST_CHECKPOINTS=1`` or ``--trust-checkpoint``).
"""
from __future__ import annotations

import io
import logging
import os
import os.path as osp
import pickle
import sys
import tempfile
import zipfile
from typing import Any, Callable
from urllib.parse import urlparse

import numpy as np
import torch
from torch.hub import download_url_to_file, get_dir

from geospatial_mm.compat.trust import UntrustedFileError, files_trusted, refusal


class UntrustedCheckpointError(UntrustedFileError):
    """A checkpoint needs globals outside the allow-list to be unpickled."""


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while unpickling: a HistoryBuffer pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``; any other use of getattr could reach arbitrary code and is refused."""
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


def safe_torch_load(source: Any, map_location: Any = None, name: str | None = None) -> Any:
    """``torch.load`` that never runs pickled code unless checkpoints are explicitly trusted.

    Args:
        source: a path or a binary file-like object.
        map_location: as for :func:`torch.load`.
        name: how to call the checkpoint in messages (defaults to the path).
    """
    name = name or (str(source) if isinstance(source, (str, os.PathLike)) else '<checkpoint buffer>')
    if files_trusted():
        return torch.load(source, map_location=map_location, weights_only=False)
    allow = checkpoint_allowlist()
    try:
        with torch.serialization.safe_globals(allow):
            return torch.load(source, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError (and sometimes others) for forbidden globals
        if not _is_weights_only_refusal(exc):
            raise
        unsafe = _unsafe_globals(source)
        raise UntrustedCheckpointError(refusal(
            name, f'unpickling it would need globals outside the checkpoint allow-list '
            f'({", ".join(unsafe) if unsafe else exc})')) from None


def _is_weights_only_refusal(exc: Exception) -> bool:
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
    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        sys.stderr.write(f'Downloading: "{url}" to {cached}\n')
        download_url_to_file(url, cached, None, progress=progress)
    return cached


def _unpack_legacy_zip(path: str) -> str:
    """A checkpoint zipped by hand around one torch < 1.6 file (as torch.hub still accepts) -> the extracted file."""
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
        raise UntrustedCheckpointError(refusal(
            filename, f'the loader of the {prefix!r} scheme ({getattr(loader, "__module__", "?")}.'
            f'{getattr(loader, "__qualname__", loader)}) does not go through geospatial_mm\'s weights-only loader'))
    return load_from_unknown_scheme


def patch_checkpoint_loader(checkpoint_module) -> None:
    """Route every checkpoint scheme of mmengine through :func:`safe_torch_load`.

    mmengine 0.11 loads local, pavi, object-store and open-mmlab files with ``torch.load(weights_only=False)``, and
    http(s) - hence torchvision://, open-mmlab:// and mmcls:// URLs - through ``torch.utils.model_zoo.load_url``,
    whose ``weights_only`` defaults to False. Each scheme gets a loader here that downloads and caches as mmengine's
    does (torch's hub cache for URLs) and unpickles weights-only. A scheme that another library registers later with
    a loader of its own is refused, with the same message and the same opt-in as a refused file.
    """
    CheckpointLoader = checkpoint_module.CheckpointLoader
    for prefixes, loader in SAFE_SCHEMES.items():
        CheckpointLoader.register_scheme(prefixes=list(prefixes), loader=loader, force=True)
    find_loader = CheckpointLoader._get_checkpoint_loader.__func__

    def _get_checkpoint_loader(cls, path):
        loader = find_loader(cls, path)
        if loader is None or loader in SAFE_LOADERS or files_trusted():
            return loader
        prefix = next((p for p, f in cls._schemes.items() if f is loader), '?')
        return _refusing_loader(prefix, loader)

    CheckpointLoader._get_checkpoint_loader = classmethod(_get_checkpoint_loader)
