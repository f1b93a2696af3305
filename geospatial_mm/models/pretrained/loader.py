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
from typing import Mapping, Sequence

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


def load_pretrained(module: torch.nn.Module, checkpoint: str, prefix: str | None = None, filter: str | None = None,
                    input_conv: dict | None = None, allow_missing: Sequence[str] = (),
                    allow_unexpected: Sequence[str] = ()) -> dict:
    """Load ``checkpoint`` into ``module`` strictly; returns a report (loaded, dropped, left-out keys).

    Args:
        prefix: take the keys under this prefix (``'backbone.'``), without it.
        filter: the name of the backbone's state-dict filter (:data:`.filters.FILTERS`): ``'prithvi'``,
            ``'resnet'``; None: the keys are the module's.
        input_conv: ``dict(key=..., bands=..., extend=..., option=...)``: the input convolution's key and how to
            adapt it (:func:`~.input_conv.adapt_input_conv`); None: loaded as it is.
        allow_missing, allow_unexpected: fnmatch patterns of keys the module may lack in the checkpoint / the
            checkpoint may hold beyond the module.
    """
    from mmengine.logging import print_log
    path = os.fspath(checkpoint)
    state = read_state_dict(path)
    where = ''
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        kept = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not kept:
            raise PretrainedMismatchError(f'{path}: no key starts with {prefix!r}; the checkpoint holds '
                                          f'{sorted({k.split(".")[0] for k in state})}')
        state, where = kept, f' under {prefix!r}'
    dropped: list[str] = []
    kind = 'state dict'
    if filter is not None:
        if filter not in FILTERS:
            raise ValueError(f'unknown state-dict filter {filter!r}; expected one of {sorted(FILTERS)}')
        try:
            state, kind, dropped = FILTERS[filter](state, module)
        except ValueError as exc:
            raise PretrainedMismatchError(f'{path}: {exc}') from None
    own = module.state_dict()
    adapted = None
    if input_conv and input_conv.get('key') in state:
        key = input_conv['key']
        weight = state[key]
        expected = own[key].shape
        if weight.ndim != len(expected) or weight.shape[0] != expected[0] or weight.shape[2:] != expected[2:]:
            raise PretrainedMismatchError(f'{path}: {key} {tuple(weight.shape)} does not fit the model\'s '
                                          f'{tuple(expected)}: {input_conv.get("mismatch", "a different backbone")}')
        try:
            state[key] = adapt_input_conv(weight, expected[1], input_conv.get('bands'),
                                          extend=input_conv.get('extend', True),
                                          option=input_conv.get('option', 'bands'))
        except InputBandsError as exc:
            raise PretrainedMismatchError(f'{path}: {exc}') from None
        adapted = (weight.shape[1], expected[1])
    missing = sorted(k for k in set(own) - set(state) if not matches(k, allow_missing))
    unexpected = sorted(k for k in set(state) - set(own) if not matches(k, allow_unexpected))
    shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}' for k in sorted(set(own) & set(state))
              if tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        problems = []
        for what, keys in (('missing in the checkpoint', missing), ('unexpected', unexpected),
                           ('of another shape (checkpoint vs model)', shapes)):
            if keys:
                problems.append(f'{len(keys)} {what}: {", ".join(keys[:8])}{" ..." if len(keys) > 8 else ""}')
        raise PretrainedMismatchError(
            f'{path}: the weights{where} do not match {type(module).__name__}: ' + '; '.join(problems) +
            ' (where that is intended, allow the keys with allow_missing_keys / allow_unexpected_keys, fnmatch '
            'patterns)')
    loadable = {k: v for k, v in state.items() if k in own}
    result = module.load_state_dict(loadable, strict=False)
    left_out = sorted(set(state) - set(own))
    notes = ([f'{kind} layout'] if filter is not None else []) + \
        ([f'input convolution adapted from {adapted[0]} to {adapted[1]} bands'] if adapted else []) + \
        ([f'{len(dropped)} keys of other parts dropped'] if dropped else [])
    matched = ('every key matched' if not result.missing_keys and not left_out else
               f'allowed and left out: missing {result.missing_keys or "none"}, unexpected {left_out or "none"}')
    print_log(f'loaded {len(loadable)} tensors{f" of {prefix}" if prefix else ""} from {path} into '
              f'{type(module).__name__}' + (f' ({"; ".join(notes)})' if notes else '') + f': {matched}',
              logger='current')
    return dict(path=path, format=kind, loaded=len(loadable), dropped=dropped, missing=list(result.missing_keys),
                unexpected=left_out)
