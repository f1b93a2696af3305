"""What each process of a run predicts, and how a process predicts its part of a raster that several share.

A run has ``workers`` processes: its ranks (``--launcher pytorch``) times its shards (``--shard``, SLURM job arrays).
Whole samples are shared as before (every shard's every rank-th sample). A raster shared among the processes
(``--split-scene``, or larger than ``--split-above``) is cut into one part per process
(:meth:`~geospatial_mm.inference.predictor.RasterPredictor.split`); process ``i`` predicts part ``i`` into the part
folder (:mod:`.scene_parts`) and then tries to join: the last process to finish a raster's part joins them into its
outputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from geospatial_mm.errors import GeospatialMMError
from geospatial_mm.io.raster import RasterMeta
from .options import PredictOptions
from .outputs import outputs_complete
from .predictor import RasterPredictor
from .previews import write_preview
from .scene_parts import PartFolder, ScenePart
from .shards import take_shard
from .sources import Sample
from .summary import SampleResult

# (on_start, on_tiles, close) of a progress bar
ProgressCallbacks = tuple[Callable[[int], None], Callable[[int], None], Callable[[], None]]


@dataclass(frozen=True)
class Work:
    """A sample a process predicts: whole, or its part ``part`` of ``parts``."""
    sample: Sample
    part: ScenePart | None = None
    parts: tuple[ScenePart, ...] = ()


def workers_of(rank: int, world: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    """This process's index among the run's processes, and their number.

    Args:
        rank: the rank (0 without a launcher).
        world: the number of ranks.
        shard: ``(index, count)`` of the run's shard, or None.

    Returns:
        ``(worker, workers)``: ranks of shard ``index`` are ``index * world + rank`` of ``count * world``.
    """
    index, count = shard or (0, 1)
    return index * world + rank, count * world


def shared_parts(predictor: RasterPredictor, sample: Sample, options: PredictOptions,
                 workers: int) -> tuple[ScenePart, ...]:
    """The parts of ``sample`` when the run's processes share it, else none.

    A raster is shared when there are several processes and ``split_scene`` is True, or None and the raster has more
    than ``split_above`` megapixels. A sample whose header cannot be read is predicted whole (and fails there, with
    its error).

    Args:
        predictor: the run's predictor.
        sample: the sample.
        options: the run's options (``split_scene``, ``split_above``).
        workers: the number of processes.

    Returns:
        Its parts (at least two), or an empty tuple.
    """
    if workers < 2 or options.split_scene is False or sample.problem:
        return ()
    try:
        meta = predictor.check(sample)[0]
    except (GeospatialMMError, OSError):
        return ()
    if options.split_scene is None and meta.height * meta.width <= options.split_above * 1e6:
        return ()
    parts = predictor.split(meta, workers)
    return tuple(parts) if len(parts) > 1 else ()


def plan_work(predictor: RasterPredictor, samples: list[Sample], options: PredictOptions, rank: int,
              world: int) -> list[Work]:
    """What this process predicts, in the samples' order.

    Every process finds the same samples in the same order, so all agree without talking to each other.

    Args:
        predictor: the run's predictor.
        samples: all samples of the run.
        options: the run's options.
        rank: this process's rank.
        world: the number of ranks.

    Returns:
        Its whole samples (every shard's every rank-th of the samples not shared) and its part of each shared one.
    """
    worker, workers = workers_of(rank, world, options.shard)
    shared = {i: shared_parts(predictor, s, options, workers) for i, s in enumerate(samples)}
    whole = [i for i in range(len(samples)) if not shared[i]]
    mine = set(take_shard(whole, options.shard)[rank::world])
    work: list[Work] = []
    for i, sample in enumerate(samples):
        parts = shared[i]
        if parts and worker < len(parts):
            work.append(Work(sample, parts[worker], parts))
        elif not parts and i in mine:
            work.append(Work(sample))
    return work


def predict_part_into(result: SampleResult, predictor: RasterPredictor, work: Work, output_dir: Path,
                      options: PredictOptions, progress: Callable[[str], ProgressCallbacks]) -> str:
    """Predict this process's part of a shared raster, then join the parts when all are there.

    With ``skip_existing`` a raster whose outputs exist is skipped, and so is a part whose files exist (its join is
    still tried).

    Args:
        result: the record to fill (``outputs``, ``status``, ``joined``).
        predictor: the run's predictor.
        work: the sample and its part.
        output_dir: the output folder.
        options: the run's options.
        progress: makes the callbacks of a progress bar for a name.

    Returns:
        What happened, for the log.
    """
    sample, part = work.sample, work.part
    assert part is not None, 'a whole sample is not a part'
    outputs = predictor.output_paths(sample, output_dir)
    result.outputs = {k: str(v) for k, v in outputs.items()}
    if options.skip_existing and outputs_complete(outputs):
        result.status = 'skipped'
        return 'outputs exist, skipped'
    metas = predictor.check(sample)
    folder = predictor.part_folder(sample, metas, output_dir)
    kinds = predictor.part_kinds()
    files = folder.files(part, kinds)
    lo, hi = part.bounds
    if options.skip_existing and outputs_complete(files):
        done = f'part {part} ({part.unit} {lo}-{hi}) exists'
    else:
        folder.path.mkdir(parents=True, exist_ok=True)
        on_start, on_tiles, close = progress(f'{sample.name} {part}')
        try:
            predictor.predict_part(sample, metas, part, files, on_tiles=on_tiles, on_start=on_start)
        finally:
            close()
        done = f'part {part} ({part.unit} {lo}-{hi}) written'
    joined, waiting = join_when_complete(predictor, sample, metas, list(work.parts), folder, outputs)
    result.joined = joined
    if joined and options.preview_dir:
        result.outputs['preview'] = str(write_preview(predictor, sample, outputs, options.preview_dir,
                                                      options.labels))
    if joined:
        return f'{done}; joined -> {outputs[next(iter(outputs))]}'
    if waiting:
        return f'{done}; waiting for part(s) {", ".join(str(p) for p in waiting)}'
    return f'{done}; joined by another process'


def join_when_complete(predictor: RasterPredictor, sample: Sample, metas: list[RasterMeta], parts: list[ScenePart],
                       folder: PartFolder, outputs: dict[str, Path]) -> tuple[bool, list[ScenePart]]:
    """Join the raster's parts into its outputs if every part is complete, then remove them (under the join lock).

    Args:
        predictor: the run's predictor.
        sample: the sample.
        metas: its inputs' headers.
        parts: all its parts.
        folder: their folder.
        outputs: its outputs.

    Returns:
        ``(joined, waiting)``: whether this process joined them, and the parts still missing (none when another
        process joined them first).
    """
    kinds = predictor.part_kinds()
    with folder.locked() as held:
        if not held:  # the folder is gone: joined by another process (unless someone deleted it)
            return False, [] if outputs_complete(outputs) else parts
        missing = folder.missing(parts, kinds)
        if missing:
            return False, missing
        predictor.join(sample, metas, parts, [folder.files(p, kinds) for p in parts], outputs)
        folder.remove()
    return True, []
