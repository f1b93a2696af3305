#!/usr/bin/env python
"""Streaming inference over large rasters: peak memory and throughput vs the bare model forward on the same tiles.

For each raster size (synthetic 6-band HLS-like GeoTIFFs: int16 reflectance x 10000, nodata -9999, 256x256 tiles,
deflate-compressed, as HLS products are delivered), a fresh
process runs :class:`SegmentationRasterPredictor` over the whole raster (read windows -> pipeline -> model ->
blending -> GeoTIFF writing) and reports its peak RSS and megapixels/s. Another fresh process times the bare model
forward (data preprocessor + encode_decode, no reading, no blending, no writing) on the same number of tiles of the
same shape and batch size, already in memory, right before and right after the streamed run (the machine's speed
drifts; the ratio uses their mean). The model is the burn-scars config with the demo's small settings
(Prithvi tiny, 224 tiles every 112 px).

    python tools/benchmark/inference.py [--sizes 2048 8192 16384] [--work /tmp/gmm_bench] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
CONFIG = ROOT / 'configs' / 'burn_scars.py'
SMALL_MODEL = {'test_dataloader.dataset.pipeline.0.scale': 0.0001,  # int16 reflectance x 10000 -> reflectance
               'model.backbone.arch': 'tiny', 'model.backbone.pretrained': None, 'model.neck.embed_dim': 64,
               'model.neck.out_channels': 64, 'model.decode_head.in_channels': 64, 'model.decode_head.channels': 32,
               'model.auxiliary_head.in_channels': 64, 'model.auxiliary_head.channels': 32}


def make_raster(path: Path, size: int, block: int = 256) -> None:
    """A ``size`` x ``size`` 6-band int16 HLS-like reflectance raster, written one block row at a time."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    if path.exists():
        return
    rng = np.random.default_rng(size)
    profile = dict(driver='GTiff', width=size, height=size, count=6, dtype='int16', crs='EPSG:32611',
                   transform=from_origin(300000, 4200000, 30, 30), nodata=-9999, tiled=True, blockxsize=block,
                   blockysize=block, compress='deflate', predictor=2, bigtiff='if_safer')
    means = np.array([330, 570, 590, 2320, 1970, 1190], np.float32)[:, None, None]
    tmp = path.with_name('.' + path.name + '.tmp')
    with rasterio.open(tmp, 'w', **profile) as dst:
        x = np.linspace(0, 20 * np.pi, size, dtype=np.float32)
        for row in range(0, size, block):
            h = min(block, size - row)
            y = np.linspace(row, row + h, h, dtype=np.float32)[:, None] / size * 20 * np.pi
            field = 0.5 + 0.25 * np.sin(x[None] + 0.3 * y) * np.cos(0.7 * y)
            noise = rng.normal(0, 0.05, (6, h, size)).astype(np.float32)
            data = means * (field[None] + noise)
            dst.write(np.clip(data, 0, 10000).astype(np.int16), window=((row, row + h), (0, size)))
    tmp.replace(path)


def checkpoint(path: Path) -> Path:
    if not path.exists():
        import torch
        from mmengine.config import Config
        from mmengine.registry import MODELS, init_default_scope
        cfg = Config.fromfile(CONFIG)
        cfg.merge_from_dict(SMALL_MODEL)
        init_default_scope('mmseg')
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        torch.save(dict(meta=dict(dataset_meta=dict(cfg.test_dataloader.dataset.metainfo)),
                        state_dict=model.state_dict()), path)
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def warm_up(predictor, batch_size: int):
    """One forward pass of a batch of tiles shaped as the pipeline makes them (the first pass of a process sets up
    its kernels and memory); returns that batch."""
    import torch
    from mmseg.structures import SegDataSample
    t = predictor.tile
    torch.manual_seed(0)
    inputs = [torch.randn(6, 1, t, t) for _ in range(batch_size)]
    samples = [SegDataSample(metainfo=dict(img_shape=(t, t), ori_shape=(t, t))) for _ in range(batch_size)]
    predictor.forward_logits(inputs, samples)
    return inputs, samples


def worker_stream(raster: str, ckpt: str, out: str, batch_size: int) -> dict:
    import geospatial_mm  # noqa: F401
    from geospatial_mm.inference.segmentation import SegmentationRasterPredictor
    from geospatial_mm.inference.sources import Sample
    from geospatial_mm.inference.tiling import TileGrid
    from geospatial_mm.io import read_meta
    predictor = SegmentationRasterPredictor(str(CONFIG), ckpt, batch_size=batch_size, cfg_options=SMALL_MODEL)
    meta = read_meta(raster)
    tiles = len(TileGrid(meta.height, meta.width, predictor.tile, predictor.stride))
    warm_up(predictor, batch_size)  # once per process, as the bare forward does: not a cost of each raster
    rss_model = peak_rss_mb()
    start = time.perf_counter()
    predictor.predict(Sample(Path(raster).stem, {'img_path': raster}, raster), out)
    seconds = time.perf_counter() - start
    return dict(tiles=tiles, seconds=seconds, megapixels=meta.height * meta.width / 1e6,
                peak_rss_mb=peak_rss_mb(), rss_after_model_mb=rss_model)


