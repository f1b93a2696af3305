#!/usr/bin/env python
"""Predict georeferenced class maps for a folder of rasters with a trained config of geospatial_mm.

    python tools/model_inference.py -config configs/burn_scars.py -ckpt best.pth -input scenes/ -output preds/
    python tools/model_inference.py -config configs/xview2_siamese_unet.py -ckpt K -input pre/ --post-input post/ ...
    python tools/model_inference.py -model burn_scars.pt2 -input scenes/ -output preds/     # tools/export.py's file
    torchrun --nproc_per_node 2 tools/model_inference.py ... --launcher pytorch     # files shared across ranks

Inputs: every ``*<input_type>`` file of -input is one sample; for a multi-temporal config that takes one file per
date, every sub-folder of -input is one sample (its files, in name order, are the dates); for a pre/post config,
-input holds the pre images and --post-input the post images, matched by name with the 'pre'/'post' parts removed;
for a config reading several files per sample (LoadGeospatialBandGroups, e.g. path keys s2_path and s1_path), -input
holds the sub-folders s2/ and s1/ (or s2_<x>/ and s1_<x>/ pairs), files matched by name with '_s2_'/'_s1_' ignored.
Rasters may also be remote (a URL, a GDAL /vsi path, a text file listing them): they are read window by window with
range requests, never downloaded whole. STAC items (-input an Item/ItemCollection/Catalog, or --stac-search) are one
sample each (a group of dates with --group-by), their assets named by --assets mapped to the model's bands.

Outputs, per sample, in -output: ``<name>_pred.tif`` (uint8 classes, the config's palette as colour table, class
names in the metadata, 255 where the input is nodata), with --probabilities ``<name>_prob.tif`` (float32, one band
per class, -1 where nodata), with --preview-dir ``<name>_preview.png``. A detection config (default_scope mmdet, e.g.
configs/slumps_mask_rcnn.py) writes instead ``<name>_instances.tif`` (instance ids, 0 none; instances cut by tile
borders merged), ``<name>_class_score.tif`` (band 1 class 1..K, band 2 score) and with --geojson
``<name>_instances.geojson`` (polygons in the raster's CRS). Same size, CRS and transform as the input.
Scenes of any size are processed in tiles with bounded memory; outputs are written under temporary names and renamed
when complete. A sample that fails is reported and the others still run; the exit status is then 1.
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout

from geospatial_mm.engine.launch import LazyDictAction  # noqa: E402


def parse_bands(values):
    """``-bands 0 1 2``, ``-bands 0,1,2`` or ``-bands "[0, 1, 2]"``."""
    if values is None:
        return None
    text = ' '.join(values)
    parts = [p for p in re.split(r'[\s,\[\]]+', text) if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f'-bands takes 0-based band indices, got {text!r}') from None


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-config', '--config', help='config file of the trained model')
    parser.add_argument('-ckpt', '--ckpt', '--checkpoint', dest='ckpt', help='checkpoint file')
    parser.add_argument('-model', '--model',
                        help='instead of -config/-ckpt: a model file written by tools/export.py (.pt2 for torch, '
                        '.onnx for onnxruntime), run without the OpenMMLab libraries')
    parser.add_argument('-input', '--input',
                        help='folder of input rasters, one raster, a URL (http(s)://, s3://) or GDAL /vsi path of '
                        'one, a text file listing rasters or URLs one a line, or a STAC Item / ItemCollection / '
                        'Catalog (JSON file or URL); optional with --stac-search')
    parser.add_argument('-output', '--output', required=True, help='folder for the predictions')
    parser.add_argument('-input_type', '--input-type', dest='input_type', default='tif',
                        help="file ending of the inputs: 'tif' (default), 'png', or a suffix such as '_merged.tif'")
    parser.add_argument('-bands', '--bands', nargs='+', default=None,
                        help='0-based band indices to read from each input file (default: the config\'s)')
    parser.add_argument('-device', '--device', default='cpu', help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument('--post-input',
                        help='folder of post-event images (or a URL list of them), for pre/post configs')
    stac = parser.add_argument_group('STAC inputs (docs/inference.md: Remote rasters and STAC)')
    stac.add_argument('--stac-search', metavar='API_URL', help='search this STAC API for the items to predict')
    stac.add_argument('--collections', nargs='+', help='STAC search: collection ids')
    stac.add_argument('--bbox', nargs=4, type=float, metavar=('WEST', 'SOUTH', 'EAST', 'NORTH'),
                      help='STAC search: bounding box in degrees')
    stac.add_argument('--datetime', help='STAC search: an instant or interval, e.g. 2024-06-01/2024-06-30')
    stac.add_argument('--max-items', type=int, help='STAC search: at most this many items')
    stac.add_argument('--query', nargs='+', help='STAC search: property filters, e.g. "eo:cloud_cover<20"')
    stac.add_argument('--assets', nargs='+',
                      help='the asset (or band) names of the model\'s input bands, in the model\'s band order, e.g. '
                      'B02 B03 B04 B8A B11 B12 (default: stac_assets of the config\'s loader)')
    stac.add_argument('--group-by', help='multi-temporal configs: the item property whose items (in time order) are '
                      'the dates of one sample, e.g. s2:mgrs_tile')
    stac.add_argument('--sign', choices=['planetary-computer'],
                      help='sign the assets\' URLs for this service (needs the extra geospatial_mm[stac-pc])')
    stac.add_argument('--resolution', type=float,
                      help='pixel size of the grid the assets are read onto (default: the first asset\'s)')
    parser.add_argument('--batch-size', type=int, default=8, help='tiles per forward pass (default 8)')
    parser.add_argument('--precision', choices=['auto', 'fp32', 'bf16', 'fp16'], default='auto',
                        help='auto (default): bf16 autocast where the CPU (avx512_bf16, amx_bf16) or GPU computes it '
                        'natively, fp32 elsewhere; or fp32, or autocast in bf16 / fp16')
    parser.add_argument('--input-scale', type=float,
                        help='multiply file values by this instead of the config\'s scale (another sensor or product '
                        'level; see docs/inference.md: Landsat-8 L1 2e-5, Sentinel-2 and HLS 1e-4)')
    parser.add_argument('--input-offset', type=float,
                        help='add this after scaling instead of the config\'s offset (Landsat-8 L1 -0.1, Sentinel-2 '
                        'L2A from processing baseline 04.00 -0.1)')
    parser.add_argument('--input-clip', type=float, nargs=2, metavar=('LOW', 'HIGH'),
                        help='clip file values to this range (file units) before scaling')
    parser.add_argument('--readers', type=int,
                        help='threads reading tiles (default: 1 on the CPU, up to 4 on a GPU)')
    parser.add_argument('--tile', type=int,
                        help='tile size in pixels (default: the config\'s sliding window; detection configs: '
                        'tile_size)')
    parser.add_argument('--stride', type=int,
                        help='tile step in pixels (default: the config\'s, or tile/2; detection configs: tile minus '
                        'tile_overlap)')
    parser.add_argument('--probabilities', action='store_true', help='also write per-class probabilities')
    parser.add_argument('--cog', action='store_true', help='write Cloud-Optimised GeoTIFFs')
    parser.add_argument('--geojson', action='store_true',
                        help='detection configs: also write the instances as GeoJSON polygons in the raster\'s CRS')
    parser.add_argument('--score-thr', type=float, default=0.5,
                        help='detection configs: leave out instances scoring below (default 0.5)')
    parser.add_argument('--merge-thr', type=float, default=0.5,
                        help='detection configs: two instances of neighbouring tiles are one object cut by the border '
                        'when the pixels they share in the tiles\' overlap reach this fraction of the smaller one '
                        'there (default 0.5)')
    parser.add_argument('--min-area', type=int, default=0,
                        help='detection configs: drop instances of fewer pixels (default 0: keep all)')
    parser.add_argument('--skip-existing', action='store_true', help='skip samples whose outputs are complete')
    parser.add_argument('--preview-dir', help='write a preview PNG per sample (RGB | prediction | label) here')
    parser.add_argument('--labels', help='folder of label rasters shown in the previews (named as in the config)')
    parser.add_argument('--cfg-options', nargs='+', action=LazyDictAction, default={},
                        help='override config entries (as for tools/train.py), e.g. model.backbone.arch=tiny')
    parser.add_argument('--summary', help='also write the per-sample summary to this JSON file')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help="'pytorch' (under torchrun): share the samples across the ranks")
    parser.add_argument('--shard', metavar='I/N',
                        help='predict only shard I of N of the samples (every N-th from I), with no process group: a '
                        'failed or cancelled shard costs only its samples (rerun it with --skip-existing). Default: '
                        'the task of a SLURM job array (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT) or of an '
                        'srun -n N (SLURM_PROCID of SLURM_NTASKS), without --launcher pytorch')
    split = parser.add_mutually_exclusive_group()
    split.add_argument('--split-scene', action='store_true', default=None,
                       help='share every raster among the processes of the run (ranks, shards): each predicts a band '
                       'of its rows into a part file, and the last to finish joins them into the output, the same as '
                       'one process writes. Default: only rasters larger than --split-above')
    split.add_argument('--no-split-scene', dest='split_scene', action='store_false',
                       help='never share a raster among processes (each predicts whole rasters)')
    parser.add_argument('--split-above', type=float, default=256.0, metavar='MPX',
                        help='without --split-scene, share rasters of more than MPX megapixels among the processes '
                        '(default 256, e.g. 16384 x 16384 pixels)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow checkpoints whose unpickling may execute code (only for files you trust)')
    parser.add_argument('--verbose', action='store_true', help='print tracebacks of failures')
    return parser


def options_of(args) -> dict:
    """The prediction options (geospatial_mm.apis.predict's keyword arguments) of the command line."""
    return dict(input_type=args.input_type, post_input=args.post_input, batch_size=args.batch_size, tile=args.tile,
                stride=args.stride, readers=args.readers, cog=args.cog, probabilities=args.probabilities,
                preview_dir=args.preview_dir, labels=args.labels, geojson=args.geojson, score_thr=args.score_thr,
                merge_thr=args.merge_thr, min_area=args.min_area, skip_existing=args.skip_existing,
                summary=args.summary, launcher=args.launcher, progress=not args.no_progress, verbose=args.verbose,
                assets=tuple(args.assets) if args.assets else None, group_by=args.group_by,
                resolution=args.resolution, stac_search=args.stac_search,
                collections=tuple(args.collections) if args.collections else None,
                bbox=tuple(args.bbox) if args.bbox else None, datetime=args.datetime, max_items=args.max_items,
                query=tuple(args.query) if args.query else None, sign=args.sign, shard=args.shard,
                split_scene=args.split_scene, split_above=args.split_above)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model and (args.config or args.ckpt or args.cfg_options):
        parser.error('-model replaces -config, -ckpt and --cfg-options: give either the exported model file or the '
                     'config and its checkpoint')
    if not args.input and not args.stac_search:
        parser.error('give -input (a folder, raster, URL, list of rasters or STAC document), or --stac-search')
    if not args.model and not (args.config and args.ckpt):
        parser.error('give -config and -ckpt (the trained config and its checkpoint), or -model (an exported model)')
    try:
        args.bands = parse_bands(args.bands)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    from geospatial_mm.inference.shards import ShardError, parse_shard, shard_from_environment
    try:
        args.shard = parse_shard(args.shard) if args.shard else \
            shard_from_environment() if args.launcher == 'none' else None
    except ShardError as exc:
        parser.error(str(exc))
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.trust_checkpoint:
        os.environ['GEOSPATIAL_MM_TRUST_CHECKPOINTS'] = '1'
    from geospatial_mm.apis import OptionsError, PredictOptions, SetupError, init_model, predict
    from geospatial_mm.inference.runner import prepare_output_folders
    from geospatial_mm.io.atomic import remove_empty_folders
    try:
        options = options_of(args)
        PredictOptions.from_kwargs(options)
    except OptionsError as exc:
        parser.error(str(exc))
    created = []
    try:  # the folders the run writes to are checked before anything is read
        created = prepare_output_folders(args.output, PredictOptions.from_kwargs(options))
        model = init_model(args.model or args.config, args.ckpt, device=args.device, cfg_options=args.cfg_options,
                           precision=args.precision, bands=args.bands, input_scale=args.input_scale,
                           input_offset=args.input_offset, input_clip=args.input_clip)
        return predict(model, [args.input] if args.input else [], args.output, **options).exit_status
    except SetupError as exc:  # no sample could run: a bad config, checkpoint or input folder
        remove_empty_folders(created)  # nothing ran: leave no folder behind that the run created
        print(f'model_inference: error: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
