#!/usr/bin/env python
"""Per-band mean, standard deviation, min, max and percentiles of rasters, for TorchNormalize or a data
preprocessor's mean/std.

    python tools/band_stats.py data/clouds/img_dir --out band_stats.json [-b 0 1 2] [--nodata 0] [--scale 0.0001]
    python tools/band_stats.py --config my_config.py [--dataloader train_dataloader] --out band_stats.json

Inputs are raster files or folders of them (every *.tif), or, with --config, the images of a dataloader's dataset
read through that dataset's own image loader (its bands, frames, scale, clip, offset and nodata), so the numbers are
in the units the model sees. Nodata-aware (a pixel nodata in any band counts for none), read window by window in
bounded memory; mean and std are exact (population std), percentiles come from a random sample of --sample pixels.
Prints the statistics and the --cfg-options that set them in the config's TorchNormalize steps (or its data
preprocessor), and, as its last line, the mean and std as one line of JSON ({"mean": [...], "std": [...]}, for a
config: docs/own_data.md); writes everything to --out as JSON.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout

from geospatial_mm.engine.launch import LazyDictAction  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', nargs='*', help='raster files or folders of them')
    parser.add_argument('--config', help='measure the images of this config\'s dataset, through its loader')
    parser.add_argument('--dataloader', default='train_dataloader', help='which dataloader (default train)')
    parser.add_argument('--cfg-options', nargs='+', action=LazyDictAction, default={},
                        help='config overrides, e.g. train_dataloader.dataset.data_root=data/clouds')
    parser.add_argument('-b', '--bands', type=int, nargs='+', help='0-based bands of files (default all)')
    parser.add_argument('--suffix', default='.tif', help='file ending in folders (default .tif)')
    parser.add_argument('--nodata', type=float, help='nodata value of the files (default: their own)')
    parser.add_argument('--scale', type=float, help='multiply file values by this (files only)')
    parser.add_argument('--offset', type=float, help='then add this (files only)')
    parser.add_argument('--percentiles', type=float, nargs='+', default=[2, 98])
    parser.add_argument('--sample', type=int, default=100_000, help='pixels sampled for the percentiles')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--window', type=int, default=1024, help='pixels of a read window')
    parser.add_argument('--out', help='write the statistics here (JSON)')
    args = parser.parse_args(argv)
    if bool(args.inputs) == bool(args.config):
        parser.error('give raster files/folders or --config, one of them')

    from geospatial_mm.datasets.band_stats import (
        dataset_images,
        loader_convert,
        normalize_options,
        raster_band_stats,
        raster_files,
        scaled,
    )
    from geospatial_mm.io import RasterError
    cfg = None
    try:
        if args.config:
            cfg, paths, loader = dataset_images(args.config, args.dataloader, args.cfg_options)
            convert, bands = loader_convert(loader)
            nodata = loader.nodata
        else:
            paths = raster_files(args.inputs, args.suffix)
            bands, nodata = args.bands, args.nodata
            convert = scaled(args.scale, args.offset)
        stats = raster_band_stats(paths, bands, convert, nodata, args.sample, args.seed, args.window)
    except (RasterError, ValueError, OSError, KeyError) as exc:
        print(f'band_stats: error: {exc}', file=sys.stderr)
        return 2
    report = dict(stats.report(args.percentiles), files=len(paths), bands=list(bands) if bands is not None else None)
    mean = '[' + ','.join(f'{v:.6g}' for v in report['mean']) + ']'
    std = '[' + ','.join(f'{v:.6g}' for v in report['std']) + ']'
    report['cfg_options'] = normalize_options(cfg, mean, std) if cfg is not None else \
        [f'means={mean}', f'stds={std}']
    print(f'{len(paths)} file(s), {report["pixels"]} valid pixels')
    for name in ('mean', 'std', 'min', 'max'):
        print(f'{name:>5}: ' + ' '.join(f'{v:.6g}' for v in report[name]))
    for q, values in report['percentiles'].items():
        print(f'{"p" + q:>5}: ' + ' '.join(f'{v:.6g}' for v in values))
    if cfg is not None:
        print('--cfg-options ' + ' '.join(report['cfg_options']))
    else:
        print(f'TorchNormalize(means={mean}, stds={std})')
    if args.out:
        from geospatial_mm.io.atomic import write_json_atomic
        write_json_atomic(args.out, report)
    print(json.dumps(dict(mean=report['mean'], std=report['std'])))
    return 0


if __name__ == '__main__':
    sys.exit(main())