def worker_bare(ckpt: str, tiles: int, batch_size: int) -> dict:
    """The model alone on ``tiles`` in-memory tiles shaped as the pipeline makes them."""
    import geospatial_mm  # noqa: F401
    from geospatial_mm.inference.segmentation import SegmentationRasterPredictor
    predictor = SegmentationRasterPredictor(str(CONFIG), ckpt, batch_size=batch_size, cfg_options=SMALL_MODEL)
    inputs, samples = warm_up(predictor, batch_size)
    start = time.perf_counter()
    done = 0
    while done < tiles:
        n = min(batch_size, tiles - done)
        logits = predictor.forward_logits(inputs[:n], samples[:n])
        logits.float().cpu().numpy()  # the copy the streaming path makes too
        done += n
    return dict(tiles=tiles, seconds=time.perf_counter() - start, peak_rss_mb=peak_rss_mb())


def run_worker(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, '--worker', *args], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f'worker {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[2048, 8192, 16384])
    parser.add_argument('--work', type=Path, default=Path('/tmp/geospatial_mm_inference_bench'))
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--bare-tiles', type=int, default=1000, help='tiles timed for the bare forward')
    parser.add_argument('--attempts', type=int, default=3, help='runs per size when the machine\'s speed drifts')
    parser.add_argument('--json', type=Path, help='write the results here')
    parser.add_argument('--worker', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == 'stream':
            result = worker_stream(rest[0], rest[1], rest[2], int(rest[3]))
        else:
            result = worker_bare(rest[0], int(rest[1]), int(rest[2]))
        print(json.dumps(result))
        return 0

    args.work.mkdir(parents=True, exist_ok=True)
    ckpt = checkpoint(args.work / 'small_model.pth')
    rows = []
    for size in args.sizes:
        raster = args.work / f'scene_{size}.tif'
        make_raster(raster, size)
        # the bare forward right before and right after the streamed run, so that both see the same machine; a run
        # during which the machine's speed drifted by more than 10 % (the two bare runs disagree) is repeated
        for attempt in range(args.attempts):
            before = run_worker('bare', str(ckpt), str(args.bare_tiles), str(args.batch_size))
            result = run_worker('stream', str(raster), str(ckpt), str(args.work / 'out'), str(args.batch_size))
            after = run_worker('bare', str(ckpt), str(args.bare_tiles), str(args.batch_size))
            drift = abs(before['seconds'] - after['seconds']) / min(before['seconds'], after['seconds'])
            if drift <= 0.1:
                break
            print(f'{size}x{size}: the bare forward drifted by {100 * drift:.0f} % during the run; '
                  f'{"again" if attempt + 1 < args.attempts else "keeping this run"}', flush=True)
        bare_tiles_per_s = 2 * args.bare_tiles / (before['seconds'] + after['seconds'])
        tiles_per_s = result['tiles'] / result['seconds']
        row = dict(size=size, **result, megapixels_per_s=result['megapixels'] / result['seconds'],
                   bare_megapixels_per_s=result['megapixels'] / (result['tiles'] / bare_tiles_per_s),
                   bare_tiles_per_s=[before['tiles'] / before['seconds'], after['tiles'] / after['seconds']],
                   ratio_to_bare=tiles_per_s / bare_tiles_per_s, drift=drift, attempts=attempt + 1)
        rows.append(row)
        print(f'{size}x{size}: {result["tiles"]} tiles in {result["seconds"]:.1f} s, '
              f'{row["megapixels_per_s"]:.2f} MP/s (bare forward {row["bare_megapixels_per_s"]:.2f} MP/s, '
              f'{bare_tiles_per_s:.1f} tiles/s; ratio {row["ratio_to_bare"]:.3f}), '
              f'peak RSS {result["peak_rss_mb"]:.0f} MB', flush=True)
    base = rows[0]['peak_rss_mb']
    for row in rows:
        row['rss_vs_smallest'] = row['peak_rss_mb'] / base
    print('\n| raster | tiles | MP/s | bare forward MP/s | ratio | peak RSS | vs smallest |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["size"]}² | {r["tiles"]} | {r["megapixels_per_s"]:.2f} | {r["bare_megapixels_per_s"]:.2f} | '
              f'{r["ratio_to_bare"]:.2f} | {r["peak_rss_mb"]:.0f} MB | {r["rss_vs_smallest"]:.2f}× |')
    if args.json:
        args.json.write_text(json.dumps(dict(rows=rows, cpu_count=os.cpu_count()), indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
