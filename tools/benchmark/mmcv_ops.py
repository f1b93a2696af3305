#!/usr/bin/env python
"""The slumps Mask R-CNN with mmcv's compiled ops against mmcv-lite with the ops served by torchvision, side by side.

Both runs use the same environment, data, config, seed and deterministic mode; only the module that ``import
mmcv._ext`` loads differs. For the compiled ops, the benchmark puts a copy of the installed mmcv's Python files with
the compiled ``_ext`` of a full mmcv wheel (``--wheel``, default: the one ``GEOSPATIAL_MM_MMCV=full make install``
cached) first on the path; each run checks which module served it. For each provider it reports

* the training losses of every iteration (``--iters``, default 20, logged every iteration);
* the test segm and bbox mAP of the trained checkpoint on the validation tiles;
* training seconds per iteration (after the first ``--skip`` iterations) and whole-scene prediction time
  (tools/model_inference.py over the demo scenes, the model's own time as it logs it).

The runs alternate (compiled, provider, compiled, provider, ... ``--rounds``) so that drift of the machine's speed
falls on both; speeds are medians over the rounds.

    python tools/benchmark/mmcv_ops.py [--iters 20] [--rounds 2] [--work /tmp/gmm_mmcv_ops] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from geospatial_mm.io.atomic import write_json_atomic  # noqa: E402

CONFIG = ROOT / 'tests' / 'configs' / 'tiny_slumps_mask_rcnn.py'
SCENE = 'WV02_20160709_M1BS_10300100591D6600-toa_pansharpen.tif'
PROBE = ("import geospatial_mm, mmcv._ext as e, sys; "
         "print('PROVIDER', 'torchvision' if e.__file__.endswith('.py') else 'compiled', e.__file__)")


def cached_wheel() -> Path | None:
    cache = Path(os.environ.get('GEOSPATIAL_MM_CACHE', Path.home() / '.cache' / 'geospatial_mm')) / 'mmcv'
    found = sorted(cache.glob('*/mmcv-2.1.0-*.whl'))
    return found[-1] if found else None


def compiled_overlay(wheel: Path, work: Path) -> Path:
    """A folder holding ``mmcv/``: the installed mmcv's Python files and the wheel's compiled ``_ext``."""
    import mmcv
    overlay = work / 'compiled_mmcv'
    if not (overlay / 'mmcv').is_dir():
        shutil.copytree(Path(mmcv.__file__).parent, overlay / 'mmcv',
                        ignore=shutil.ignore_patterns('_ext*.so', '__pycache__'))
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if re.fullmatch(r'mmcv/_ext\..*\.so', n)]
            if not names:
                raise SystemExit(f'{wheel} holds no compiled mmcv/_ext')
            archive.extract(names[0], overlay)
    return overlay


def run(cmd: list, env: dict, log: Path | None = None) -> str:
    proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    if log is not None:
        log.write_text(proc.stdout + proc.stderr)
    if proc.returncode:
        raise SystemExit(f'failed ({proc.returncode}): {" ".join(map(str, cmd))}\n{proc.stderr[-3000:]}')
    return proc.stdout + proc.stderr


def make_data(work: Path, py: str, env: dict) -> tuple[Path, Path]:
    demo, tiles = work / 'demo' / 'slumps', work / 'tiles'
    if not tiles.is_dir():
        run([py, ROOT / 'tools' / 'make_demo_data.py', work / 'demo', '--datasets', 'slumps', '--size', '192'], env)
        run([py, ROOT / 'tools' / 'raster_to_coco.py', '-i', demo / SCENE, '-l', demo / 'trialrun_label.tif', '-o',
             tiles, '--size', '64', '--overlap', '16', '--val-fraction', '0.25'], env)
    return demo, tiles


def one_round(name: str, env: dict, py: str, args, demo: Path, tiles: Path, work: Path) -> dict:
    provider = run([py, '-c', PROBE], env).split('PROVIDER ')[-1].split()[0]
    if provider != name:
        raise SystemExit(f'the {name} run would load the {provider} ops')
    out = work / f'{name}_{time.monotonic_ns()}'
    ann = tiles / 'annotations' / 'instances_val.json'
    options = [f'{k}.dataset.data_root={tiles}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    options += [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}', f'randomness.seed={args.seed}',
                'randomness.deterministic=True', f'train_cfg.max_iters={args.iters}',
                f'train_cfg.val_interval={args.iters}', f'default_hooks.checkpoint.interval={args.iters}',
                'default_hooks.logger.interval=1']
    log = run([py, ROOT / 'tools' / 'train.py', CONFIG, '--work-dir', out, '--cfg-options', *options], env,
              out.with_suffix('.train.log'))
    iterations = re.findall(r'Iter\(train\) \[\s*(\d+)/\d+\].*?time: ([0-9.]+).*? loss: ([0-9.]+)', log)
    losses = [float(loss) for _, _, loss in iterations]
    times = [float(t) for i, t, _ in iterations if int(i) > args.skip]
    metrics_file = out / 'metrics.json'
    run([py, ROOT / 'tools' / 'test.py', out / CONFIG.name, out / f'iter_{args.iters}.pth', '--eval', 'bbox', 'segm',
         '--metrics-out', metrics_file, '--work-dir', out / 'test'], env)
    metrics = json.loads(metrics_file.read_text())
    start = time.perf_counter()
    run([py, ROOT / 'tools' / 'model_inference.py', '-config', out / CONFIG.name, '-ckpt',
         out / f'iter_{args.iters}.pth', '-input', demo / 'scenes', '-output', out / 'pred', '--no-progress'], env)
    predict_s = time.perf_counter() - start
    return dict(losses=losses, train_s_per_iter=statistics.median(times) if times else None,
                segm_mAP=metrics['coco/segm_mAP'], bbox_mAP=metrics['coco/bbox_mAP'], predict_s=predict_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--wheel', type=Path, default=cached_wheel(),
                        help='a full mmcv 2.1.0 wheel with compiled ops (default: the cached one)')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--skip', type=int, default=5, help='iterations left out of the speed (warm-up)')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work', type=Path, default=Path('/tmp/gmm_mmcv_ops'))
    parser.add_argument('--json', type=Path)
    args = parser.parse_args()
    if args.wheel is None or not args.wheel.is_file():
        raise SystemExit('no full mmcv wheel: build one with GEOSPATIAL_MM_MMCV=full make install, or give --wheel')
    args.work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    base = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', str(os.cpu_count())))
    lite_env = dict(base)
    compiled_env = dict(base, PYTHONPATH=os.pathsep.join([str(compiled_overlay(args.wheel, args.work)),
                                                          base.get('PYTHONPATH', '')]).rstrip(os.pathsep))
    demo, tiles = make_data(args.work, py, lite_env)
    rounds = {'compiled': [], 'torchvision': []}
    for _ in range(args.rounds):
        for name, env in (('compiled', compiled_env), ('torchvision', lite_env)):
            rounds[name].append(one_round(name, env, py, args, demo, tiles, args.work))
            print(name, json.dumps(rounds[name][-1]), flush=True)
    report = dict(config=str(CONFIG.relative_to(ROOT)), iters=args.iters, seed=args.seed, rounds=args.rounds,
                  wheel=args.wheel.name, cpu=os.cpu_count(), providers={})
    for name, runs in rounds.items():
        report['providers'][name] = dict(
            losses=runs[0]['losses'], same_losses_every_round=all(r['losses'] == runs[0]['losses'] for r in runs),
            segm_mAP=runs[0]['segm_mAP'], bbox_mAP=runs[0]['bbox_mAP'],
            train_s_per_iter=statistics.median(r['train_s_per_iter'] for r in runs),
            predict_s=statistics.median(r['predict_s'] for r in runs))
    c, t = report['providers']['compiled'], report['providers']['torchvision']
    report['max_loss_difference'] = max((abs(a - b) for a, b in zip(c['losses'], t['losses'])), default=None)
    report['train_speed_torchvision_vs_compiled'] = c['train_s_per_iter'] / t['train_s_per_iter']
    report['predict_speed_torchvision_vs_compiled'] = c['predict_s'] / t['predict_s']
    print(json.dumps(report, indent=1))
    if args.json:
        write_json_atomic(args.json, report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
