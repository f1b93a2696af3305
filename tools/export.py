#!/usr/bin/env python
"""Export a trained segmentation config to one model file that predicts without the OpenMMLab stack.

    python tools/export.py configs/burn_scars.py work_dirs/burn_scars/best_mIoU.pth burn_scars.pt2
    python tools/export.py configs/dfc2020_unet.py CKPT dfc2020_unet.onnx --format onnx --tile 256
    python tools/model_inference.py -model burn_scars.pt2 -input scenes/ -output predictions/

The file holds the model with the config's normalisation and frame layout (a torch.export program, .pt2, or an ONNX
model, .onnx) and, inside it, metadata: what to read from the rasters and how (bands and their order, frames, scale,
offset, clip, NaN and nodata handling), the tile and stride, classes and palette, how logits become classes and
probabilities, the input type (one file, one file per date, a pre/post pair, band groups of several files), and the
package version. tools/model_inference.py -model runs it with torch alone (.pt2) or onnxruntime alone (.onnx). Before
the file is written in place, its logits on a probe raster are checked against the config's own model and pipeline.

Segmentation configs only: detection configs (Mask R-CNN) cannot be exported yet.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout

from geospatial_mm.engine.launch import LazyDictAction  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file of the trained model (the work dir\'s copy has every option)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('output', help='the model file to write: NAME.pt2 (torch.export) or NAME.onnx')
    parser.add_argument('--format', choices=['torch', 'onnx'],
                        help='torch (.pt2) or onnx (.onnx); default: from the output\'s suffix')
    parser.add_argument('--tile', type=int,
                        help='tile size in pixels the model is exported for (default: the config\'s sliding window)')
    parser.add_argument('--static-batch', type=int, metavar='N',
                        help='export for batches of exactly N tiles (default: any batch size, --dynamic-batch)')
    parser.add_argument('--dynamic-batch', action='store_true', default=True,
                        help='any batch size (the default)')
    parser.add_argument('--bands', type=int, nargs='+',
                        help='0-based bands of the input files, for a config that reads every band')
    parser.add_argument('--opset', type=int, default=18, help='ONNX opset (default 18)')
    parser.add_argument('--quantize', choices=['int8'],
                        help='.onnx only: write the model quantized to int8 by onnxruntime, once its class map on '
                        'probe tiles agrees with the fp32 model\'s on at least --min-agreement percent of the pixels')
    parser.add_argument('--calibration', choices=['dynamic', 'static'], default='dynamic',
                        help='int8: dynamic (weights ahead of time, activations per batch; MatMul/Gemm: ViTs such as '
                        'Prithvi) or static (weights and activations, calibrated on tiles of --calibration-input; '
                        'convolutions too: UNets). Default dynamic')
    parser.add_argument('--calibration-input', metavar='FOLDER',
                        help='int8: rasters like the model\'s data (a folder or one file, found as '
                        'tools/model_inference.py finds its -input): static calibration reads --probes tiles of them, '
                        'and the agreement with fp32 is measured on --probes others. Without it, synthetic probe '
                        'rasters serve, which say little about real scenes')
    parser.add_argument('--calibration-post-input', metavar='FOLDER',
                        help='int8, pre/post configs: the post-event rasters of --calibration-input')
    parser.add_argument('--input-type', default='tif', help='file suffix of the calibration rasters (default tif)')
    parser.add_argument('--probes', type=int, default=8,
                        help='int8: tiles to calibrate on, and as many to measure the agreement on (default 8)')
    parser.add_argument('--min-agreement', type=float, default=99.5, metavar='PERCENT',
                        help='int8: the smallest share of pixels whose class must equal fp32\'s (default 99.5)')
    parser.add_argument('--cfg-options', nargs='+', action=LazyDictAction, default={},
                        help='override config entries, as for tools/train.py')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow checkpoints whose unpickling may execute code (only for files you trust)')
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    suffix = os.path.splitext(args.output)[1].lower()
    if args.format and {'torch': '.pt2', 'onnx': '.onnx'}[args.format] != suffix:
        parser.error(f'--format {args.format} writes a {"pt2" if args.format == "torch" else "onnx"} file: name the '
                     f'output accordingly (got {args.output})')
    if suffix not in ('.pt2', '.onnx'):
        parser.error(f'the output must end in .pt2 (torch.export) or .onnx, got {args.output}')
    if args.trust_checkpoint:
        os.environ['GEOSPATIAL_MM_TRUST_CHECKPOINTS'] = '1'
    import geospatial_mm  # noqa: F401  (compatibility shims and registries)
    from geospatial_mm.export import ExportError, export_model
    try:
        meta = export_model(args.config, args.checkpoint, args.output, tile=args.tile,
                            dynamic_batch=args.static_batch is None, batch_size=args.static_batch or 1,
                            cfg_options=args.cfg_options, bands=args.bands, opset=args.opset,
                            quantize=args.quantize, calibration=args.calibration, min_agreement=args.min_agreement,
                            probes=args.probes, calibration_input=args.calibration_input,
                            calibration_post_input=args.calibration_post_input, input_type=args.input_type)
    except (ExportError, OSError, ValueError, RuntimeError) as exc:
        print(f'export: error: {type(exc).__name__}: {exc}', file=sys.stderr)
        return 2
    size = os.path.getsize(args.output) / 2 ** 20
    print(f'wrote {args.output} ({size:.1f} MiB): {meta["runtime"]}, tiles of {meta["tile"]} px every '
          f'{meta["stride"]} px, {meta["input"]["channels"]} input channels, {len(meta["classes"])} classes; '
          f'largest logit difference to the config\'s model on a probe: '
          f'{meta["check"]["max_abs_logit_difference"]:.2e}')
    if meta.get('quantization'):
        q = meta['quantization']
        print(f'int8 ({q["method"]}): the class map agrees with fp32 on {q["agreement_percent"]:.2f} % of '
              f'{q["probe_pixels"]} pixels of {q["probe_source"]} (at least {q["min_agreement_percent"]} % asked for)')
    print(json.dumps({k: meta[k] for k in ('config', 'checkpoint', 'tile', 'stride', 'classes', 'probability_rule')}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
