"""What a prediction run reports: one record per sample and their counts (the ``--summary`` JSON file)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from geospatial_mm.io.atomic import JSONValue

Status = Literal['ok', 'skipped', 'failed']


@dataclass
class SampleResult:
    """One sample of a run.

    Attributes:
        name: the sample's name (the stem of its outputs).
        input: the raster whose size and georeference the outputs take.
        rank: the rank that predicted it (0 without a launcher).
        outputs: ``{kind: path}`` of its outputs (``classes``, ``probabilities``, ``instances``, ``preview``, ...).
        status: ``'ok'``, ``'skipped'`` (its outputs existed) or ``'failed'``.
        error: why it failed (``'<ErrorType>: <message>'``), else None.
        seconds: the time it took.
        part: ``[index, count]`` when the record is of one part of a raster shared by several processes
            (``--split-scene``), else None.
        joined: this process joined the raster's parts into its outputs.
    """
    name: str
    input: str
    rank: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    status: Status = 'ok'
    error: str | None = None
    seconds: float = 0.0
    part: list[int] | None = None
    joined: bool = False

    @property
    def complete(self) -> bool:
        """Whether the sample's outputs exist after this record: predicted, joined, or there already."""
        return self.status == 'skipped' or (self.status == 'ok' and (self.part is None or self.joined))


@dataclass
class RunSummary:
    """Every sample of a run (all ranks), with the precision the model ran in.

    Attributes:
        samples: one record per sample, in the order of the ranks.
        world_size: the number of ranks that shared the samples.
        precision: the floating-point type the model ran in (``'fp32'``, ``'bf16'``, ``'fp16'``, ``'int8'``).
        precision_reason: why (``--precision auto``'s choice, or asked for).
        shard: ``(index, count)`` of a shard's run (``--shard``), else None.
    """
    samples: list[SampleResult]
    world_size: int = 1
    precision: str = 'fp32'
    precision_reason: str = ''
    shard: tuple[int, int] | None = None

    def count(self, status: Status) -> int:
        """The number of samples with this status.

        Args:
            status: ``'ok'``, ``'skipped'`` or ``'failed'``.

        Returns:
            How many samples have it.
        """
        return sum(s.status == status for s in self.samples)

    @property
    def failed(self) -> list[SampleResult]:
        """The samples that failed."""
        return [s for s in self.samples if s.status == 'failed']

    @property
    def exit_status(self) -> int:
        """0 when every sample has its outputs, 1 when some failed (tools/model_inference.py's exit status)."""
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, JSONValue]:
        """The summary as the ``--summary`` JSON file holds it.

        Returns:
            ``samples`` (one dict per sample), the counts ``ok``, ``skipped`` and ``failed``, ``world_size``,
            ``precision`` and ``precision_reason``.
        """
        samples: list[JSONValue] = [dataclasses.asdict(s) for s in self.samples]
        return dict(samples=samples, ok=self.count('ok'),
                    skipped=self.count('skipped'), failed=self.count('failed'), world_size=self.world_size,
                    precision=self.precision, precision_reason=self.precision_reason,
                    shard=list(self.shard) if self.shard else None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = 'summary') -> RunSummary:
        """A summary as :meth:`to_dict` wrote it.

        Args:
            data: the JSON object.
            where: the file, named in errors.

        Returns:
            The summary.

        Raises:
            ValueError: the object is not such a summary.
        """
        try:
            fields = {f.name for f in dataclasses.fields(SampleResult)}
            samples = [SampleResult(**{k: v for k, v in s.items() if k in fields}) for s in data['samples']]
            shard = data.get('shard')
            return cls(samples, world_size=int(data.get('world_size', 1)), precision=str(data.get('precision', '')),
                       precision_reason=str(data.get('precision_reason', '')),
                       shard=(int(shard[0]), int(shard[1])) if shard else None)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f'{where}: not a summary of tools/model_inference.py ({type(exc).__name__}: {exc})') \
                from None


def merge_summaries(summaries: Sequence[RunSummary]) -> tuple[RunSummary, list[str]]:
    """One summary of the runs of several shards (and of reruns of some of them).

    A sample recorded by several runs keeps its best record (:func:`combine_parts`).

    Args:
        summaries: the shards' summaries, oldest first.

    Returns:
        ``(merged, problems)``: the samples in name order; ``problems`` names the shards of a sharded run that no
        summary covers and shard counts that disagree.
    """
    best = combine_parts([record for summary in summaries for record in summary.samples])
    problems: list[str] = []
    counts = {s.shard[1] for s in summaries if s.shard}
    if len(counts) > 1:
        problems.append(f'the summaries are of runs split into different numbers of shards: {sorted(counts)}')
    elif counts:
        count = counts.pop()
        missing = sorted(set(range(count)) - {s.shard[0] for s in summaries if s.shard})
        if missing:
            problems.append(f'no summary of shard(s) {", ".join(f"{i}/{count}" for i in missing)}: their samples are '
                            'not in the merged summary')
    precisions = sorted({s.precision for s in summaries})
    merged = RunSummary(sorted(best, key=lambda r: r.name),
                        world_size=max((s.world_size for s in summaries), default=1),
                        precision='/'.join(precisions), precision_reason='; '.join(sorted(
                            {s.precision_reason for s in summaries if s.precision_reason})))
    return merged, problems


def combine_parts(records: Sequence[SampleResult], other_processes: bool = False) -> list[SampleResult]:
    """One record per sample of the records of several processes (ranks, shards, reruns), oldest first.

    A sample keeps its best record: one after which its outputs exist (predicted whole, joined from its parts, or
    there already) over a failed one, and among equals the later (a rerun with ``--skip-existing`` after a cancelled
    shard). A raster shared by several processes whose parts were never joined is a failure that names the parts
    missing (or, when all were predicted, that a rerun of any of them joins them) - unless processes whose records
    are not given may still join it (``other_processes``: the run of one shard): then its predicted parts are a
    success.

    Args:
        records: the records, oldest first.
        other_processes: processes outside these records share the rasters (a shard's run).

    Returns:
        One record per sample, in the order of their first records.
    """
    by_name: dict[str, list[SampleResult]] = {}
    for record in records:
        by_name.setdefault(record.name, []).append(record)
    combined: list[SampleResult] = []
    for name, group in by_name.items():
        done = [r for r in group if r.complete]
        if done:
            combined.append(done[-1])
            continue
        parts = [r for r in group if r.part is not None]
        if not parts:
            combined.append(group[-1])  # failed whole: the latest failure
            continue
        count = parts[-1].part[1] if parts[-1].part else 0
        predicted = {r.part[0] for r in parts if r.part and r.part[1] == count and r.status == 'ok'}
        missing = [i for i in range(count) if i not in predicted]
        errors = [f'part {r.part[0]}/{r.part[1]}: {r.error}' for r in parts if r.status == 'failed' and r.part]
        if other_processes:  # the run of a shard: another one may join
            combined.append(parts[-1] if not errors else dataclasses.replace(parts[-1], error='; '.join(errors)))
            continue
        if missing:
            why = f'part(s) {", ".join(f"{i}/{count}" for i in missing)} of the raster were not predicted'
        else:
            why = f'all {count} parts of the raster were predicted but never joined'
        why += ' (rerun their processes with --skip-existing)' + ''.join(f'; {e}' for e in errors)
        combined.append(dataclasses.replace(parts[-1], status='failed', error=why, joined=False))
    return combined
