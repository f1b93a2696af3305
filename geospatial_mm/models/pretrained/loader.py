"""The one strict loader of pretrained weights: every key of the module must be in the checkpoint, with its shape,
and nothing else - unless allowed by a pattern - or the error names the file and the keys.

A checkpoint is read from a local file or a URL through mmengine's checkpoint loaders (which geospatial_mm makes
load weights only, see :mod:`geospatial_mm.compat.checkpoints`); nothing is downloaded for a local path. Then, in
this order: the ``prefix`` part is taken (``backbone.`` of a whole model), the backbone's state-dict filter turns
its published layout into the module's keys (:mod:`.filters`), and the input convolution is adapted to the task's
bands (:func:`~.input_conv.adapt_input_conv`).
"""
from __future__ import annotations

import fnmatch
import os
from typing import Any, Mapping, Sequence, TypedDict

import torch

from geospatial_mm.errors import GeospatialMMError
from .filters import FILTERS
from .input_conv import InputBandsError, adapt_input_conv


class PretrainedMismatchError(GeospatialMMError, RuntimeError):
    """The checkpoint does not fit the module; the message names the file and what does not match."""


def matches(key: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def read_state_dict(checkpoint: str) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file or URL (under ``state_dict``, ``model`` or ``module`` when it has one)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    path = os.fspath(checkpoint)
    if '://' not in path and not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: pretrained checkpoint not found')
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu', logger='silent')
    if isinstance(ckpt, Mapping):
        for key in ('state_dict', 'model', 'module'):
            if key in ckpt and isinstance(ckpt[key], Mapping):
                ckpt = ckpt[key]
                break
    if not isinstance(ckpt, Mapping) or not ckpt or not all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise PretrainedMismatchError(f'{path}: expected a state dict of tensors (or a checkpoint holding one under '
                                      f'"state_dict"/"model"), found {type(ckpt).__name__}')
    return dict(ckpt)


class LoadReport(TypedDict):
    """What :func:`load_pretrained` loaded."""
    path: str
    format: str  # 'state dict', or the layout the backbone's filter recognised
    loaded: int  # tensors loaded
    dropped: list[str]  # keys of other parts that the filter dropped
    missing: list[str]  # the module's keys the checkpoint lacks (allowed)
    unexpected: list[str]  # the checkpoint's keys the module lacks (allowed)


def load_pretrained(module: torch.nn.Module, checkpoint: str, prefix: str | None = None, filter: str | None = None,
                    input_conv: dict[str, Any] | None = None, allow_missing: Sequence[str] = (),
                    allow_unexpected: Sequence[str] = ()) -> LoadReport:
    """Load ``checkpoint`` into ``module`` strictly.

    Args:
        module: the module that receives the weights.
        checkpoint: the checkpoint file.
        prefix: take the keys under this prefix (``'backbone.'``), without it.
        filter: the name of the backbone's state-dict filter (:data:`.filters.FILTERS`): ``'prithvi'``,
            ``'resnet'``; None: the keys are the module's.
        input_conv: ``dict(key=..., bands=..., extend=..., option=...)``: the input convolution's key and how to
            adapt it (:func:`~.input_conv.adapt_input_conv`); None: loaded as it is.
        allow_missing: fnmatch patterns of keys the module may lack in the checkpoint.
        allow_unexpected: fnmatch patterns of keys the checkpoint may hold beyond the module.

    Returns:
        What was loaded, dropped and left out.

    Raises:
        PretrainedMismatchError: the weights do not fit the module (every missing, unexpected or misshapen key is
            named), or no key has the prefix.
        ValueError: ``filter`` is not a known filter.
    """
    path = os.fspath(checkpoint)
    state, where = _under_prefix(read_state_dict(path), prefix, path)
    kind, dropped = 'state dict', []
    if filter is not None:
        state, kind, dropped = _filtered(state, module, filter, path)
    own = module.state_dict()
    adapted = _adapt_input_conv(state, own, input_conv, path) if input_conv else None
    _check_keys(state, own, allow_missing, allow_unexpected, f'{path}: the weights{where} do not match '
                f'{type(module).__name__}')
    loadable = {k: v for k, v in state.items() if k in own}
    result = module.load_state_dict(loadable, strict=False)
    left_out = sorted(set(state) - set(own))
    _log_load(module, path, prefix, len(loadable), kind if filter is not None else None, adapted, dropped,
              list(result.missing_keys), left_out)
    return LoadReport(path=path, format=kind, loaded=len(loadable), dropped=dropped,
                      missing=list(result.missing_keys), unexpected=left_out)


def _under_prefix(state: dict[str, torch.Tensor], prefix: str | None,
                  path: str) -> tuple[dict[str, torch.Tensor], str]:
    """The keys under ``prefix``, without it, and how the error messages say where they came from."""
    if not prefix:
        return state, ''
    prefix = prefix if prefix.endswith('.') else prefix + '.'
    kept = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not kept:
        raise PretrainedMismatchError(f'{path}: no key starts with {prefix!r}; the checkpoint holds '
                                      f'{sorted({k.split(".")[0] for k in state})}')
    return kept, f' under {prefix!r}'


def _filtered(state: dict[str, torch.Tensor], module: torch.nn.Module, filter: str,
              path: str) -> tuple[dict[str, torch.Tensor], str, list[str]]:
    """The backbone's state-dict filter applied: the module's keys, the layout it recognised, the keys dropped."""
    if filter not in FILTERS:
        raise ValueError(f'unknown state-dict filter {filter!r}; expected one of {sorted(FILTERS)}')
    try:
        return FILTERS[filter](state, module)
    except ValueError as exc:
        raise PretrainedMismatchError(f'{path}: {exc}') from None


def _adapt_input_conv(state: dict[str, torch.Tensor], own: Mapping[str, torch.Tensor], input_conv: dict[str, Any],
                      path: str) -> tuple[int, int] | None:
    """Adapt the input convolution's weight in ``state`` to the module's bands (in place); returns the bands before
    and after, or None when the checkpoint has no such key."""
    key = input_conv.get('key')
    if key not in state:
        return None
    weight = state[key]
    expected = own[key].shape
    if weight.ndim != len(expected) or weight.shape[0] != expected[0] or weight.shape[2:] != expected[2:]:
        raise PretrainedMismatchError(f'{path}: {key} {tuple(weight.shape)} does not fit the model\'s '
                                      f'{tuple(expected)}: {input_conv.get("mismatch", "a different backbone")}')
    try:
        state[key] = adapt_input_conv(weight, expected[1], input_conv.get('bands'),
                                      extend=input_conv.get('extend', True), option=input_conv.get('option', 'bands'))
    except InputBandsError as exc:
        raise PretrainedMismatchError(f'{path}: {exc}') from None
    return weight.shape[1], expected[1]


def _check_keys(state: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor], allow_missing: Sequence[str],
                allow_unexpected: Sequence[str], what: str) -> None:
    """Every key of the module in the checkpoint and the reverse, with the same shapes, unless allowed."""
    missing = sorted(k for k in set(own) - set(state) if not matches(k, allow_missing))
    unexpected = sorted(k for k in set(state) - set(own) if not matches(k, allow_unexpected))
    shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}' for k in sorted(set(own) & set(state))
              if tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or shapes):
        return
    problems = []
    for kind, keys in (('missing in the checkpoint', missing), ('unexpected', unexpected),
                       ('of another shape (checkpoint vs model)', shapes)):
        if keys:
            problems.append(f'{len(keys)} {kind}: {", ".join(keys[:8])}{" ..." if len(keys) > 8 else ""}')
    raise PretrainedMismatchError(f'{what}: ' + '; '.join(problems) + ' (where that is intended, allow the keys with '
                                  'allow_missing_keys / allow_unexpected_keys, fnmatch patterns)')


def _log_load(module: torch.nn.Module, path: str, prefix: str | None, loaded: int, layout: str | None,
              adapted: tuple[int, int] | None, dropped: list[str], missing: list[str], left_out: list[str]) -> None:
    """One line in the run's log: what was loaded, how, and what was allowed out."""
    from mmengine.logging import print_log
    notes = ([f'{layout} layout'] if layout is not None else []) + \
        ([f'input convolution adapted from {adapted[0]} to {adapted[1]} bands'] if adapted else []) + \
        ([f'{len(dropped)} keys of other parts dropped'] if dropped else [])
    matched = ('every key matched' if not missing and not left_out else
               f'allowed and left out: missing {missing or "none"}, unexpected {left_out or "none"}')
    print_log(f'loaded {loaded} tensors{f" of {prefix}" if prefix else ""} from {path} into '
              f'{type(module).__name__}' + (f' ({"; ".join(notes)})' if notes else '') + f': {matched}',
              logger='current')
