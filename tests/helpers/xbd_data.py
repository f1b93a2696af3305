"""Demo xBD data for the tests: the package's xbd demo maker, then the xBD converter's targets and splits, in
process; and the --cfg-options that shrink configs/xview2_siamese_unet.py to a tiny model on that data."""
from __future__ import annotations

from pathlib import Path

from geospatial_mm.converters.xbd_masks import make_splits, make_targets, write_splits
from geospatial_mm.datasets.xbd import XBD_TIERS
from geospatial_mm.demo import xbd as demo_xbd

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'xview2_siamese_unet.py'


def make_xbd(out, size: int = 64, n_train: int = 16, n_val: int = 4, seed: int = 0) -> Path:
    """``out/xBD`` with images, labels, targets and ``splits/{train,val,test}.txt``."""
    root = demo_xbd.make(Path(out), size, n_train, n_val, seed)
    make_targets(root, list(XBD_TIERS))
    write_splits(root / 'splits', make_splits(root, ['tier1'], ['hold'], ['tier3'], ['test'], 0.25, 0))
    return root


# ResNet-18 with 16 base channels (0.9 M parameters in all), whole-image test windows of 64 pixels, no workers
TINY = {'model.backbone.depth': 18, 'model.backbone.base_channels': 16, 'model.backbone.stem_channels': 16,
        'model.decode_head.in_channels': [16, 32, 64, 128], 'model.decode_head.decoder_channels': [32, 16, 16, 8, 8],
        'model.test_cfg.crop_size': (64, 64), 'model.test_cfg.stride': (32, 32)}


def tiny_options(root=None) -> dict:
    opts = dict(TINY)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
        if root is not None:
            opts[f'{loader}.dataset.data_root'] = str(root)
    return opts


def as_cli(options: dict) -> list[str]:
    """``--cfg-options`` arguments of a dict."""
    def text(v):
        return '[' + ','.join(map(str, v)) + ']' if isinstance(v, (list, tuple)) else str(v)
    return [f'{k}={text(v)}' for k, v in options.items()]
