"""The file loop of a prediction run (:func:`geospatial_mm.apis.predict`, tools/model_inference.py).

It finds the samples, shares them across ranks, predicts each one into georeferenced rasters (and previews), reports
every failure with its file, and summarises.

A file that cannot be read or predicted is reported and the others are still processed (the summary says which
failed). Outputs appear under their final names only when complete, so ``skip_existing`` after a crash or a kill
redoes exactly what is missing.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence, TypeAlias, Union

from geospatial_mm.errors import GeospatialMMError
from geospatial_mm.io import RasterError
from geospatial_mm.io.atomic import (
    check_writable_folder,
    missing_folders,
    remove_empty_folders,
    write_json_atomic,
)
from geospatial_mm.io.redaction import redact
from geospatial_mm.io.remote import is_gdal_path
from geospatial_mm.io.stac import is_stac_source, load_items, search_items, sign_items
from .detection import DetectionRasterPredictor
from .memory import release_freed_memory
from .options import PredictOptions
from .outputs import outputs_complete, overwrite_problem
from .predictor import RasterPredictor
from .previews import preview_path, write_preview
from .ranks import Ranks
from .segmentation import SegmentationRasterPredictor
from .sources import Sample, discover
from .split_scene import ProgressCallbacks, Work, plan_work, predict_part_into
from .stac_sources import stac_samples
from .summary import RunSummary, SampleResult, combine_parts
from .tile_model import TileModel

if TYPE_CHECKING:
    import pystac

PathLike: TypeAlias = Union[str, os.PathLike[str]]
Inputs: TypeAlias = Union[PathLike, Sequence[PathLike]]

# the predictor of each task
PREDICTORS: dict[str, type[RasterPredictor]] = {
    'segmentation': SegmentationRasterPredictor,
    'detection': DetectionRasterPredictor,
}


class SetupError(GeospatialMMError, RuntimeError):
    """Nothing can run: the model, an option, an input or an output folder is unusable."""


def log(msg: str, rank: int = 0, world: int = 1) -> None:
    """Print a line of the run's log (prefixed with the rank when there are several).

    Secrets (signed URLs' query strings, credentials) are redacted.

    Args:
        msg: the line.
        rank: this process's rank.
        world: the number of ranks.
    """
    prefix = f'[rank {rank}] ' if world > 1 else ''
    print(redact(f'{prefix}{msg}'), flush=True)


def output_folders(output_dir: PathLike, options: PredictOptions) -> list[tuple[Path, str]]:
    """The folders a run writes to, each with what it is (for error messages).

    Args:
        output_dir: the output folder.
        options: the run's options (``preview_dir``, ``summary``).

    Returns:
        ``(folder, what)`` pairs.
    """
    folders = [(Path(output_dir), 'output folder')]
    if options.preview_dir:
        folders.append((Path(options.preview_dir), 'preview folder'))
    if options.summary:
        folders.append((Path(options.summary).parent, 'folder of the summary'))
    return folders


def prepare_output_folders(output_dir: PathLike, options: PredictOptions) -> list[Path]:
    """Create the folders a run writes to and check that files can be written in them, before anything is read.

    Args:
        output_dir: the output folder.
        options: the run's options.

    Returns:
        The folders that were created (for :func:`~geospatial_mm.io.atomic.remove_empty_folders` when the run
        cannot start).

    Raises:
        SetupError: a folder cannot be created or written (those created are removed again).
    """
    folders = output_folders(output_dir, options)
    created = [f for folder, _ in folders for f in missing_folders(folder)]
    try:
        for folder, what in folders:
            check_writable_folder(folder, what)
    except OSError as exc:
        remove_empty_folders(created)
        raise SetupError(str(exc)) from exc
    return created


def input_paths(samples: list[Sample]) -> set[str]:
    """The real paths of every input file of a run.

    Args:
        samples: the run's samples.

    Returns:
        Their files' real paths.
    """
    paths: set[str] = set()
    for sample in samples:
        for value in sample.paths.values():
            for p in [value] if isinstance(value, str) else value:
                paths.add(p if is_gdal_path(p) else os.path.realpath(p))
        paths.add(sample.primary if is_gdal_path(sample.primary) else os.path.realpath(sample.primary))
    return paths


def check_outputs(predictor: RasterPredictor, samples: list[Sample], output_dir: PathLike,
                  preview_dir: str | None) -> None:
    """Give every sample whose output would overwrite a file it must not that problem, so that it fails.

    A file it must not overwrite is an input of the run, or any file this tool did not write; the sample then fails
    instead of being predicted.

    Args:
        predictor: the run's predictor.
        samples: the run's samples.
        output_dir: the output folder.
        preview_dir: the preview folder, or None.
    """
    inputs = input_paths(samples)
    for sample in samples:
        if sample.problem:
            continue
        outputs = list(predictor.output_paths(sample, Path(output_dir)).values())
        if preview_dir:
            outputs.append(preview_path(preview_dir, sample))
        for path in outputs:
            problem = overwrite_problem(path, inputs)
            if problem:
                sample.problem = problem
                break


def build_predictor(model: TileModel, options: PredictOptions) -> RasterPredictor:
    """The predictor of the model's task, built from the run's options.

    Args:
        model: the model.
        options: the run's options.

    Returns:
        Instance rasters for detection models, class maps for segmentation models.
    """
    return PREDICTORS[model.task].from_options(model, options)


def find_samples(predictor: RasterPredictor, inputs: Inputs, options: PredictOptions,
                 left_out: list[Path], scratch: PathLike | None = None) -> list[Sample]:
    """The samples of the inputs and of the options' STAC search.

    An input is a folder, a file, a URL, a list of rasters or a STAC document (Item, ItemCollection, Catalog).

    Args:
        predictor: the run's predictor (what its model reads).
        inputs: a folder, a file, a URL, or a list of them (none with ``stac_search``).
        options: the run's options (``input_type``, ``post_input``, the STAC options).
        left_out: receives the files left out as outputs of earlier runs.
        scratch: where the VRTs of STAC samples are written (removed by the caller after the run).

    Returns:
        The samples, in the order of the inputs (the search's last).

    Raises:
        ValueError: no input, or two inputs give samples of the same name (their outputs would overwrite each
            other).
    """
    sources = [] if inputs is None else [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not sources and not options.stac_search:
        raise ValueError('no input given')
    samples: list[Sample] = []

    def from_stac(items: list[pystac.Item], where: str) -> list[Sample]:
        if not items:
            raise ValueError(f'{redact(where)}: no STAC item found')
        if options.sign:
            items = sign_items(items, options.sign)
        assets = options.assets or predictor.spec.loader.get('stac_assets')
        if scratch is None:
            raise ValueError('STAC inputs need a scratch folder for their VRTs')
        return stac_samples(predictor.spec, items, list(assets or []), Path(scratch), options.group_by,
                            options.resolution)
    for source in sources:
        where = os.fspath(source)
        if is_stac_source(where):
            samples += from_stac(load_items(where), where)
        else:
            samples += discover(predictor.spec, where, options.input_type, options.post_input, left_out)
    if options.stac_search:
        found = search_items(options.stac_search, options.collections, options.bbox, options.datetime,
                             options.max_items, options.query)
        samples += from_stac(found, options.stac_search)
    seen: dict[str, str] = {}
    for sample in samples:
        if sample.name in seen and seen[sample.name] != sample.primary:
            raise ValueError(f'{sample.primary} and {seen[sample.name]} are both sample {sample.name!r}: their '
                             'outputs would overwrite each other; predict them into different folders')
        seen[sample.name] = sample.primary
    return samples


def set_up(model: TileModel, inputs: Inputs, output_dir: PathLike, options: PredictOptions,
           scratch: PathLike | None = None) -> tuple[RasterPredictor, list[Sample], list[Path]]:
    """Check the options against the model, build the predictor, list the samples and check their outputs.

    Args:
        model: the model.
        inputs: a folder, a file, or a list of them.
        output_dir: the output folder.
        options: the run's options.
        scratch: where the VRTs of STAC samples are written.

    Returns:
        ``(predictor, samples, left_out)``: ``left_out`` the files left out as outputs of earlier runs.

    Raises:
        SetupError: on any problem, with its type and message.
    """
    try:
        options.check_for(model)
        predictor = build_predictor(model, options)
        left_out: list[Path] = []
        samples = find_samples(predictor, inputs, options, left_out, scratch)
        check_outputs(predictor, samples, output_dir, options.preview_dir)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise SetupError(redact(f'{type(exc).__name__}: {exc}')) from exc
    return predictor, samples, left_out


def predict_sample(predictor: RasterPredictor, work: Work, output_dir: PathLike, options: PredictOptions,
                   progress: Callable[[str], ProgressCallbacks]) -> tuple[SampleResult, str]:
    """Predict one sample, or this process's part of it; a failure is recorded, not raised.

    Args:
        predictor: the run's predictor.
        work: the sample (and its part, for a raster shared by several processes).
        output_dir: the output folder.
        options: the run's options.
        progress: makes ``(on_start, on_tiles, close)`` callbacks of a progress bar for a sample name.

    Returns:
        The sample's record (``status`` ``'ok'``, ``'skipped'`` or ``'failed'`` with its ``error``) and what
        happened, for the log.
    """
    sample = work.sample
    result = SampleResult(name=sample.name, input=redact(sample.source))
    start = time.time()
    try:
        if work.part is None:
            done = _predict_into(result, predictor, sample, Path(output_dir), options, progress)
        else:
            result.part = [work.part.index, work.part.count]
            done = predict_part_into(result, predictor, work, Path(output_dir), options, progress)
    except Exception as exc:  # reported per file; the other files still run
        result.status = 'failed'
        result.error = redact(f'{type(exc).__name__}: {exc}')
        done = 'failed'
        if options.verbose:
            print(redact(traceback.format_exc()), file=sys.stderr, flush=True)
    result.seconds = round(time.time() - start, 3)
    return result, done


def _predict_into(result: SampleResult, predictor: RasterPredictor, sample: Sample, output_dir: Path,
                  options: PredictOptions, progress: Callable[[str], ProgressCallbacks]) -> str:
    """Predict one sample (or skip it when its outputs exist), recording its outputs and status in ``result``.

    Returns what happened, for the log.
    """
    if sample.problem:
        raise RasterError(sample.problem)
    outputs = predictor.output_paths(sample, output_dir)
    result.outputs = {k: str(v) for k, v in outputs.items()}
    if options.skip_existing and outputs_complete(outputs):
        result.status = 'skipped'
        return 'outputs exist, skipped'
    else:
        on_start, on_tiles, close = progress(sample.name)
        try:
            predictor.predict(sample, output_dir, on_tiles=on_tiles, on_start=on_start)
        finally:
            close()
        if options.preview_dir:
            result.outputs['preview'] = str(write_preview(predictor, sample, outputs, options.preview_dir,
                                                          options.labels))
        return f'-> {outputs[next(iter(outputs))]}'


def run(model: TileModel, inputs: Inputs, output_dir: PathLike, options: PredictOptions) -> RunSummary:
    """Predict every sample of ``inputs`` into ``output_dir``.

    Args:
        model: the model (:func:`geospatial_mm.apis.init_model`).
        inputs: a folder, a file, or a list of them.
        output_dir: the output folder (created when missing).
        options: the run's options.

    Returns:
        The summary of every rank's samples (each rank returns all of them).

    Raises:
        SetupError: nothing could run (an option, an input or an output folder is unusable); folders the run created
            are removed again.
    """
    # STAC samples are read through VRTs, which hold the assets' URLs (signed ones too): never kept past the run
    with tempfile.TemporaryDirectory(prefix='geospatial_mm_stac_') as scratch:
        return _run(model, inputs, output_dir, options, Path(scratch))


def _run(model: TileModel, inputs: Inputs, output_dir: PathLike, options: PredictOptions,
         scratch: Path) -> RunSummary:
    """:func:`run`, with the folder of the STAC samples' VRTs."""
    ranks = Ranks.start(options.launcher, str(model.device))
    rank, world = ranks.rank, ranks.world
    created = prepare_output_folders(output_dir, options)
    try:
        predictor, samples, left_out = set_up(model, inputs, output_dir, options, scratch)
    except SetupError:  # nothing ran: leave no folder behind that the run created
        remove_empty_folders(created)
        raise
    if left_out and rank == 0:
        names = ', '.join(p.name for p in left_out[:5]) + (' ...' if len(left_out) > 5 else '')
        log(f'left out {len(left_out)} file(s) written by an earlier run of model_inference (not inputs): {names}')
    mine = plan_work(predictor, samples, options, rank, world)
    inputs_text = inputs if isinstance(inputs, (str, os.PathLike)) else ', '.join(map(str, inputs))
    part = 'this rank'
    if options.shard:
        part = f'shard {options.shard[0]}/{options.shard[1]}' + (', this rank,' if world > 1 else '')
    shared = sum(w.part is not None for w in mine)
    takes = f'{len(mine) - shared}' + (f' and its part of {shared} shared raster(s)' if shared else '')
    log(f'{len(samples)} sample(s) in {inputs_text}; {part} takes {takes}; tiles of {predictor.tile} px '
        f'every {predictor.stride} px, batches of {predictor.batch_size}, on {model.device} in {predictor.precision} '
        f'({model.precision_reason}), {predictor.readers} reader thread(s)', rank, world)
    from tqdm import tqdm
    show_bars = options.progress and sys.stderr.isatty() and rank == 0
    files_bar = tqdm(total=len(mine), desc='files', unit='file', position=0, disable=not show_bars)

    def progress(name: str) -> ProgressCallbacks:
        """A tile progress bar for the sample ``name``: its callbacks."""
        bar = tqdm(desc=redact(name), unit='tile', position=1, leave=False, disable=not show_bars)

        def on_start(total: int) -> None:
            bar.total = total

        def on_tiles(done: int) -> None:
            bar.update(done)

        return on_start, on_tiles, bar.close

    results: list[SampleResult] = []
    for i, work in enumerate(mine, 1):
        result, done = predict_sample(predictor, work, output_dir, options, progress)
        result.rank = rank
        if result.status == 'failed':
            line = f'FAILED {work.sample.source}: {result.error}'
        elif work.part is None and result.status == 'ok':
            line = f'{work.sample.source} {done} ({result.seconds:.1f} s)'
        else:
            line = f'{work.sample.source}: {done}' + (f' ({result.seconds:.1f} s)' if result.status == 'ok' else '')
        log(f'[{i}/{len(mine)}] {line}', rank, world)
        results.append(result)
        files_bar.update(1)
    files_bar.close()
    release_freed_memory()  # the batches' buffers, kept resident between them (memory.py)

    gathered = ranks.gather(results)
    records = combine_parts([r for part in gathered for r in part], other_processes=options.shard is not None)
    summary = RunSummary(records, world_size=world, shard=options.shard,
                         precision=predictor.precision, precision_reason=model.precision_reason)
    if rank == 0:
        log(f'summary: {len(summary.samples)} sample(s): {summary.count("ok")} predicted, {summary.count("skipped")} '
            f'skipped (outputs existed), {summary.count("failed")} failed')
        for r in summary.failed:
            log(f'  failed: {r.input}: {r.error}')
        if options.summary:
            write_json_atomic(options.summary, summary.to_dict())
    ranks.finish()
    return summary
