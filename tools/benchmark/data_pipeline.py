#!/usr/bin/env python
"""Samples/s of a GeoTIFF training pipeline: windowed reads (ours) vs reading whole files first (the original's order).

Both pipelines load a 6-band 512x512 int16 image and its label, take a random 224x224 crop, normalise per band and
flip. Ours chooses the window first and reads only those pixels (RandomWindow -> loaders -> normalise -> flip); the
original read the whole file as float32, normalised the whole image, then cropped (loaders -> normalise -> crop ->
flip). Both run on striped and on internally tiled files.

    python tools/benchmark/data_pipeline.py [--samples 300] [--files 16] [--tile 128] [--compress none]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

MEANS = [775.2, 1080.9, 1228.6, 2497.2, 2204.2, 1610.8]  # HLS burn-scar band means (int16 reflectance x 10000)
STDS = [1281.5, 1270.0, 1399.5, 1368.3, 1291.6, 1154.5]


def make_files(folder: Path, n: int, tiled: bool, tile: int, compress: str) -> list[tuple[str, str]]:
    import rasterio
    from rasterio.transform import from_origin
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(n):
        img = rng.integers(0, 5000, (6, 512, 512), dtype=np.int16)
        lab = rng.integers(0, 2, (1, 512, 512), dtype=np.uint8)
        paths = []
        for name, data in ((f'img_{i}.tif', img), (f'lab_{i}.tif', lab)):
            profile = dict(driver='GTiff', width=512, height=512, count=data.shape[0], dtype=data.dtype.name,
                           crs='EPSG:32610', transform=from_origin(500000, 4200000, 30, 30))
            profile.update(dict(tiled=True, blockxsize=tile, blockysize=tile) if tiled else dict(tiled=False))
            if compress != 'none':
                profile['compress'] = compress
            with rasterio.open(folder / name, 'w', **profile) as dst:
                dst.write(data)
            paths.append(str(folder / name))
        pairs.append(tuple(paths))
    return pairs


def pipelines():
    from mmengine.dataset import Compose

    import geospatial_mm  # noqa: F401
    load = [dict(type='LoadGeospatialImageFromFile'), dict(type='LoadGeospatialAnnotations'),
            dict(type='TorchFromNumpy')]
    norm = dict(type='TorchNormalize', means=MEANS, stds=STDS)
    flip = dict(type='TorchRandomFlip', prob=0.5)
    ours = Compose([dict(type='RandomWindow', crop_size=224), *load, norm, flip])
    original = Compose([*load, norm, dict(type='TorchRandomCrop', crop_size=224), flip])
    return dict(ours=ours, original=original)


def measure(pipeline, pairs, samples: int, warmup: int = 10) -> float:
    rng = np.random.default_rng(1)
    order = rng.integers(0, len(pairs), samples + warmup)
    for k in order[:warmup]:
        pipeline(dict(img_path=pairs[k][0], seg_map_path=pairs[k][1], seg_fields=[]))
    start = time.perf_counter()
    for k in order[warmup:]:
        out = pipeline(dict(img_path=pairs[k][0], seg_map_path=pairs[k][1], seg_fields=[]))
        assert out['img'].shape == (6, 224, 224) and out['gt_seg_map'].shape == (224, 224)
    return samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--samples', type=int, default=300)
    parser.add_argument('--files', type=int, default=16)
    parser.add_argument('--tile', type=int, default=128, help='block size of the tiled files')
    parser.add_argument('--compress', default='none', help='GeoTIFF compression of the files (none, deflate, lzw)')
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    pipes = pipelines()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for layout in ('striped', 'tiled'):
            folder = Path(tmp) / layout
            folder.mkdir()
            pairs = make_files(folder, args.files, layout == 'tiled', args.tile, args.compress)
            row = dict(layout=layout if layout == 'striped' else f'tiled {args.tile}x{args.tile}')
            for name, pipe in pipes.items():
                row[name] = measure(pipe, pairs, args.samples)
            row['speedup'] = row['ours'] / row['original']
            results.append(row)
    print(f'GeoTIFF training pipeline, 6-band 512x512 int16 ({args.compress} compression) -> random 224 crop, '
          f'normalise, flip; {args.samples} samples, 1 thread, {platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} cores')
    print(f'{"layout":<16}{"ours (samples/s)":>18}{"original (samples/s)":>22}{"speed-up":>10}')
    for r in results:
        print(f'{r["layout"]:<16}{r["ours"]:>18.1f}{r["original"]:>22.1f}{r["speedup"]:>9.2f}x')
    if args.json:
        from geospatial_mm.io.atomic import write_json_atomic
        write_json_atomic(args.json, results)


if __name__ == '__main__':
    main()
