"""Demo xBD data for the tests: tools/make_demo_data.py's xbd maker, then tools/xbd_masks.py's targets and splits,
run in-process; and the --cfg-options that shrink configs/xview2_siamese_unet.py to a tiny model on that data."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'xview2_siamese_unet.py'


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_xbd(out, size: int = 64, n_train: int = 16, n_val: int = 4, seed: int = 0) -> Path:
    """``out/xBD`` with images, labels, targets and ``splits/{train,val,test}.txt``."""
    root = load_tool('make_demo_data').xbd(Path(out), size, n_train, n_val, seed)
    masks = load_tool('xbd_masks')
    masks.make_targets(root, list(masks.TIERS))
    masks.write_splits(root / 'splits', masks.make_splits(root, ['tier1'], ['hold'], ['tier3'], ['test'], 0.25, 0))
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
