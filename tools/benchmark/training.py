#!/usr/bin/env python
"""Training throughput through mmengine's Runner against the model-only step, on the same machine, in one process.

Two numbers for the same config, model, optimizer, precision and batch size:

* **Runner**: ``runner.train()`` of the config (its dataloader with workers reading GeoTIFF windows, collation, the
  data preprocessor, the hooks, logging) for ``--iters`` iterations after ``--warmup``; samples/s over the timed
  iterations, and the mean data time the Runner logs (waiting for the dataloader).
* **Model only**: one batch, already preprocessed on the device, stepped ``--iters`` times through the same model and
  optim wrapper (forward, loss, backward, optimizer step); samples/s.

Their ratio is what the Runner's data path and bookkeeping cost. The data are the burn-scars demo rasters
(geospatial_mm.demo), the model by default the burn-scars config's with a tiny Prithvi (``--full-model`` for
Prithvi-100M).

    python tools/benchmark/training.py [--device cuda] [--precision bf16] [--batch-size 16] [--workers 8]
        [--iters 50] [--warmup 10] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
CONFIG = ROOT / 'configs' / 'burn_scars.py'
TINY = {'model.backbone.arch': 'tiny', 'model.neck.embed_dim': 64, 'model.neck.out_channels': 64,
        'model.decode_head.in_channels': 64, 'model.decode_head.channels': 32, 'model.auxiliary_head.in_channels': 64,
        'model.auxiliary_head.channels': 32}
DTYPES = {'bf16': 'bfloat16', 'fp16': 'float16'}


def make_data(work: Path, size: int) -> Path:
    from geospatial_mm.demo import burn_scars
    root = work / 'data' / 'hls_burn_scars'
    if not root.is_dir():
        burn_scars.make(work / 'data', size, 32, 4, 0)
    return root


def build_cfg(args, data_root: Path, work: Path):
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    options = {} if args.full_model else dict(TINY)
    options['model.backbone.pretrained'] = None
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = str(data_root)
    options.update({'train_dataloader.batch_size': args.batch_size, 'train_dataloader.num_workers': args.workers,
                    'train_dataloader.persistent_workers': args.workers > 0,
                    'train_dataloader.sampler': dict(type='InfiniteSampler', shuffle=True)})
    cfg.merge_from_dict(options)
    if args.workers == 0:
        cfg.train_dataloader.pop('prefetch_factor', None)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=args.warmup + args.iters, val_interval=10 ** 9)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10 ** 9)
    cfg.default_hooks.pop('visualization', None)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(1, args.iters // 5))
    cfg.param_scheduler = []
    if args.precision != 'fp32' and args.device.startswith('cuda'):
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.dtype = DTYPES[args.precision]
        cfg.optim_wrapper.loss_scale = 'dynamic' if args.precision == 'fp16' else 1.0
    elif args.precision != 'fp32':  # as tools/train.py --amp on a CPU
        cfg.optim_wrapper.type = 'CPUAutocastOptimWrapper'
        cfg.optim_wrapper.dtype = DTYPES[args.precision]
    cfg.randomness = dict(seed=args.seed)  # the same batches and initial weights in every precision
    cfg.work_dir = str(work / 'runner')
    cfg.launcher = 'none'
    cfg.env_cfg = dict(cudnn_benchmark=args.device.startswith('cuda'), dist_cfg=dict(backend='nccl'),
                       mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
    if args.device == 'cpu':
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
    return cfg


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(args) -> dict:
    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    import geospatial_mm  # noqa: F401  (registration, shims)
    from geospatial_mm.inference.memory import keep_freed_memory
    kept = keep_freed_memory() if args.malloc == 'keep' else False
    work = Path(args.work)
    data_root = make_data(work, args.size)
    cfg = build_cfg(args, data_root, work)

    class Timer(Hook):
        """Times the iterations after the warm-up, and the data time the Runner records for them."""
        priority = 'VERY_LOW'

        def __init__(self) -> None:
            self.start = self.end = None
            self.faults = 0
            self.data_times, self.losses = [], []

        def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
            if runner.iter == args.warmup:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                self.start = time.perf_counter()
                self.faults = minor_faults()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            self.losses.append(float(outputs['loss']))
            if runner.iter >= args.warmup:
                self.data_times.append(runner.message_hub.get_scalar('train/data_time').current())
            if runner.iter + 1 == args.warmup + args.iters:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                self.end = time.perf_counter()
                self.faults = minor_faults() - self.faults

    timer = Timer()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(timer)
    runner.train()
    samples = args.iters * args.batch_size
    runner_rate = samples / (timer.end - timer.start)

    # the same model and optim wrapper on one batch already on the device
    model, optim_wrapper = runner.model, runner.optim_wrapper
    # (collated from the dataset: a second iterator over a dataloader with persistent workers ends at once)
    loader = runner.train_dataloader
    batch = loader.collate_fn([loader.dataset[i] for i in range(args.batch_size)])
    data = model.data_preprocessor(batch, True)

    def step() -> None:
        with optim_wrapper.optim_context(model):
            losses = model(**data, mode='loss')
        parsed, _ = model.parse_losses(losses)
        optim_wrapper.update_params(parsed)

    for _ in range(args.warmup):
        step()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    faults = minor_faults()
    start = time.perf_counter()
    for _ in range(args.iters):
        step()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    model_rate = samples / (time.perf_counter() - start)
    model_faults = (minor_faults() - faults) / args.iters
    return dict(config=str(Path(args.config).relative_to(ROOT) if str(args.config).startswith(str(ROOT))
                           else args.config),
                model='full' if args.full_model else 'tiny Prithvi', device=args.device, precision=args.precision,
                batch_size=args.batch_size, workers=args.workers, iters=args.iters, warmup=args.warmup,
                runner_samples_per_s=runner_rate, model_only_samples_per_s=model_rate,
                ratio=runner_rate / model_rate, data_time_s=sum(timer.data_times) / len(timer.data_times),
                runner_iter_time_s=(timer.end - timer.start) / args.iters, cpu_count=os.cpu_count(),
                runner_faults_per_iter=timer.faults / args.iters, model_only_faults_per_iter=model_faults,
                losses=timer.losses, malloc_kept=kept,
                device_name=torch.cuda.get_device_name() if args.device.startswith('cuda') else 'cpu')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=str(CONFIG))
    parser.add_argument('--full-model', action='store_true', help="the config's own model (Prithvi-100M)")
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--precision', choices=['fp32', 'bf16', 'fp16'], default='fp32')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--workers', type=int, default=2, help='dataloader workers')
    parser.add_argument('--iters', type=int, default=30, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--size', type=int, default=512, help='size of the demo rasters')
    parser.add_argument('--work', default='/tmp/geospatial_mm_training_bench')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--malloc', choices=['default', 'keep'], default='default',
                        help="glibc malloc's defaults, or the streaming predictor's settings (freed buffers stay "
                        'resident between iterations, geospatial_mm.inference.memory)')
    parser.add_argument('--json', help='write the report here')
    args = parser.parse_args(argv)
    report = measure(args)
    print(f'{report["model"]}, {report["device"]} {report["precision"]}, batch {report["batch_size"]}, '
          f'{report["workers"]} workers: Runner {report["runner_samples_per_s"]:.2f} samples/s (data time '
          f'{1000 * report["data_time_s"]:.1f} ms/iter), model only {report["model_only_samples_per_s"]:.2f} '
          f'samples/s, ratio {report["ratio"]:.3f}; minor faults per iteration {report["runner_faults_per_iter"]:.0f} '
          f'Runner, {report["model_only_faults_per_iter"]:.0f} model only', flush=True)
    print('geospatial_mm training benchmark: ' + json.dumps(report), flush=True)
    if args.json:
        from geospatial_mm.io.atomic import write_json_atomic
        write_json_atomic(args.json, report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
