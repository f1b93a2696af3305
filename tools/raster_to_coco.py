#!/usr/bin/env python
"""Cut a multi-band raster and its class raster into GeoTIFF tiles with a COCO instances file, for MMDetection.

    python tools/raster_to_coco.py -i scene.tif -l trialrun_label.tif -o data/slumps -b 0 1 2 3 4 5 \\
        --size 256 --overlap 64 --val-fraction 0.2 --classes slump

The class raster (one band: 0 background, 1..K classes, its nodata ignored) sets the grid and the extent: the data
raster is clipped to it (a window when the grids line up, as ``rio clip --like`` does; resampled onto the class
raster's grid otherwise). Writes, under -o:

    images/<split>/<class raster name>_r<row>_c<col>.tif     the data tiles (bands -b), georeferenced
    labels/<split>/<class raster name>_r<row>_c<col>.tif     the class raster's tiles
    annotations/instances_<split>.json                       COCO: every connected component of a class is one
                                                             instance (polygon, or RLE when it has holes)

<split> is --split (default train), or train and val with --val-fraction (the bottom part of each raster is val;
no tile crosses the line). Several pairs: -i a.tif b.tif -l a_label.tif b_label.tif.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-i', '--input', nargs='+', required=True, help='data raster(s): 3 to N bands')
    parser.add_argument('-l', '--labels', nargs='+', required=True,
                        help='class raster(s), one per data raster: one band of integers, 0 background')
    parser.add_argument('-o', '--output', required=True, help='output folder')
    parser.add_argument('-b', '--bands', type=int, nargs='+', help='0-based bands of the data to keep (default all)')
    parser.add_argument('--classes', nargs='+', default=['slump'],
                        help='class names of the values 1, 2, ... (default: slump)')
    parser.add_argument('--size', type=int, default=256, help='tile size in pixels (default 256)')
    parser.add_argument('--overlap', type=int, default=64, help='pixels shared by neighbouring tiles (default 64)')
    parser.add_argument('--random', type=int, metavar='N', dest='random_tiles',
                        help='N tiles at random positions per raster and split instead of a regular grid')
    parser.add_argument('--min-positive', type=int, default=0,
                        help='leave out tiles with fewer labelled (non-zero) pixels (default 0: keep every tile)')
    parser.add_argument('--min-area', type=int, default=4,
                        help='drop instances (components inside a tile) of fewer pixels (default 4)')
    parser.add_argument('--connectivity', type=int, choices=[4, 8], default=8,
                        help='pixel connectivity of an instance (default 8: corners connect)')
    parser.add_argument('--val-fraction', type=float,
                        help='write train and val: the bottom fraction of each raster\'s rows is val')
    parser.add_argument('--split', default='train', help='split name without --val-fraction (default train)')
    parser.add_argument('--resampling', default='nearest', choices=['nearest', 'bilinear', 'cubic', 'average'],
                        help='when the data must be resampled onto the class raster\'s grid (default nearest)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random tile positions')
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.input) != len(args.labels):
        parser.error(f'{len(args.input)} data raster(s) but {len(args.labels)} class raster(s): give one class '
                     'raster per data raster')
    from geospatial_mm.converters.raster_to_coco import TilingOptions, make_coco_tiles
    from geospatial_mm.io import RasterError
    try:
        options = TilingOptions(size=args.size, overlap=args.overlap, random_tiles=args.random_tiles,
                                min_positive=args.min_positive, bands=args.bands, min_area=args.min_area,
                                connectivity=args.connectivity, seed=args.seed, resampling=args.resampling)
        report = make_coco_tiles(list(zip(args.input, args.labels)), args.output, args.classes, options,
                                 val_fraction=args.val_fraction, split=args.split)
    except (RasterError, ValueError, OSError) as exc:
        print(f'raster_to_coco: error: {exc}', file=sys.stderr)
        return 2
    for name, path in report.files.items():
        print(f'{name}: {report.tiles[name]} tiles, {report.instances[name]} instances -> {path}')
    for warning in report.warnings:
        print(f'warning: {warning}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
