#!/usr/bin/env python
"""Streaming inference over large rasters: peak memory and throughput vs the bare model forward on the same tiles.

For each raster size (synthetic 6-band HLS-like GeoTIFFs: int16 reflectance x 10000, nodata -9999, 256x256 tiles,
deflate-compressed, as HLS products are delivered), a fresh process runs :class:`SegmentationRasterPredictor` over
the whole raster (read windows -> pipeline -> model -> blending -> GeoTIFF writing) and reports its peak RSS and
megapixels/s. The same process, with the same warmed-up model, times the bare model forward (data preprocessor +
encode_decode, no reading, no blending, no writing) on tiles of the same shape and batch size already in memory,
right before and right after each streamed run: this machine's speed drifts by up to 40 % within minutes, so each
streamed run is compared with the mean of the two bare runs around it. Short streamed runs are repeated
(``--rounds``) and the median ratio is reported. The model is the burn-scars config with the demo's small settings
(Prithvi tiny, 224 tiles every 112 px). Both report their minor page faults per tile (``getrusage``): the bare
forward is timed in the steady state of the process's malloc settings, after warm-up batches, so that it is not
timed while its buffers are faulted in. ``--malloc before`` runs the worker with the malloc settings the package used
until buffers above 32 MB stayed resident, for comparison.

    python tools/benchmark/inference.py [--sizes 2048 8192 16384 2048x200000] [--work /tmp/gmm_bench] [--json F]

A size ``HxW`` is a raster of H rows and W columns: a wide one (2048x200000) shows that memory does not grow with
the width either (wider than 4096 columns, rasters are predicted in vertical strips).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
CONFIG = ROOT / 'configs' / 'burn_scars.py'
SCALE = {'test_dataloader.dataset.pipeline.0.scale': 0.0001}  # int16 reflectance x 10000 -> reflectance
SMALL_MODEL = {**SCALE, 'model.backbone.arch': 'tiny', 'model.backbone.pretrained': None, 'model.neck.embed_dim': 64,
               'model.neck.out_channels': 64, 'model.decode_head.in_channels': 64, 'model.decode_head.channels': 32,
               'model.auxiliary_head.in_channels': 64, 'model.auxiliary_head.channels': 32}
FULL_MODEL = {**SCALE, 'model.backbone.pretrained': None}  # Prithvi-100M, random weights


def model_options(full_model: bool) -> dict:
    return FULL_MODEL if full_model else SMALL_MODEL


def parse_size(text: str) -> tuple[int, int]:
    """``'2048'`` -> (2048, 2048); ``'2048x200000'`` -> (2048 rows, 200000 columns)."""
    height, _, width = text.lower().partition('x')
    return int(height), int(width or height)


def make_raster(path: Path, height: int, width: int, block: int = 256, chunk: int = 8192) -> None:
    """A ``height`` x ``width`` 6-band int16 HLS-like reflectance raster, written block row by block row, in chunks
    of ``chunk`` columns."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from geospatial_mm.io.atomic import atomic_path
    if path.exists():
        return
    rng = np.random.default_rng(height * 7 + width)
    profile = dict(driver='GTiff', width=width, height=height, count=6, dtype='int16', crs='EPSG:32611',
                   transform=from_origin(300000, 4200000, 30, 30), nodata=-9999, tiled=True, blockxsize=block,
                   blockysize=block, compress='deflate', predictor=2, bigtiff='if_safer')
    means = np.array([330, 570, 590, 2320, 1970, 1190], np.float32)[:, None, None]
    period = max(height, min(width, 8192))
    with atomic_path(path) as tmp, rasterio.open(tmp, 'w', **profile) as dst:
        for row in range(0, height, block):
            h = min(block, height - row)
            y = np.linspace(row, row + h, h, dtype=np.float32)[:, None] / period * 20 * np.pi
            for col in range(0, width, chunk):
                w = min(chunk, width - col)
                x = np.linspace(col, col + w, w, dtype=np.float32)[None] / period * 20 * np.pi
                field = 0.5 + 0.25 * np.sin(x + 0.3 * y) * np.cos(0.7 * y)
                noise = rng.normal(0, 0.05, (6, h, w)).astype(np.float32)
                data = means * (field[None] + noise)
                dst.write(np.clip(data, 0, 10000).astype(np.int16), window=((row, row + h), (col, col + w)))


