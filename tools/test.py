#!/usr/bin/env python
"""Evaluate a checkpoint of any geospatial_mm config with the library its default_scope names.

    python tools/test.py configs/burn_scars.py work_dirs/burn_scars/best.pth --eval mIoU mFscore
    mim test geospatial_mm configs/burn_scars.py --checkpoint best.pth --eval mIoU

``--eval`` replaces the metrics of the config's test_evaluator (keeping its dataset settings); without it the
config's own test_evaluator is used. The metrics are printed as one JSON line and, with --metrics-out, written to a
JSON file with every class's values as well (IoU.<class>, Acc.<class>, ... for segmentation at full precision; the
classwise results of mmdet's CocoMetric and mmpretrain's label metrics).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout

from geospatial_mm.engine.launch import add_common_args, build_runner, run_config  # noqa: E402
from geospatial_mm.evaluation import evaluator_from_names, name_classwise, per_class_evaluator  # noqa: E402
from geospatial_mm.inference.precision import choose_precision  # noqa: E402
from geospatial_mm.io.atomic import write_json_atomic  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a geospatial_mm checkpoint')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--eval', nargs='+', metavar='METRIC',
                        help='metrics: mIoU mDice mFscore AA (segmentation), bbox segm (detection), accuracy top5 '
                        'precision recall f1-score mAP multilabel-* (classification), and those of the package\'s '
                        'tasks')
    parser.add_argument('--metrics-out', help='also write the metrics to this JSON file')
    parser.add_argument('--precision', choices=['auto', 'fp32', 'bf16', 'fp16'], default='fp32',
                        help='fp32 (default: metrics do not depend on the machine), auto (bf16 autocast where the CPU '
                        'or GPU computes it natively, else fp32), or autocast in bf16 / fp16')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = run_config(args)
    if not os.path.isfile(args.checkpoint):
        raise FileNotFoundError(f'{args.checkpoint}: checkpoint file not found')
    cfg.load_from = args.checkpoint
    if args.eval:
        cfg.test_evaluator = evaluator_from_names(cfg, args.eval)
    if args.metrics_out:  # every class's values too
        cfg.test_evaluator = per_class_evaluator(cfg.test_evaluator)
    runner = build_runner(cfg)
    import torch  # after run_config, which sets the environment the stack reads when imported

    from geospatial_mm.inference.autocast import autocast
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    precision = choose_precision(args.precision, device)
    runner.logger.info(f'testing in {precision.name} ({precision.reason})')
    with autocast(device, precision.name):
        metrics = runner.test()
    if args.metrics_out:  # mmpretrain's per-class lists, by class name
        metrics = name_classwise(metrics, runner.test_dataloader.dataset.metainfo.get('classes'))
    from mmengine.dist import is_main_process
    if is_main_process():
        print('geospatial_mm test metrics: ' + json.dumps(metrics, default=float), flush=True)
        if args.metrics_out:
            write_json_atomic(args.metrics_out, metrics)


if __name__ == '__main__':
    main()
