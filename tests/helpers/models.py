"""Configs of the tests and checkpoints of their models with random weights, in the layout mmengine saves."""
from __future__ import annotations

import torch

from .commands import ROOT

TINY = ROOT / 'tests' / 'configs' / 'tiny_geotiff_seg.py'
PAIR = ROOT / 'tests' / 'configs' / 'tiny_pair_seg.py'
TINY_DET = ROOT / 'tests' / 'configs' / 'tiny_slumps_mask_rcnn.py'
BURN = ROOT / 'configs' / 'burn_scars.py'
CROP = ROOT / 'configs' / 'multi_temporal_crop_classification.py'
# the burn-scars config with a tiny Prithvi and 32 px windows
TINY_PRITHVI = {'model.backbone.arch': 'tiny', 'model.backbone.pretrained': None, 'model.neck.embed_dim': 64,
                'model.neck.out_channels': 16, 'model.decode_head.in_channels': 16, 'model.decode_head.channels': 8,
                'model.auxiliary_head.in_channels': 16, 'model.auxiliary_head.channels': 8,
                'model.test_cfg.crop_size': (32, 32), 'model.test_cfg.stride': (16, 16)}


def make_checkpoint(config, path, cfg_options=None, seed=0, dataset_meta=None):
    """A checkpoint of the config's model with random weights, in the layout mmengine's runner saves; its
    ``dataset_meta`` is the given one, else the config's classes (or its dataset class's)."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    from geospatial_mm.inference.model import dataset_meta as config_meta
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.default_scope)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    meta = dict(dataset_meta=dataset_meta or config_meta(cfg, None))
    torch.save(dict(meta=meta, state_dict=model.state_dict()), path)
    return path