def checkpoint(path: Path, full_model: bool = False) -> Path:
    if not path.exists():
        import torch
        from mmengine.config import Config
        from mmengine.registry import MODELS, init_default_scope

        import geospatial_mm  # noqa: F401  (registration)
        cfg = Config.fromfile(CONFIG)
        cfg.merge_from_dict(model_options(full_model))
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

    from geospatial_mm.inference.tile_model import WindowInputs
    t = predictor.tile
    torch.manual_seed(0)
    batch = [predictor.model.host(WindowInputs(torch.randn(6, 1, t, t), None,
                                               SegDataSample(metainfo=dict(img_shape=(t, t), ori_shape=(t, t)))))
             for _ in range(batch_size)]
    predictor.model.forward(batch)
    return batch


def _sync(predictor) -> None:
    import torch
    if predictor.model.device.type == 'cuda':
        torch.cuda.synchronize(predictor.model.device)


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _bare(predictor, batch, tiles: int, batch_size: int) -> tuple[float, int]:
    """Seconds of the model alone (data preprocessor + encode_decode, in the predictor's precision) on ``tiles``
    in-memory tiles shaped as the pipeline makes them, already in the host memory the reader threads fill; and the
    minor page faults meanwhile."""
    _sync(predictor)
    faults = minor_faults()
    start = time.perf_counter()
    done = 0
    while done < tiles:
        n = min(batch_size, tiles - done)
        predictor.model.forward(batch[:n])
        done += n
    _sync(predictor)
    return time.perf_counter() - start, minor_faults() - faults


