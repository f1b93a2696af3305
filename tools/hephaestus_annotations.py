#!/usr/bin/env python
"""Hephaestus annotation tools: class masks from polygons, crops and tiles for classification, temporal splits.

    # one class mask (PNG, 0 background, 1-6 Mogi Dyke Sill Spheroid Earthquake Unidentified) per annotation
    python tools/hephaestus_annotations.py masks ANNOTATIONS RAW OUT
    # crops around every deformation, tiles of interferograms without, masks and per-crop label files
    python tools/hephaestus_annotations.py save-crops ANNOTATIONS RAW OUT [--out-size 224] [--seed 0]
    # train.txt / val.txt by primary date
    python tools/hephaestus_annotations.py split OUT --val-from 20210101

ANNOTATIONS is the folder of annotation JSONs, RAW the root of <FrameID>/interferograms/<primary>_<secondary>/.
"""
import argparse
import sys
import warnings

from geospatial_mm.converters.hephaestus.writing import save_crops, split_crops, write_masks
from geospatial_mm.datasets.hephaestus_schema import AnnotationError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    masks = sub.add_parser('masks', help='one class mask per annotation, named <annotation>.png')
    crops = sub.add_parser('save-crops', help='crops, masks and label files for a whole annotation folder')
    for p in (masks, crops):
        p.add_argument('annotations', help='folder of annotation JSON files')
        p.add_argument('raw', help='root of <FrameID>/interferograms/<primary>_<secondary>/')
        p.add_argument('out', help='output folder')
    crops.add_argument('--out-size', type=int, default=224, help='crop side in pixels (default 224)')
    crops.add_argument('--seed', type=int, default=0, help='seed of the random crop placement')
    crops.add_argument('--verbose', action='store_true', help='print the crops of every annotation')
    split = sub.add_parser('split', help='temporal train/val split of a crop folder (train.txt, val.txt)')
    split.add_argument('out', help='crop folder written by save-crops')
    split.add_argument('--val-from', required=True, help='crops with a primary date from this day on (YYYYMMDD) '
                       'go to val.txt, earlier ones to train.txt')
    args = parser.parse_args(argv)

    if args.command == 'masks':
        count = write_masks(args.annotations, args.raw, args.out)
        print(f'wrote {count} masks to {args.out}')
    elif args.command == 'save-crops':
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')  # every cut deformation and skipped annotation is reported
            summary = save_crops(args.annotations, args.raw, args.out, args.out_size, args.seed,
                                 verbose=args.verbose)
        for w in caught:
            print(f'warning: {w.message}', file=sys.stderr)
        print(f'{summary}; written to {args.out}')
    else:
        splits = split_crops(args.out, args.val_from)
        print(f'train.txt: {len(splits["train"])} crops, val.txt: {len(splits["val"])} crops, in {args.out}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except AnnotationError as exc:
        sys.exit(f'error: {exc}')
