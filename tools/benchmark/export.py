#!/usr/bin/env python
"""Every way to run a model on the CPU, side by side: the full stack in fp32 (with the package's malloc settings,
and with those it used before), in bf16, and exported to ``.pt2``, ``.onnx`` and int8 ``.onnx``.

The burn-scars config (Prithvi-100M with random weights, or ``--small`` for the demo's tiny Prithvi) is exported by
tools/export.py (the int8 one quantized dynamically, its agreement measured on the benchmark raster); then for each
runtime a fresh process predicts a synthetic HLS-like raster (int16 reflectance x 10000, nodata -9999) the way
tools/model_inference.py does. Runtimes:

* ``full``: config + checkpoint through mmseg, fp32; ``full_before``: the same with the malloc settings the package
  used until buffers above 32 MB stayed resident (mmap threshold 32 MB, trim threshold 1 GiB); ``full_bf16``: bf16
  autocast;
* ``pt2`` (torch), ``onnx`` (onnxruntime), ``onnx_int8`` (onnxruntime, int8 weights and matmuls).

It reports, for each:

* start-up: from the moment the process is launched to the moment the first batch of tiles, read and prepared, goes
  into the model (interpreter, imports, model loading, the first tiles read): what a run costs before any tile is
  predicted; the end of that first batch is reported too;
* throughput: tiles per second after the first batch, over the rest of the raster (reading, model, blending,
  writing), and the minor page faults per tile meanwhile;
* peak RSS;
* agreement: the share of the raster's pixels (outside nodata) whose class equals the one the full stack in fp32
  gives.

    python tools/benchmark/export.py [--size 1024] [--small] [--device cpu] [--runtimes ...] [--json F]
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from inference import CONFIG, checkpoint, make_raster, model_options  # noqa: E402  (the inference benchmark's)

RUNTIMES = ('full', 'full_before', 'full_bf16', 'pt2', 'onnx', 'onnx_int8')
# glibc malloc settings the package used until buffers above 32 MB stayed resident, given through the environment,
# which the package then leaves alone (geospatial_mm.inference.memory)
MALLOC_BEFORE = {'MALLOC_MMAP_THRESHOLD_': str(32 << 20), 'MALLOC_TRIM_THRESHOLD_': str(1 << 30)}


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM: unlike getrusage's, not carried over from the parent that
    launched it)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def worker(kind: str, model: str, raster: str, out: str, batch_size: int, device: str, small: bool,
           launched: float) -> dict:
    """Predict ``raster`` in this process with the full stack (``model`` a checkpoint) or an exported file; only what
    that path needs is imported."""
    from geospatial_mm.inference.segmentation import SegmentationRasterPredictor
    from geospatial_mm.inference.sources import Sample
    if kind.startswith('full'):
        from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
        tile_model = OpenMMLabModel(str(CONFIG), model, device=device, cfg_options=model_options(not small),
                                    precision='bf16' if kind == 'full_bf16' else 'fp32')
    else:
        from geospatial_mm.inference.exported_model import ExportedModel
        tile_model = ExportedModel(model, device=device)
    predictor = SegmentationRasterPredictor(tile_model, batch_size=batch_size)
    state = dict(start=None, first=None, first_tiles=0, tiles=0, faults=0)
    forward = tile_model.forward

    def timed_forward(batch, size=None):  # the moment the first batch of tiles, read, reaches the model
        if state['start'] is None:
            state['start'] = time.time()
        return forward(batch, size)
    tile_model.forward = timed_forward

    def on_tiles(n: int) -> None:
        state['tiles'] += n
        if state['first'] is None:
            state['first'], state['first_tiles'], state['faults'] = time.time(), n, minor_faults()
    written = predictor.predict(Sample('bench', {'img_path': raster}, raster), out, on_tiles=on_tiles)
    end, faults = time.time(), minor_faults() - state['faults']
    rest = state['tiles'] - state['first_tiles']
    return dict(runtime=kind, startup_s=round(state['start'] - launched, 3),
                first_batch_s=round(state['first'] - launched, 3), total_s=round(end - launched, 2),
                tiles=state['tiles'], tiles_per_s=round(rest / (end - state['first']), 3) if rest else None,
                faults_per_tile=round(faults / rest) if rest else None, peak_rss_mb=peak_rss_mb(),
                precision=tile_model.precision, classes=str(written['classes']),
                torch_imported='torch' in sys.modules, openmmlab_imported='mmseg' in sys.modules)


def export(ckpt: Path, out: Path, small: bool, int8_calibration: Path | None = None, size: int = 0) -> dict:
    """Export the checkpoint to ``out`` unless it is there; int8 (dynamic) when ``int8_calibration`` names the
    rasters its agreement with fp32 is measured on."""
    import geospatial_mm  # noqa: F401
    from geospatial_mm.export import export_model
    from geospatial_mm.inference.exported_model import ExportedModel
    if out.exists():
        return dict(seconds=None, quantization=ExportedModel(str(out)).metadata.get('quantization'))
    start = time.time()
    quantize = dict(quantize='int8', calibration='dynamic', calibration_input=str(int8_calibration), min_agreement=0,
                    probes=max(1, min(4, (size // 224) ** 2 // 2))) if int8_calibration else {}
    meta = export_model(str(CONFIG), str(ckpt), str(out), cfg_options=model_options(not small), **quantize)
    return dict(seconds=round(time.time() - start, 1), check=meta['check'], quantization=meta.get('quantization'))


def agreement_percent(reference: str, other: str) -> float | None:
    """The share of the pixels (outside nodata, class 255) of two class rasters that have the same class."""
    import rasterio
    with rasterio.open(reference) as a, rasterio.open(other) as b:
        ref, got = a.read(1), b.read(1)
    valid = ref != 255
    return round(float(100.0 * (ref == got)[valid].mean()), 3) if valid.any() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=int, default=1024, help='raster side in pixels (default 1024)')
    parser.add_argument('--small', action='store_true', help='the demo\'s tiny Prithvi instead of Prithvi-100M')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--runtimes', nargs='+', choices=RUNTIMES, default=list(RUNTIMES))
    parser.add_argument('--work', default='/tmp/gmm_export_bench',
                        help='folder of the checkpoint, raster, model files and outputs; model files already there '
                        'are reused (delete them to export again)')
    parser.add_argument('--json', help='also write the results here')
    parser.add_argument('--worker', nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, model, raster, out, batch, device, launched = args.worker
        print('RESULT ' + json.dumps(worker(kind, model, raster, out, int(batch), device, args.small,
                                            float(launched))), flush=True)
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tag = 'small' if args.small else 'full'
    ckpt = checkpoint(work / f'burn_scars_{tag}.pth', full_model=not args.small)
    raster = work / f'hls_{args.size}.tif'
    make_raster(raster, args.size, args.size)
    files = {'full': ckpt, 'full_before': ckpt, 'full_bf16': ckpt, 'pt2': work / f'burn_scars_{tag}.pt2',
             'onnx': work / f'burn_scars_{tag}.onnx', 'onnx_int8': work / f'burn_scars_{tag}_int8.onnx'}
    exports = {k: export(ckpt, files[k], args.small, raster if k == 'onnx_int8' else None, args.size)
               for k in ('pt2', 'onnx', 'onnx_int8') if k in args.runtimes}
    rows = []
    for kind in args.runtimes:
        out = work / f'out_{kind}'
        for old in out.glob('*'):
            old.unlink()
        cmd = [sys.executable, __file__, *(['--small'] if args.small else []), '--worker', kind, str(files[kind]),
               str(raster), str(out), str(args.batch_size), args.device, repr(time.time())]
        env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_') and k != 'GLIBC_TUNABLES'}
        env['OMP_NUM_THREADS'] = os.environ.get('OMP_NUM_THREADS', str(os.cpu_count()))
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env=dict(env, **(MALLOC_BEFORE if kind == 'full_before' else {})))
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
        if proc.returncode or not lines:
            print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
            return 1
        row = json.loads(lines[-1][7:])
        row['model_file_mb'] = round(os.path.getsize(files[kind]) / 2 ** 20, 1)
        rows.append(row)
        print(f'{kind:>11}: start-up {row["startup_s"]:6.2f} s (first batch done at {row["first_batch_s"]} s), '
              f'{row["tiles_per_s"]} tiles/s after it ({row["faults_per_tile"]} minor faults per tile), '
              f'{row["tiles"]} tiles in {row["total_s"]} s, peak RSS {row["peak_rss_mb"]} MB, file '
              f'{row["model_file_mb"]} MB (torch imported: {row["torch_imported"]}, OpenMMLab imported: '
              f'{row["openmmlab_imported"]})', flush=True)
    full = next((r for r in rows if r['runtime'] == 'full'), None)
    for r in rows:
        if full and full['tiles_per_s'] and r['tiles_per_s']:
            r['throughput_vs_full'] = round(r['tiles_per_s'] / full['tiles_per_s'], 3)
        if full:
            r['agreement_with_full_fp32_percent'] = agreement_percent(full['classes'], r['classes'])
    print('\n| runtime | precision | tiles/s | vs full fp32 | faults/tile | peak RSS | start-up | agreement |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["runtime"]} | {r["precision"]} | {r["tiles_per_s"]} | {r.get("throughput_vs_full")} | '
              f'{r["faults_per_tile"]} | {r["peak_rss_mb"]} MB | {r["startup_s"]} s | '
              f'{r.get("agreement_with_full_fp32_percent")} % |')
    from geospatial_mm.inference.precision import cpu_flags
    flags = sorted(f for f in cpu_flags() if f.startswith(('avx', 'amx', 'fma')))
    result = dict(size=args.size, model='Prithvi tiny' if args.small else 'Prithvi-100M', device=args.device,
                  cpus=os.cpu_count(), cpu_flags=flags, exports=exports, rows=rows)
    print(json.dumps(result))
    if args.json:
        from geospatial_mm.io.atomic import write_json_atomic
        write_json_atomic(args.json, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
