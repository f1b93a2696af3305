"""The file loop of tools/model_inference.py: find the samples, share them across ranks, predict each one into
georeferenced rasters (and previews), report every failure with its file, and summarise.

A file that cannot be read or predicted is reported and the others are still processed; the run then exits with a
non-zero status. Outputs appear under their final names only when complete, so ``--skip-existing`` after a crash or
a kill redoes exactly what is missing.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

from geospatial_mm.errors import GeospatialMMError
from geospatial_mm.io import RasterError
from geospatial_mm.io.atomic import check_writable_folder, missing_folders, remove_empty_folders, write_json_atomic
from .detection import DetectionRasterPredictor
from .exported_format import runtime_of
from .memory import release_freed_memory
from .outputs import overwrite_problem
from .precision import choose_precision
from .previews import preview_path, write_preview
from .ranks import Ranks
from .segmentation import SegmentationRasterPredictor
from .sources import Sample, discover


class SetupError(GeospatialMMError, RuntimeError):
    """Nothing can run: the config, the checkpoint or the input folder is unusable."""


def log(msg: str, rank: int = 0, world: int = 1) -> None:
    prefix = f'[rank {rank}] ' if world > 1 else ''
    print(f'{prefix}{msg}', flush=True)


def input_paths(samples: list[Sample]) -> set[str]:
    """The real paths of every input file of the run."""
    paths = set()
    for sample in samples:
        for value in sample.paths.values():
            for p in [value] if isinstance(value, str) else value:
                paths.add(os.path.realpath(p))
        paths.add(os.path.realpath(sample.primary))
    return paths


def check_outputs(predictor, samples: list[Sample], args) -> None:
    """A sample whose output would overwrite an input of the run (or any file this tool did not write) fails with
    that problem instead of being predicted."""
    inputs = input_paths(samples)
    for sample in samples:
        if sample.problem:
            continue
        outputs = list(predictor.output_paths(sample, args.output, **predictor_options(predictor, args)).values())
        if args.preview_dir:
            outputs.append(preview_path(args.preview_dir, sample))
        for path in outputs:
            problem = overwrite_problem(path, inputs)
            if problem:
                sample.problem = problem
                break


def outputs_complete(paths: dict) -> bool:
    """Every output exists and its rasters open (outputs are only ever renamed into place when complete)."""
    import rasterio
    from rasterio.errors import RasterioError
    for p in paths.values():
        if not Path(p).is_file():
            return False
        if Path(p).suffix.lower() not in ('.tif', '.tiff'):
            continue
        try:
            with rasterio.open(p):
                pass
        except RasterioError:
            return False
    return True


def build_model(args, device: str):
    """The model of the run: an exported model file (``-model``, with torch or onnxruntime alone), or a config and
    its checkpoint on the OpenMMLab stack (imported only then). The tool's options are checked against it."""
    scaling = dict(scale=args.input_scale, offset=args.input_offset, clip=args.input_clip)
    precision = choose_precision(args.precision, device, runtime_of(args.model) if args.model else 'torch')
    if args.model:
        from .exported_model import ExportedModel
        model = ExportedModel(args.model, device=device, precision=precision.name, bands=args.bands,
                              input_scaling=scaling)
    else:
        from .openmmlab_model import OpenMMLabModel
        model = OpenMMLabModel(args.config, args.ckpt, device=device, precision=precision.name, bands=args.bands,
                               cfg_options=args.cfg_options, input_scaling=scaling)
    if model.precision == precision.name:  # an int8 file says why it runs in int8 itself
        model.precision_reason = precision.reason
    if model.task == 'detection':
        for option, given in (('--probabilities', args.probabilities), ('--preview-dir', args.preview_dir)):
            if given:
                raise ValueError(f'{option} is for segmentation configs; a detection config writes instance ids, '
                                 'classes and scores (and --geojson polygons)')
    elif args.geojson:
        raise ValueError('--geojson writes the instances of detection configs (default_scope mmdet)')
    if args.labels and model.label_converter() is None:
        raise ValueError('--labels needs the config the model was trained with (-config/-ckpt): an exported model '
                         'does not record how its labels were read')
    return model


def predictor_options(predictor, args) -> dict:
    """The options of the tool that the predictor's outputs depend on (``--probabilities`` for segmentation)."""
    return dict(probabilities=args.probabilities) if isinstance(predictor, SegmentationRasterPredictor) else {}


def build_predictor(model, args):
    """The predictor for the model's task: instance rasters for detection, class maps otherwise."""
    common = dict(batch_size=args.batch_size, tile=args.tile, stride=args.stride, readers=args.readers)
    if model.task == 'detection':
        return DetectionRasterPredictor(model, score_thr=args.score_thr, merge_thr=args.merge_thr,
                                        min_area=args.min_area, geojson=args.geojson, **common)
    return SegmentationRasterPredictor(model, **common)


