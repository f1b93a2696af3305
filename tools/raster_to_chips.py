#!/usr/bin/env python
"""Cut data rasters and their label rasters into GeoTIFF chips with train/val/test split files, for semantic
segmentation with GeospatialSegDataset.

    python tools/raster_to_chips.py -i scene.tif -l scene_label.tif -o data/clouds --size 256 \\
        --split blocks --fractions train=0.7 val=0.15 test=0.15 --min-valid 0.5 -b 1 2 3 4 5 6

The label raster (one band of class values, its nodata ignored) sets the grid and the extent: the data raster is
clipped to it (a window when the grids line up) or resampled onto its grid, as tools/raster_to_coco.py does. The
label raster is cut into stripes or blocks of --region pixels, each going to one split (seeded), and chips of --size
pixels (--overlap between neighbours) are cut inside each region, so that chips of different splits share no pixel;
--split random draws each chip's split instead (chips that overlap may then share pixels across splits). Writes,
under -o:

    img_dir/<label raster name>_r<row>_c<col>.tif     the data chips (bands -b), georeferenced
    ann_dir/<label raster name>_r<row>_c<col>.tif     the label chips
    splits/<split>.txt                                ids of each split
    chips.json                                        sources, options, counts

and prints the --cfg-options that point a GeospatialSegDataset config at them. Several pairs:
-i a.tif b.tif -l a_label.tif b_label.tif.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout


def fractions(values):
    out = {}
    for value in values:
        name, sep, share = value.partition('=')
        try:
            out[name] = float(share)
        except ValueError:
            raise argparse.ArgumentTypeError(f'--fractions takes name=share pairs, got {value!r}') from None
        if not sep or not name:
            raise argparse.ArgumentTypeError(f'--fractions takes name=share pairs, got {value!r}')
    return out


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-i', '--input', nargs='+', required=True, help='data raster(s)')
    parser.add_argument('-l', '--labels', nargs='+', required=True, help='label raster(s), one per data raster')
    parser.add_argument('-o', '--output', required=True, help='output folder')
    parser.add_argument('-b', '--bands', type=int, nargs='+', help='0-based bands of the data to keep (default all)')
    parser.add_argument('--size', type=int, default=256, help='chip size in pixels (default 256)')
    parser.add_argument('--overlap', type=int, default=0, help='pixels shared by neighbouring chips (default 0)')
    parser.add_argument('--split', choices=['stripes', 'blocks', 'random', 'none'], default='blocks',
                        help='how chips go to splits (default blocks: square regions of --region pixels)')
    parser.add_argument('--fractions', nargs='+', default=['train=0.7', 'val=0.15', 'test=0.15'],
                        help='share of each split (default train=0.7 val=0.15 test=0.15)')
    parser.add_argument('--region', type=int, help='pixels of a stripe or block (default 4 chips)')
    parser.add_argument('--min-valid', type=float, default=0.0,
                        help='leave out chips with a smaller fraction of valid pixels (default 0: any valid pixel)')
    parser.add_argument('--resampling', default='nearest', choices=['nearest', 'bilinear', 'cubic', 'average'],
                        help='when the data must be resampled onto the label raster\'s grid (default nearest)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the split draw')
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.input) != len(args.labels):
        parser.error(f'{len(args.input)} data raster(s) but {len(args.labels)} label raster(s): give one label '
                     'raster per data raster')
    try:
        shares = fractions(args.fractions)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    from geospatial_mm.converters.raster_to_chips import ChipOptions, cfg_options, make_chips
    from geospatial_mm.io import RasterError
    try:
        options = ChipOptions(size=args.size, overlap=args.overlap, bands=args.bands, split=args.split,
                              fractions=shares, region=args.region, min_valid=args.min_valid,
                              resampling=args.resampling, seed=args.seed)
        report = make_chips(list(zip(args.input, args.labels)), args.output, options)
    except (RasterError, ValueError, OSError) as exc:
        print(f'raster_to_chips: error: {exc}', file=sys.stderr)
        return 2
    for name, ids in report.splits.items():
        print(f'{name}: {len(ids)} chips -> {report.files[name]}')
    if report.skipped:
        print(f'left out {report.skipped} chip(s) with less than {args.min_valid:.0%} valid pixels')
    print('--cfg-options ' + ' '.join(cfg_options(args.output, report)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
