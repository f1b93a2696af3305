#!/usr/bin/env python
"""Prithvi ViT-B (Prithvi-100M) forward+backward on CPU: samples/s and peak activation memory at 224x224, for 1 and
3 frames, with and without gradient checkpointing, and torch's scaled_dot_product_attention vs an explicit softmax.

Each configuration runs in its own process so that its peak resident memory is its own. "Activation memory" is the
peak RSS of the first forward/backward minus the RSS just before it (model and gradient buffers already allocated),
i.e. what the pass itself needs; the timed steps follow.

    python tools/benchmark/prithvi_backbone.py [--batch 2] [--steps 5] [--arch prithvi_100m] [--threads N]
        [--frames 1 3]
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


def rss_mb() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def run_one(arch: str, frames: int, with_cp: bool, attn: str, batch: int, steps: int, threads: int) -> dict:
    import torch
    sys.path.insert(0, str(ROOT))
    from geospatial_mm.models.backbones import PrithviViT
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = PrithviViT(arch=arch, in_chans=6, num_frames=frames, with_cp=with_cp, attn_impl=attn).train()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    x = torch.randn(batch, 6, frames, 224, 224)

    def step():
        out = model(x)
        out[-1].float().mean().backward()

    # memory: the first step in this fresh process, measured from the RSS with model and gradients allocated
    base = rss_mb()
    step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    return dict(arch=arch, frames=frames, with_cp=with_cp, attn=attn, batch=batch,
                samples_per_s=batch * steps / elapsed, activation_mb=peak - base, peak_rss_mb=peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--arch', default='prithvi_100m')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    parser.add_argument('--frames', type=int, nargs='+', default=[1, 3], help='the frame counts to measure (1 3)')
    parser.add_argument('--json', help='also write the results here')
    parser.add_argument('--one', help=argparse.SUPPRESS)  # internal: run one configuration, print JSON
    args = parser.parse_args()
    if args.one:
        frames, with_cp, attn = args.one.split(',')
        print(json.dumps(run_one(args.arch, int(frames), with_cp == '1', attn, args.batch, args.steps, args.threads)))
        return
    configs = [(f, cp, attn) for f in args.frames for cp, attn in ((0, 'sdpa'), (0, 'math'), (1, 'sdpa'))]
    results = []
    for frames, cp, attn in configs:
        out = subprocess.run([sys.executable, __file__, '--one', f'{frames},{cp},{attn}', '--arch', args.arch,
                              '--batch', str(args.batch), '--steps', str(args.steps), '--threads',
                              str(args.threads)], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f'frames={frames} checkpointing={bool(cp)!s:<5} attention={attn:<4}: '
              f'{r["samples_per_s"]:.3f} samples/s, activation memory {r["activation_mb"]:.0f} MB', flush=True)
    print(f'\n{args.arch} forward+backward, 224x224, batch {args.batch}, {args.threads} threads, CPU')
    print(f'{"frames":>6} {"checkpointing":>14} {"attention":>10} {"samples/s":>10} {"activation MB":>14}')
    for r in results:
        print(f'{r["frames"]:>6} {str(r["with_cp"]):>14} {r["attn"]:>10} {r["samples_per_s"]:>10.3f} '
              f'{r["activation_mb"]:>14.0f}')
    if args.json:
        from geospatial_mm.io.atomic import write_json_atomic
        write_json_atomic(args.json, results)


if __name__ == '__main__':
    main()