def worker(raster: str, ckpt: str, out: str, batch_size: int, bare_tiles: int, rounds: int, long_run_s: float,
           bare_every: int, bare_sample: int, device: str = 'cpu', precision: str = 'fp32',
           readers: int | None = None, full_model: bool = False) -> dict:
    """One fresh process per raster size, one warmed-up model: the bare forward, then ``rounds`` times the streamed
    run followed by the bare forward again. This machine's speed drifts within minutes, so each streamed run is
    compared with the model's own speed sampled right before it, every ``bare_every`` tiles during it (a pause of
    ``bare_sample`` tiles of bare forward, not counted in the streamed time; the reader thread, a full queue ahead,
    is idle meanwhile) and right after it, averaged over the run's progress (trapezoids). A streamed run longer than
    ``long_run_s`` is not repeated. Peak RSS is read right after the first streamed run (the bare forward before it
    needs less memory)."""
    import geospatial_mm  # noqa: F401
    from geospatial_mm.inference.memory import keep_freed_memory
    from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
    from geospatial_mm.inference.segmentation import SegmentationRasterPredictor
    from geospatial_mm.inference.sources import Sample
    from geospatial_mm.io import read_meta
    from geospatial_mm.io.tiles import TileGrid
    model = OpenMMLabModel(str(CONFIG), ckpt, device=device, precision=precision,
                           cfg_options=model_options(full_model))
    predictor = SegmentationRasterPredictor(model, batch_size=batch_size, readers=readers)
    meta = read_meta(raster)
    tiles = len(TileGrid(meta.height, meta.width, predictor.tile, predictor.stride))
    batch = warm_up(predictor, batch_size)  # once per process: not a cost of each raster
    rss_model = peak_rss_mb()
    n_bare = min(tiles, bare_tiles)
    bare_faults = []  # faults per tile of each bare forward

    def bare_rate(n: int) -> float:
        seconds, faults = _bare(predictor, batch, n, batch_size)
        bare_faults.append(faults / n)
        return n / seconds

    bare_rate(min(n_bare, 4 * batch_size))  # the steady state: a few batches more before anything is timed
    before = bare_rate(n_bare)
    rss_bare = peak_rss_mb()
    runs, peak = [], None
    for _ in range(rounds):
        points = [(0, before)]  # (tiles done, bare tiles/s)
        state = dict(done=0, next=bare_every, paused=0.0, paused_faults=0)

        def on_tiles(n: int) -> None:
            state['done'] += n
            if state['done'] >= state['next'] and state['done'] < tiles:
                t0, f0 = time.perf_counter(), minor_faults()
                points.append((state['done'], bare_rate(bare_sample)))
                state['paused'] += time.perf_counter() - t0
                state['paused_faults'] += minor_faults() - f0
                state['next'] += bare_every

        faults = minor_faults()
        start = time.perf_counter()
        predictor.predict(Sample(Path(raster).stem, {'img_path': raster}, raster), out, on_tiles=on_tiles)
        seconds = time.perf_counter() - start - state['paused']
        faults = minor_faults() - faults - state['paused_faults']
        peak = peak if peak is not None else peak_rss_mb()
        before = bare_rate(n_bare)
        points.append((tiles, before))
        bare_mean = sum((x1 - x0) * (r0 + r1) / 2 for (x0, r0), (x1, r1) in zip(points, points[1:])) / tiles
        runs.append(dict(seconds=seconds, bare_tiles_per_s=bare_mean, ratio=tiles / seconds / bare_mean,
                         bare_samples=points, faults_per_tile=faults / tiles))
        if seconds > long_run_s:
            break
    import torch
    gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if predictor.device.type == 'cuda' else None
    return dict(tiles=tiles, megapixels=meta.height * meta.width / 1e6, runs=runs, peak_rss_mb=peak,
                rss_after_model_mb=rss_model, rss_after_bare_mb=rss_bare, peak_gpu_mb=gpu_peak,
                readers=predictor.readers, bare_faults_per_tile=statistics.median(bare_faults[1:]),
                malloc_kept=keep_freed_memory())


# glibc malloc settings of the worker: 'keep' is the package's (inference/memory.py); 'before' those it set until
# buffers above 32 MB were served from the heap too (mmap threshold 32 MB, trim threshold 1 GiB), given through the
# environment, which the package then leaves alone
MALLOC = {'keep': {}, 'before': {'MALLOC_MMAP_THRESHOLD_': str(32 << 20), 'MALLOC_TRIM_THRESHOLD_': str(1 << 30)}}


