"""What tools/train.py and tools/test.py share: arguments, config loading and runner construction.

Any config of the package runs with the library its ``default_scope`` names; the runner, hooks, logging and
checkpointing are mmengine's.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp

from geospatial_mm.config import load_config


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=LazyDictAction, default={},
                        help='override config entries, e.g. train_cfg.max_iters=20 model.backbone.depth=18')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank (older)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow checkpoints whose unpickling may execute code (only for files you trust)')


class LazyDictAction(argparse.Action):
    """``key=value`` pairs parsed like mmengine's DictAction (imported lazily so --help stays fast)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from mmengine.config import DictAction
        DictAction(self.option_strings, self.dest)(parser, namespace, values, option_string)


def prepare_environment(args: argparse.Namespace) -> None:
    """Environment that must be set before the stack is imported."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.trust_checkpoint:
        from geospatial_mm.compat import TRUST_ENV
        os.environ[TRUST_ENV] = '1'


def run_config(args: argparse.Namespace):
    """The config of a training or test run: loaded (:func:`geospatial_mm.config.load_config`, after the environment
    the stack reads is set), with the launcher and the work dir of the command line.

    Raises:
        FileNotFoundError: the config file does not exist.
        geospatial_mm.config.ConfigError: the config's default_scope is not one the package runs.
    """
    prepare_environment(args)
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg):
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
