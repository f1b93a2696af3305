#!/usr/bin/env python
"""Pixel counts per class of a config's training labels, and class weights from inverse class frequency.

    python tools/class_weights.py configs/xview2_siamese_unet.py --out data/xBD/class_stats.json \\
        --label-keys seg_map_path loc_seg_map_path \\
        --assign seg_map_path=model.decode_head.loss_decode.alpha loc_seg_map_path=model.decode_head.loss_loc.alpha

Builds the dataset of the config's --dataloader (default train_dataloader; --cfg-options apply), reads every label
named by each --label-keys path key once and writes, atomically, a JSON file with, per key: the pixel count of each
class, its frequency, the weights ``(1 / frequency) ** power`` normalised to sum to 1 (a class without pixels gets
0) — the per-class ``alpha`` of a focal loss — and the counts of every sample (by sample id), which
``RareClassWeightedSampler(stats_file=...)`` reads instead of scanning the labels again.

The number of classes of ``seg_map_path`` is the length of the dataset's classes; for other keys give
``--num-classes KEY=N`` or it is the largest value found + 1. Pixels equal to --ignore-index are not counted.
``--assign KEY=CONFIG_KEY`` prints (and stores under ``cfg_options``) the ``--cfg-options`` that put the weights into
the config; when the dataloader's sampler is a RareClassWeightedSampler its ``stats_file`` option is added.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout

from geospatial_mm.datasets.class_stats import class_statistics, dataset_of_config  # noqa: E402
from geospatial_mm.engine.launch import LazyDictAction  # noqa: E402
from geospatial_mm.io.atomic import write_json_atomic  # noqa: E402


def _pairs(values: list[str] | None, what: str, convert=str) -> dict:
    out = {}
    for item in values or []:
        key, sep, value = item.partition('=')
        if not sep or not key or not value:
            raise ValueError(f'{what}: expected KEY=VALUE, got {item!r}')
        out[key] = convert(value)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('--out', required=True, help='JSON file to write')
    parser.add_argument('--dataloader', default='train_dataloader', help='whose dataset (default train_dataloader)')
    parser.add_argument('--label-keys', nargs='+', default=['seg_map_path'],
                        help='path keys of the labels to count (default seg_map_path)')
    parser.add_argument('--num-classes', nargs='+', metavar='KEY=N', help='classes of a label key')
    parser.add_argument('--ignore-index', type=int, default=255)
    parser.add_argument('--power', type=float, default=1.0, help='weights = (1 / frequency) ** power (default 1)')
    parser.add_argument('--assign', nargs='+', metavar='KEY=CONFIG_KEY',
                        help='config entries that take the weights of a label key')
    parser.add_argument('--workers', type=int, default=1, help='processes reading labels (default 1)')
    parser.add_argument('--cfg-options', nargs='+', action=LazyDictAction, default={},
                        help='override config entries, as for tools/train.py')
    args = parser.parse_args(argv)
    try:
        num_classes = _pairs(args.num_classes, '--num-classes', int)
        assign = _pairs(args.assign, '--assign')
        unknown = sorted(set(assign) - set(args.label_keys))
        if unknown:
            raise ValueError(f'--assign names label keys {unknown} that are not in --label-keys {args.label_keys}')
        dataset, loader = dataset_of_config(args.config, args.dataloader, args.cfg_options)
        labels = class_statistics(dataset, args.label_keys, num_classes, args.ignore_index, args.power,
                                  max(1, args.workers))
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    out = os.path.abspath(args.out)
    cfg_options = [f'{target}={labels[key]["weights"]}'.replace(' ', '') for key, target in assign.items()]
    sampler = loader.get('sampler') or {}
    if sampler.get('type') == 'RareClassWeightedSampler':
        cfg_options.append(f'{args.dataloader}.sampler.stats_file={out}')
    stats = dict(config=os.path.abspath(args.config), dataloader=args.dataloader, samples=len(dataset),
                 ignore_index=args.ignore_index, power=args.power, labels=labels, cfg_options=cfg_options)
    write_json_atomic(out, stats)
    for key, section in labels.items():
        print(f'{key}: {section["num_classes"]} classes, pixel counts {section["pixel_counts"]}, weights '
              f'{[round(w, 6) for w in section["weights"]]}')
    print(f'written {out}')
    if cfg_options:
        print('--cfg-options ' + ' '.join(cfg_options))
    return 0


if __name__ == '__main__':
    sys.exit(main())
