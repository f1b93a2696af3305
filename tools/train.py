#!/usr/bin/env python
"""Train any config of geospatial_mm with the library its default_scope names (mmseg, mmdet or mmpretrain).

    python tools/train.py configs/burn_scars.py [--work-dir DIR] [--resume [CKPT]] [--amp] [--cfg-options k=v ...]
    mim train geospatial_mm configs/burn_scars.py --launcher pytorch --gpus 8
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout

from geospatial_mm.engine.launch import add_common_args, build_runner, run_config  # noqa: E402
from geospatial_mm.inference.memory import keep_freed_memory  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a geospatial_mm config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from CKPT, or from the latest checkpoint of the work dir when CKPT is omitted')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision: fp16 with loss scaling on a GPU (mmengine\'s '
                        'AmpOptimWrapper), bfloat16 autocast on a CPU (CPUAutocastOptimWrapper)')
    add_common_args(parser)
    return parser.parse_args(argv)


def use_amp(cfg) -> None:
    """Mixed precision for the config's optimizer wrapper: mmengine's AmpOptimWrapper (fp16, dynamic loss scaling)
    where a GPU is, else bfloat16 autocast on the CPU."""
    import torch
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper not in ('OptimWrapper', 'AmpOptimWrapper', 'CPUAutocastOptimWrapper'):
        raise ValueError(f'--amp needs an OptimWrapper, the config uses {wrapper}')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        cfg.optim_wrapper.type = 'CPUAutocastOptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
        cfg.optim_wrapper.setdefault('dtype', 'bfloat16')


def main(argv=None):
    args = parse_args(argv)
    cfg = run_config(args)
    if args.amp:
        use_amp(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    import torch  # after run_config, which sets the environment the stack reads when imported
    if not torch.cuda.is_available():
        # on the CPU every iteration allocates and frees the same large activations: keep them resident instead of
        # faulting them in again (about 55,000 minor faults per iteration of the tiny Prithvi, docs/benchmarks.md)
        keep_freed_memory()
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
