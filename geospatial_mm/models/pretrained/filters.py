"""State-dict filters: a backbone's published checkpoint layouts -> the keys of the package's module (one pure
function per backbone, ``filter(state_dict, module) -> (state_dict, layout name, dropped keys)``; a ValueError says
why a file does not fit).

* ``prithvi`` (:class:`~geospatial_mm.models.backbones.PrithviViT`): Prithvi-100M v1 (``Prithvi_100M.pt``: encoder
  keys at the top level, MAE decoder keys beside them), Prithvi-EO-2.0 (``encoder.``/``decoder.`` prefixes) or a
  fine-tuned mmseg checkpoint (``backbone.`` keys); the decoder is dropped, the fixed sin-cos position embedding is
  recomputed rather than loaded, and a 2-D patch embedding gets its tubelet axis.
* ``resnet`` (ResNets of mmseg, mmdet, mmpretrain and :class:`~geospatial_mm.models.backbones.MultiBandResNet`):
  torchvision's layout as it is, or the ``backbone.`` part of an OpenMMLab detector or classifier; BN step counters,
  which torchvision's files do not keep, start at the module's own value.
"""
from __future__ import annotations

from typing import Callable

import torch

MAE_DECODER_PREFIXES = ('mask_token', 'decoder_embed.', 'decoder_pos_embed', 'decoder_blocks.', 'decoder_norm.',
                        'decoder_pred.')
MMSEG_OTHER_PREFIXES = ('neck.', 'decode_head.', 'auxiliary_head.', 'data_preprocessor.')
DETECTOR_OTHER_PREFIXES = ('neck.', 'rpn_head.', 'roi_head.', 'bbox_head.', 'mask_head.', 'head.',
                           'data_preprocessor.')
PRITHVI_NOT_LOADED = ('pos_embed',)  # fixed sin-cos, recomputed for every input


def _heads(keys) -> list[str]:
    return sorted({k.split('.')[0] for k in keys})


def prithvi(state: dict, module: torch.nn.Module) -> tuple[dict, str, list[str]]:
    keys = list(state)
    if any(k.startswith('backbone.') for k in keys):
        out = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
        kind, dropped = 'mmseg', [k for k in keys if not k.startswith('backbone.')]
    elif any(k.startswith(MMSEG_OTHER_PREFIXES) for k in keys):
        raise ValueError(f'an MMSegmentation checkpoint without backbone weights (keys start with {_heads(keys)}); '
                         'nothing to load')
    elif any(k.startswith('encoder.') for k in keys):
        out = {k[len('encoder.'):]: v for k, v in state.items() if k.startswith('encoder.')}
        kind, dropped = 'Prithvi-EO-2.0', [k for k in keys if not k.startswith('encoder.')]
    elif 'patch_embed.proj.weight' in state:
        out = {k: v for k, v in state.items() if not k.startswith(MAE_DECODER_PREFIXES)}
        kind, dropped = 'Prithvi v1', [k for k in keys if k.startswith(MAE_DECODER_PREFIXES)]
    else:
        raise ValueError(f'not a Prithvi checkpoint: no patch_embed.proj.weight, no encoder. or backbone. keys '
                         f'(first keys: {keys[:5]})')
    for key in PRITHVI_NOT_LOADED:
        out.pop(key, None)
    weight = out.get('patch_embed.proj.weight')
    if weight is not None and weight.ndim == 4:  # a 2-D patch embedding: one frame per tubelet
        out['patch_embed.proj.weight'] = weight.unsqueeze(2)
    return out, kind, dropped


def resnet(state: dict, module: torch.nn.Module) -> tuple[dict, str, list[str]]:
    keys = list(state)
    if any(k.startswith('backbone.') for k in keys):
        out = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
        kind, dropped = 'OpenMMLab backbone', [k for k in keys if not k.startswith('backbone.')]
    elif any(k.startswith(DETECTOR_OTHER_PREFIXES) for k in keys):
        raise ValueError(f'a detector or classifier checkpoint without backbone weights (keys start with '
                         f'{_heads(keys)})')
    else:
        out, kind, dropped = dict(state), 'torchvision', []
    for key, value in module.state_dict().items():
        if key.endswith('num_batches_tracked') and key not in out:
            out[key] = value.clone()
    return out, kind, dropped


FILTERS: dict[str, Callable] = dict(prithvi=prithvi, resnet=resnet)