def run_worker(*args: str, malloc: str = 'keep') -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_') and k != 'GLIBC_TUNABLES'}
    proc = subprocess.run([sys.executable, __file__, '--worker', *args], capture_output=True, text=True, check=False,
                          env=dict(env, **MALLOC[malloc]))
    if proc.returncode:
        raise RuntimeError(f'worker {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', nargs='+', default=['2048', '8192', '16384'],
                        help="raster sizes: N for N x N, HxW for H rows and W columns (e.g. 2048x200000)")
    parser.add_argument('--work', type=Path, default=Path('/tmp/geospatial_mm_inference_bench'))
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--bare-tiles', type=int, default=1000,
                        help='tiles timed for each bare forward (at most the raster\'s tiles)')
    parser.add_argument('--rounds', type=int, default=5, help='streamed runs per size (the median counts)')
    parser.add_argument('--long-run', type=float, default=60.0,
                        help='seconds: a streamed run longer than this is not repeated')
    parser.add_argument('--bare-every', type=int, default=2000,
                        help='tiles between samples of the bare forward during a streamed run')
    parser.add_argument('--bare-sample', type=int, default=200, help='tiles of each such sample')
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument('--precision', choices=['fp32', 'bf16', 'fp16'], default='fp32')
    parser.add_argument('--malloc', choices=sorted(MALLOC), default='keep',
                        help='keep: the package\'s malloc settings (buffers stay resident between batches); before: '
                        'the earlier ones (buffers above 32 MB mapped anew each batch), for comparison')
    parser.add_argument('--readers', type=int, help='reader threads (default: the predictor\'s)')
    parser.add_argument('--full-model', action='store_true', help='Prithvi-100M instead of the demo\'s tiny one')
    parser.add_argument('--json', type=Path, help='write the results here')
    parser.add_argument('--worker', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        raster, ckpt, out, batch, bare, rounds, long_run, every, sample, device, precision, readers, full = \
            args.worker
        print(json.dumps(worker(raster, ckpt, out, int(batch), int(bare), int(rounds), float(long_run), int(every),
                                int(sample), device, precision, int(readers) or None, full == '1')))
        return 0

    args.work.mkdir(parents=True, exist_ok=True)
    ckpt = checkpoint(args.work / ('full_model.pth' if args.full_model else 'small_model.pth'), args.full_model)
    rows = []
    for size in args.sizes:
        height, width = parse_size(size)
        size = f'{height}²' if height == width else f'{height}×{width}'
        raster = args.work / f'scene_{height}x{width}.tif'
        make_raster(raster, height, width)
        r = run_worker(str(raster), str(ckpt), str(args.work / 'out'), str(args.batch_size), str(args.bare_tiles),
                       str(args.rounds), str(args.long_run), str(args.bare_every), str(args.bare_sample),
                       args.device, args.precision, str(args.readers or 0), '1' if args.full_model else '0',
                       malloc=args.malloc)
        ratios = [run['ratio'] for run in r['runs']]
        median = r['runs'][sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]]
        row = dict(size=size, **r, seconds=median['seconds'], ratio_to_bare=median['ratio'],
                   faults_per_tile=median['faults_per_tile'],
                   megapixels_per_s=r['megapixels'] / median['seconds'],
                   bare_megapixels_per_s=r['megapixels'] * median['bare_tiles_per_s'] / r['tiles'])
        rows.append(row)
        samples = len(median['bare_samples'])
        print(f'{size}: {r["tiles"]} tiles in {row["seconds"]:.1f} s, {row["megapixels_per_s"]:.2f} MP/s '
              f'(bare forward {row["bare_megapixels_per_s"]:.2f} MP/s, {median["bare_tiles_per_s"]:.1f} tiles/s '
              f'from {samples} samples; ratio {row["ratio_to_bare"]:.3f}, median of {len(ratios)}: '
              f'{", ".join(f"{x:.3f}" for x in ratios)}), peak RSS {r["peak_rss_mb"]:.0f} MB, minor faults per '
              f'tile {row["faults_per_tile"]:.0f} streamed, {r["bare_faults_per_tile"]:.0f} bare', flush=True)
    base = rows[0]['peak_rss_mb']
    for row in rows:
        row['rss_vs_smallest'] = row['peak_rss_mb'] / base
    print('\n| raster | tiles | MP/s | bare forward MP/s | ratio | faults/tile streamed, bare | runs | peak RSS | '
          'vs smallest |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["size"]} | {r["tiles"]} | {r["megapixels_per_s"]:.2f} | {r["bare_megapixels_per_s"]:.2f} | '
              f'{r["ratio_to_bare"]:.2f} | {r["faults_per_tile"]:.0f}, {r["bare_faults_per_tile"]:.0f} | '
              f'{len(r["runs"])} | {r["peak_rss_mb"]:.0f} MB | {r["rss_vs_smallest"]:.2f}× |')
    report = dict(rows=rows, cpu_count=os.cpu_count(), device=args.device, precision=args.precision,
                  malloc=args.malloc, model='Prithvi-100M' if args.full_model else 'tiny Prithvi')
    print('geospatial_mm inference benchmark: ' + json.dumps(report), flush=True)
    if args.json:
        from geospatial_mm.io.atomic import write_json_atomic
        write_json_atomic(args.json, report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
