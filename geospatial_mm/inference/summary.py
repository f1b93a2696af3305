"""What a prediction run reports: one record per sample and their counts (the ``--summary`` JSON file)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

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
    """
    name: str
    input: str
    rank: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    status: Status = 'ok'
    error: str | None = None
    seconds: float = 0.0


@dataclass
class RunSummary:
    """Every sample of a run (all ranks), with the precision the model ran in.

    Attributes:
        samples: one record per sample, in the order of the ranks.
        world_size: the number of ranks that shared the samples.
        precision: the floating-point type the model ran in (``'fp32'``, ``'bf16'``, ``'fp16'``, ``'int8'``).
        precision_reason: why (``--precision auto``'s choice, or asked for).
    """
    samples: list[SampleResult]
    world_size: int = 1
    precision: str = 'fp32'
    precision_reason: str = ''

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
                    precision=self.precision, precision_reason=self.precision_reason)