def set_up(args, device: str, folders: list) -> tuple:
    """Check the folders the run writes to (before anything is read), build the model and its predictor, list the
    samples and check their outputs; returns ``(predictor, samples, left_out, options)``; raises
    :class:`SetupError` on any problem."""
    try:
        for folder, what in folders:
            check_writable_folder(folder, what)
    except OSError as exc:  # nothing could be written: stop before reading anything
        raise SetupError(str(exc)) from exc
    try:
        model = build_model(args, device)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise SetupError(f'{type(exc).__name__}: {exc}') from exc
    try:
        predictor = build_predictor(model, args)
        left_out: list = []
        samples = discover(predictor.spec, args.input, args.input_type, args.post_input, left_out)
        check_outputs(predictor, samples, args)
        options = predictor_options(predictor, args)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise SetupError(f'{type(exc).__name__}: {exc}') from exc
    return predictor, samples, left_out, options


def run(args) -> int:
    """Run the tool; returns the exit status (0: every sample has its outputs, 1: some failed)."""
    ranks = Ranks.start(args.launcher, args.device)
    rank, world = ranks.rank, ranks.world
    device = args.device
    if device.startswith('cuda') and world > 1 and device == 'cuda':
        device = f'cuda:{int(os.environ.get("LOCAL_RANK", 0))}'
    folders = [(args.output, 'output folder')]
    if args.preview_dir:
        folders.append((args.preview_dir, 'preview folder'))
    if args.summary:
        folders.append((Path(args.summary).parent, 'folder of the summary'))
    created = [f for folder, _ in folders for f in missing_folders(folder)]
    try:
        predictor, samples, left_out, options = set_up(args, device, folders)
    except SetupError:  # nothing ran: leave no folder behind that the run created
        remove_empty_folders(created)
        raise
    if left_out and rank == 0:
        names = ', '.join(p.name for p in left_out[:5]) + (' ...' if len(left_out) > 5 else '')
        log(f'left out {len(left_out)} file(s) written by an earlier run of model_inference (not inputs): {names}')
    mine = samples[rank::world]
    log(f'{len(samples)} sample(s) in {args.input}; this rank takes {len(mine)}; tiles of {predictor.tile} px '
        f'every {predictor.stride} px, batches of {predictor.batch_size}, on {device} in {predictor.precision} '
        f'({predictor.model.precision_reason}), '
        f'{predictor.readers} reader thread(s)', rank, world)
    show_bars = not args.no_progress and sys.stderr.isatty() and rank == 0
    from tqdm import tqdm
    files_bar = tqdm(total=len(mine), desc='files', unit='file', position=0, disable=not show_bars)
    results = []
    for i, sample in enumerate(mine, 1):
        record = dict(name=sample.name, input=sample.primary, rank=rank, outputs={}, status='ok', error=None)
        start = time.time()
        try:
            if sample.problem:
                raise RasterError(sample.problem)
            outputs = predictor.output_paths(sample, args.output, **options)
            record['outputs'] = {k: str(v) for k, v in outputs.items()}
            if args.skip_existing and outputs_complete(outputs):
                record['status'] = 'skipped'
                log(f'[{i}/{len(mine)}] {sample.primary}: outputs exist, skipped', rank, world)
            else:
                tiles_bar = tqdm(desc=sample.name, unit='tile', position=1, leave=False, disable=not show_bars)
                try:
                    predictor.predict(sample, args.output, cog=args.cog, **options,
                                      on_start=lambda n: setattr(tiles_bar, 'total', n),
                                      on_tiles=tiles_bar.update)
                finally:
                    tiles_bar.close()
                if args.preview_dir:
                    record['outputs']['preview'] = str(write_preview(predictor, sample, outputs, args.preview_dir,
                                                                     args.labels))
                log(f'[{i}/{len(mine)}] {sample.primary} -> {next(iter(outputs.values()))} '
                    f'({time.time() - start:.1f} s)',
                    rank, world)
        except Exception as exc:  # reported per file; the other files still run
            record['status'] = 'failed'
            record['error'] = f'{type(exc).__name__}: {exc}'
            log(f'[{i}/{len(mine)}] FAILED {sample.primary}: {record["error"]}', rank, world)
            if args.verbose:
                traceback.print_exc()
        record['seconds'] = round(time.time() - start, 3)
        results.append(record)
        files_bar.update(1)
    files_bar.close()
    release_freed_memory()  # the batches' buffers, kept resident between them (memory.py)

    gathered = ranks.gather(results)
    everything = [r for part in gathered for r in part]
    failed = [r for r in everything if r['status'] == 'failed']
    if rank == 0:
        counts = {s: sum(r['status'] == s for r in everything) for s in ('ok', 'skipped', 'failed')}
        log(f'summary: {len(everything)} sample(s): {counts["ok"]} predicted, {counts["skipped"]} skipped (outputs '
            f'existed), {counts["failed"]} failed')
        for r in failed:
            log(f'  failed: {r["input"]}: {r["error"]}')
        if args.summary:
            write_json_atomic(args.summary, dict(samples=everything, **counts, world_size=world,
                                                 precision=predictor.precision,
                                                 precision_reason=predictor.model.precision_reason))
    ranks.finish()
    return 1 if failed else 0
