#!/usr/bin/env python
"""Turn xBD label JSONs into localisation and damage targets, and optionally write train/val/test split files.

    python tools/xbd_masks.py data/xBD                       # every tier found: tier1 tier3 hold test
    python tools/xbd_masks.py data/xBD --tiers tier1 hold --workers 8
    python tools/xbd_masks.py data/xBD --split-dir data/xBD/splits --val-fraction 0.25 --seed 0

For every ``<tier>/labels/<disaster>_<id>_{pre,post}_disaster.json`` it writes
``<tier>/targets/<disaster>_<id>_{pre,post}_disaster_target.png`` (uint8, the image's size):

* pre: localisation, 0 background, 1 building (every building polygon);
* post: damage, 0 background, 1 no-damage, 2 minor-damage, 3 major-damage, 4 destroyed, 255 un-classified
  (ignored in training and scoring).

Polygons are the ``features.xy`` WKT polygons in pixel coordinates; a pixel belongs to a polygon when its centre is
inside it (GDAL's rasterisation), so holes stay background and parts beyond the image border are cut off.
Overlapping polygons are burnt in file order (the later one wins). Invalid polygons (self-intersections) are
repaired with shapely's make_valid and counted. The image size comes from the label's metadata and is checked
against the image when it is there. Targets are written under a temporary name and renamed; existing targets are
kept unless --overwrite. Inputs are only read.

--split-dir writes ``train.txt``, ``val.txt`` and ``test.txt`` of ``<tier>/<disaster>_<id>`` ids (what
``XBDDataset(ann_file=...)`` reads): by default train = tier1 + 75 % of tier3, val = hold + 25 % of tier3 (drawn per
disaster with --seed), test = test — the split of the original project.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout

from geospatial_mm.converters.xbd_masks import LabelError, make_splits, make_targets, write_splits  # noqa: E402
from geospatial_mm.datasets.xbd import XBD_TIERS  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('root', type=Path, help='the xBD folder holding tier1/ tier3/ hold/ test/')
    parser.add_argument('--tiers', nargs='+', choices=XBD_TIERS,
                        help='tiers to make targets for (default: all found)')
    parser.add_argument('--overwrite', action='store_true', help='rewrite targets that exist')
    parser.add_argument('--workers', type=int, default=1, help='processes (default 1)')
    parser.add_argument('--split-dir', type=Path, help='also write train.txt, val.txt, test.txt here')
    parser.add_argument('--train-tiers', nargs='*', choices=XBD_TIERS, help='(default: tier1)')
    parser.add_argument('--val-tiers', nargs='*', choices=XBD_TIERS, help='(default: hold)')
    parser.add_argument('--split-tiers', nargs='*', choices=XBD_TIERS,
                        help='tiers shared between train and val by --val-fraction (default: tier3)')
    parser.add_argument('--test-tiers', nargs='*', choices=XBD_TIERS, help='(default: test)')
    parser.add_argument('--val-fraction', type=float, default=0.25)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f'{args.root}: folder not found')
    tiers = args.tiers or [t for t in XBD_TIERS if (args.root / t).is_dir()]
    if not tiers:
        parser.error(f'{args.root}: none of the tiers {XBD_TIERS} is there')
    try:
        summary = make_targets(args.root, tiers, args.overwrite, max(1, args.workers))
        for tier, counts in summary.items():
            print(f'{tier}: ' + ', '.join(f'{k} {v}' for k, v in counts.items()))
        if args.split_dir:
            present = [t for t in XBD_TIERS if (args.root / t).is_dir()]
            defaults = dict(train_tiers=['tier1'], val_tiers=['hold'], split_tiers=['tier3'], test_tiers=['test'])
            pick = []
            for key, default in defaults.items():  # a tier asked for must be there; a default one may be missing
                given = getattr(args, key)
                pick.append(given if given is not None else [t for t in default if t in present])
            splits = make_splits(args.root, *pick, args.val_fraction, args.seed)
            write_splits(args.split_dir, splits)
            print(f'splits in {args.split_dir}: ' + ', '.join(f'{k} {len(v)}' for k, v in splits.items()))
    except (LabelError, FileNotFoundError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
