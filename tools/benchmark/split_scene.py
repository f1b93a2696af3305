#!/usr/bin/env python
"""One large scene shared by two processes (``--split-scene``) against one process with one and with two threads.

A synthetic HLS-like raster (6 bands, int16 reflectance x 10000, nodata -9999; :func:`inference.make_raster`) of
``--size`` (default 4096 x 16384: rows x columns) is predicted with the burn-scars config and the demo's tiny
Prithvi (as in tools/benchmark/inference.py; the config's tile and stride) in three ways, each in fresh processes
that build the model, meet at a barrier (files in the work folder), and then predict through the same function as
tools/model_inference.py (:func:`geospatial_mm.inference.runner.predict_sample`):

* ``one_thread``: one process, torch with one thread;
* ``two_threads``: one process, torch with two threads;
* ``split``: two processes of one thread each, ``--split-scene``: each predicts its part (a band of rows and the
  tiles that reach it), the later one joins the parts into the output (the join is timed on its own).

The runs alternate ``--rounds`` times (this machine's speed drifts) and the medians are reported: megapixels/s from
the barrier to the last process's end, the speed-up of ``split`` over ``one_thread`` and ``two_threads``, the join's
share of the split run, the peak RSS (VmHWM) of every process; and the pixels in which the class maps of
``two_threads`` and ``split`` differ from that of ``one_thread``.

    python tools/benchmark/split_scene.py [--size 4096x16384] [--rounds 1] [--batch-size 8] [--work DIR] [--json F]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from inference import CONFIG, checkpoint, make_raster, model_options, parse_size  # noqa: E402
from remote import peak_rss_mb  # noqa: E402  (VmHWM: this process's own peak, not its parent's)

KINDS = dict(one_thread=(1, 1), two_threads=(1, 2), split=(2, 1))  # (processes, torch threads each)
TARGETS = dict(split_over_one_thread=1.7, split_over_two_threads=1.0, join_share=0.05)


def worker(raster: str, ckpt: str, out: str, index: int, count: int, threads: int, barrier: str,
           batch_size: int) -> dict:
    """Build the model, wait for the other processes, predict (the whole raster, or part ``index`` of ``count``)."""
    import torch
    torch.set_num_threads(threads)
    import geospatial_mm  # noqa: F401
    from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
    from geospatial_mm.inference.options import PredictOptions
    from geospatial_mm.inference.runner import predict_sample
    from geospatial_mm.inference.segmentation import SegmentationRasterPredictor
    from geospatial_mm.inference.sources import Sample
    from geospatial_mm.inference.split_scene import plan_work
    checkpoint(Path(ckpt))
    model = OpenMMLabModel(str(CONFIG), ckpt, device='cpu', cfg_options=model_options(False))
    predictor = SegmentationRasterPredictor(model, batch_size=batch_size)
    options = PredictOptions(batch_size=batch_size, split_scene=count > 1, progress=False,
                             shard=(index, count) if count > 1 else None)
    sample = Sample('scene', {'img_path': raster}, raster)
    [work] = plan_work(predictor, [sample], options, 0, 1)
    joins: list[float] = []
    join = predictor.join

    def timed_join(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        start = time.time()
        join(*args, **kwargs)
        joins.append(time.time() - start)
    predictor.join = timed_join  # type: ignore[method-assign]
    Path(barrier, f'ready_{index}').touch()
    while len(list(Path(barrier).glob('ready_*'))) < count:
        time.sleep(0.01)
    start = time.time()
    result, done = predict_sample(predictor, work, out, options, lambda name: (lambda n: None,) * 2 + (lambda: None,))
    end = time.time()
    if result.status != 'ok':
        raise RuntimeError(f'process {index}: {result.error}')
    return dict(index=index, start=start, end=end, join_seconds=round(joins[0], 3) if joins else None,
                joined=bool(joins) or count == 1, log=done, peak_rss_mb=peak_rss_mb(), tile=predictor.tile,
                stride=predictor.stride, readers=predictor.readers, part=list(work.part.bounds) if work.part else None)


def run_kind(kind: str, raster: Path, ckpt: Path, work: Path, batch_size: int) -> dict:
    """Start the processes of ``kind`` together; their results and the run's figures."""
    processes, threads = KINDS[kind]
    out, barrier = work / f'out_{kind}', work / f'barrier_{kind}'
    for folder in (out, barrier):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob('*'):
            old.unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_') and k != 'GLIBC_TUNABLES'}
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    procs = [subprocess.Popen([sys.executable, __file__, '--worker', str(raster), str(ckpt), str(out), str(i),
                               str(processes), str(threads), str(barrier), str(batch_size)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(processes)]
    rows = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=3 * 3600)
        lines = [ln for ln in stdout.splitlines() if ln.startswith('RESULT ')]
        if proc.returncode or not lines:
            raise RuntimeError(f'a {kind} process failed (exit {proc.returncode}):\n{stdout[-3000:]}\n{stderr[-3000:]}')
        rows.append(json.loads(lines[-1][len('RESULT '):]))
    seconds = max(r['end'] for r in rows) - min(r['start'] for r in rows)
    joins = [r['join_seconds'] for r in rows if r['join_seconds'] is not None]
    return dict(kind=kind, processes=processes, threads=threads, seconds=round(seconds, 3),
                join_seconds=joins[0] if joins else 0.0, peak_rss_mb=[r['peak_rss_mb'] for r in rows],
                parts=[r['part'] for r in rows], tile=rows[0]['tile'], stride=rows[0]['stride'],
                readers=rows[0]['readers'], output=str(out / 'scene_pred.tif'))


def differing_pixels(reference: str, other: str) -> int:
    """The pixels in which two class maps differ."""
    import numpy as np
    import rasterio
    with rasterio.open(reference) as a, rasterio.open(other) as b:
        return int(np.count_nonzero(a.read() != b.read()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', default='4096x16384', help='rows x columns (default 4096x16384)')
    parser.add_argument('--rounds', type=int, default=1, help='runs of each kind, alternating (default 1)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--work', type=Path, default=Path('/tmp/gmm_split_scene_bench'),
                        help='folder of the checkpoint, the raster and the outputs (reused when there)')
    parser.add_argument('--json', type=Path, help='also write the results here')
    parser.add_argument('--worker', nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        raster, ckpt, out, index, count, threads, barrier, batch = args.worker
        print('RESULT ' + json.dumps(worker(raster, ckpt, out, int(index), int(count), int(threads), barrier,
                                            int(batch))), flush=True)
        return 0
    if args.rounds < 1:
        parser.error('--rounds: expected at least 1')
    height, width = parse_size(args.size)
    args.work.mkdir(parents=True, exist_ok=True)
    ckpt = args.work / 'small_model.pth'
    subprocess.run([sys.executable, '-c', f'import sys; sys.path[:0] = [{str(ROOT)!r}, {str(HERE)!r}]; '
                    f'from inference import checkpoint; from pathlib import Path; checkpoint(Path({str(ckpt)!r}))'],
                   check=True, capture_output=True)
    raster = args.work / f'scene_{height}x{width}.tif'
    make_raster(raster, height, width)

    runs: dict[str, list[dict]] = {k: [] for k in KINDS}
    for round_ in range(args.rounds):
        for kind in KINDS:
            row = run_kind(kind, raster, ckpt, args.work, args.batch_size)
            row['round'] = round_ + 1
            row['megapixels_per_s'] = round(height * width / 1e6 / row['seconds'], 4)
            runs[kind].append(row)
            print(f'round {round_ + 1} {kind:>11}: {row["seconds"]:.1f} s, {row["megapixels_per_s"]:.3f} MP/s, '
                  f'join {row["join_seconds"]:.1f} s, peak RSS {row["peak_rss_mb"]} MB', flush=True)

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])
    speed = {k: median(k, 'megapixels_per_s') for k in KINDS}
    split_seconds = median('split', 'seconds')
    ratios = dict(split_over_one_thread=round(speed['split'] / speed['one_thread'], 3),
                  split_over_two_threads=round(speed['split'] / speed['two_threads'], 3),
                  join_share=round(median('split', 'join_seconds') / split_seconds, 4))
    met = dict(split_over_one_thread=ratios['split_over_one_thread'] >= TARGETS['split_over_one_thread'],
               split_over_two_threads=ratios['split_over_two_threads'] >= TARGETS['split_over_two_threads'],
               join_share=ratios['join_share'] <= TARGETS['join_share'])
    last = {k: runs[k][-1] for k in KINDS}
    # the split run's processes have one thread, as one_thread: the same kernels, so the same pixels; two threads
    # split the model's sums otherwise, which may flip a pixel whose two classes are nearly tied
    differ = {k: differing_pixels(last['one_thread']['output'], last[k]['output']) for k in ('two_threads', 'split')}
    report = dict(size=[height, width], rounds=args.rounds, model='tiny Prithvi', device='cpu', cpus=os.cpu_count(),
                  tile=last['split']['tile'], stride=last['split']['stride'], readers=last['split']['readers'],
                  batch_size=args.batch_size, parts=last['split']['parts'],
                  megapixels_per_s=speed, seconds={k: median(k, 'seconds') for k in KINDS},
                  join_seconds=median('split', 'join_seconds'),
                  peak_rss_mb={k: max(max(r['peak_rss_mb']) for r in runs[k]) for k in KINDS},
                  **ratios, targets=TARGETS, targets_met=met, pixels_differing_from_one_thread=differ, runs=runs)
    print(f'\n{height} x {width} px, tiles of {report["tile"]} px every {report["stride"]} px, tiny Prithvi on the '
          f'CPU ({os.cpu_count()} cores), batches of {args.batch_size}, median of {args.rounds} round(s):')
    for kind in KINDS:
        print(f'  {kind:>11}: {report["seconds"][kind]:.1f} s = {speed[kind]:.3f} MP/s, peak RSS per process '
              f'{report["peak_rss_mb"][kind]} MB')
    print(f'  split / one thread {ratios["split_over_one_thread"]:.2f}x (target >= 1.7), split / two threads '
          f'{ratios["split_over_two_threads"]:.2f}x (target >= 1.0), join {report["join_seconds"]:.2f} s = '
          f'{100 * ratios["join_share"]:.1f} % of the split run (target <= 5 %)')
    print(f'  pixels of the class map differing from one_thread: two_threads {differ["two_threads"]}, split '
          f'{differ["split"]}')
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
