"""Loading Prithvi weights from a local file, strictly and loudly.

Recognised files (see ../shared reference: the official key layouts):

* Prithvi-100M v1 (``Prithvi_100M.pt``): encoder keys at the top level, MAE decoder keys (``mask_token``,
  ``decoder_*``) beside them;
* Prithvi-EO-2.0: ``encoder.``/``decoder.`` prefixes;
* a fine-tuned MMSegmentation checkpoint (``state_dict`` with ``backbone.``, ``neck.``, ``decode_head.`` keys):
  its backbone is loaded, the rest ignored (and said so).

The decoder is dropped, the fixed position embedding is not loaded (it is recomputed for every input), the patch
embedding is cut to the task's bands (``band_indices``: for each input band, the checkpoint band it is), and every
key that is still missing or left over is reported; that is an error unless it matches ``allow_missing`` /
``allow_unexpected`` (fnmatch patterns).
"""
from __future__ import annotations

import fnmatch
import os
from typing import Mapping, Sequence

import torch
from mmengine.logging import print_log

from geospatial_mm.compat import safe_torch_load

MAE_DECODER_PREFIXES = ('mask_token', 'decoder_embed.', 'decoder_pos_embed', 'decoder_blocks.', 'decoder_norm.',
                        'decoder_pred.')
MMSEG_OTHER_PREFIXES = ('neck.', 'decode_head.', 'auxiliary_head.', 'data_preprocessor.')
NOT_LOADED = ('pos_embed',)  # fixed sin-cos, recomputed


class PretrainedMismatchError(RuntimeError):
    """The checkpoint does not fit the backbone; the message lists what does not match."""


def _state_dict(ckpt, path: str) -> Mapping[str, torch.Tensor]:
    if isinstance(ckpt, Mapping):
        for key in ('state_dict', 'model', 'module'):
            if key in ckpt and isinstance(ckpt[key], Mapping):
                ckpt = ckpt[key]
                break
    if not isinstance(ckpt, Mapping) or not ckpt or not all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise PretrainedMismatchError(f'{path}: expected a state dict of tensors (or a checkpoint holding one under '
                                      f'"state_dict"/"model"), found {type(ckpt).__name__}')
    return ckpt


def convert_prithvi_state_dict(sd: Mapping[str, torch.Tensor], path: str) -> tuple[dict, str, list[str]]:
    """Official or mmseg keys -> the keys of :class:`PrithviViT`. Returns (state dict, format name, dropped keys)."""
    keys = list(sd)
    if any(k.startswith('backbone.') for k in keys):
        kind, out, dropped = 'mmseg', {}, []
        for k, v in sd.items():
            if k.startswith('backbone.'):
                out[k[len('backbone.'):]] = v
            else:
                dropped.append(k)
        return out, kind, dropped
    if any(k.startswith(MMSEG_OTHER_PREFIXES) for k in keys):
        raise PretrainedMismatchError(f'{path}: an MMSegmentation checkpoint without backbone weights (keys start '
                                      f'with {sorted({k.split(".")[0] for k in keys})}); nothing to load')
    if any(k.startswith('encoder.') for k in keys):
        out = {k[len('encoder.'):]: v for k, v in sd.items() if k.startswith('encoder.')}
        dropped = [k for k in keys if not k.startswith('encoder.')]
        return out, 'Prithvi-EO-2.0', dropped
    if 'patch_embed.proj.weight' in sd:
        out = {k: v for k, v in sd.items() if not k.startswith(MAE_DECODER_PREFIXES)}
        dropped = [k for k in keys if k.startswith(MAE_DECODER_PREFIXES)]
        return out, 'Prithvi v1', dropped
    raise PretrainedMismatchError(f'{path}: not a Prithvi checkpoint: no patch_embed.proj.weight, no encoder. or '
                                  f'backbone. keys (first keys: {keys[:5]})')


def _match(key: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def load_prithvi_weights(model: torch.nn.Module, path: str, band_indices: Sequence[int] | None = None,
                         allow_missing: Sequence[str] = (), allow_unexpected: Sequence[str] = ()) -> dict:
    """Load ``path`` into a :class:`PrithviViT` and return a report (format, loaded/dropped/missing keys)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: pretrained Prithvi checkpoint not found')
    sd = _state_dict(safe_torch_load(path, map_location='cpu'), path)
    sd, kind, dropped = convert_prithvi_state_dict(sd, path)
    not_loaded = [k for k in NOT_LOADED if k in sd]
    for k in not_loaded:
        sd.pop(k)

    weight = sd.get('patch_embed.proj.weight')
    own = model.state_dict()
    if weight is not None:
        expected = own['patch_embed.proj.weight'].shape
        if weight.ndim == 4:  # a 2-D patch embedding: one frame per tubelet
            weight = weight.unsqueeze(2)
        if weight.shape[0] != expected[0] or weight.shape[2:] != expected[2:]:
            raise PretrainedMismatchError(
                f'{path}: patch embedding {tuple(weight.shape)} (embed_dim, bands, tubelet, patch, patch) does not '
                f'fit the backbone\'s {tuple(expected)}: a different Prithvi variant')
        if band_indices is not None:
            bad = [i for i in band_indices if not 0 <= i < weight.shape[1]]
            if bad or len(band_indices) != expected[1]:
                raise PretrainedMismatchError(
                    f'{path}: pretrained_band_indices {list(band_indices)} must give {expected[1]} indices into the '
                    f'checkpoint\'s {weight.shape[1]} bands')
            weight = weight[:, list(band_indices)]
        elif weight.shape[1] != expected[1]:
            raise PretrainedMismatchError(
                f'{path}: the checkpoint was trained on {weight.shape[1]} bands, the backbone takes {expected[1]}; '
                'set pretrained_band_indices to say which checkpoint band each input band is')
        sd['patch_embed.proj.weight'] = weight.contiguous()

    shape_errors = [f'{k}: checkpoint {tuple(v.shape)} vs backbone {tuple(own[k].shape)}'
                    for k, v in sd.items() if k in own and own[k].shape != v.shape]
    if shape_errors:
        raise PretrainedMismatchError(f'{path}: shapes do not match: ' + '; '.join(shape_errors))
    result = model.load_state_dict(sd, strict=False)
    missing = [k for k in result.missing_keys if not _match(k, allow_missing)]
    unexpected = [k for k in result.unexpected_keys if not _match(k, allow_unexpected)]
    report = dict(path=path, format=kind, loaded=len(sd) - len(result.unexpected_keys), dropped=dropped,
                  not_loaded=not_loaded, missing=list(result.missing_keys), unexpected=list(result.unexpected_keys))
    print_log(f'Prithvi weights from {path} ({kind}): loaded {report["loaded"]} tensors; dropped {len(dropped)} keys '
              f'({_summary(dropped)}); recomputed {not_loaded or "nothing"}; missing {result.missing_keys or "none"}; '
              f'unexpected {result.unexpected_keys or "none"}', logger='current')
    if missing or unexpected:
        raise PretrainedMismatchError(
            f'{path}: the checkpoint does not match the backbone: missing keys {missing}, unexpected keys '
            f'{unexpected}. If that is intended, allow them with allow_missing_keys / allow_unexpected_keys '
            '(fnmatch patterns) in the backbone config')
    return report


def _summary(keys: Sequence[str]) -> str:
    heads = sorted({k.split('.')[0] for k in keys})
    return ', '.join(heads) if heads else 'none'
