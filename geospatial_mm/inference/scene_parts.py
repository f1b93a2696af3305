"""One raster shared by several processes (``--split-scene``): its parts, the folder that keeps them, the join lock.

A raster is cut into ``count`` parts, bands of rows (of raster rows for class maps, of tile rows for instances: each
predictor says how, :meth:`~geospatial_mm.inference.predictor.RasterPredictor.split`), and part ``i`` goes to the
``i``-th process of the run (rank, shard, or rank of a shard). Each process writes its part's files atomically into
one hidden folder beside the outputs, ``.<name>.parts-<fingerprint>/``, whose fingerprint hashes everything the
parts' values depend on (model, tiling, precision, outputs asked for, the raster's size and source), so that parts of
runs with other settings are never joined together.

When a process has written its part it tries to join: under an exclusive lock (``flock``, which NFS passes on to the
server) it checks that every part is complete, joins them into the final outputs (written atomically, as a
one-process run writes them) and removes the folder. The last process to finish therefore joins, whichever it is,
with no process group; a part cancelled or lost is redone alone by running its process again with
``--skip-existing``, and that run then joins.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from geospatial_mm.io.atomic import JSONValue
from .outputs import outputs_complete

Bounds = tuple[int, int]  # [start, stop) of the rows (raster rows or tile rows) of a part


@dataclass(frozen=True)
class ScenePart:
    """Part ``index`` of ``count`` of a raster: ``bounds``, the rows (``unit``: raster rows or tile rows) it covers."""
    index: int
    count: int
    bounds: Bounds
    unit: str = 'rows'

    def __str__(self) -> str:
        return f'{self.index}/{self.count}'


def part_bounds(length: int, count: int, align: int = 1) -> list[Bounds]:
    """Up to ``count`` consecutive bands of rows of about equal length that cover ``length`` rows.

    Each band starts at a multiple of ``align`` rows (the output's block height, so that no output block is written
    from two parts): band ``i`` ends at the multiple of ``align`` nearest to ``(i + 1) * length / count``. There are
    fewer bands than ``count`` when ``length`` is too short for them.

    Args:
        length: the rows to cover.
        count: the number of bands wanted.
        align: what each band's start is a multiple of.

    Returns:
        ``[start, stop)`` of each band, top to bottom.

    Raises:
        ValueError: ``length``, ``count`` or ``align`` is not positive.
    """
    if length <= 0 or count <= 0 or align <= 0:
        raise ValueError(f'cannot cut {length} rows into {count} parts aligned to {align}')
    cuts = sorted({round(length * i / count / align) * align for i in range(1, count)} - {0} | {length})
    cuts = [c for c in cuts if c <= length]
    return list(zip([0] + cuts[:-1], cuts))


def fingerprint(settings: Mapping[str, JSONValue]) -> str:
    """A short hash of what the values of a raster's parts depend on.

    Args:
        settings: JSON-serialisable settings.

    Returns:
        12 hexadecimal digits.
    """
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class PartFolder:
    """The hidden folder that keeps the parts of one raster until they are joined.

    Args:
        out_dir: the output folder.
        name: the sample's name.
        key: the fingerprint of the parts' settings (:func:`fingerprint`).
    """

    LOCK = '.join.lock'

    def __init__(self, out_dir: str | os.PathLike[str], name: str, key: str) -> None:
        self.path = Path(out_dir) / f'.{name}.parts-{key}'

    def files(self, part: ScenePart, kinds: Mapping[str, str]) -> dict[str, Path]:
        """The files of a part.

        Args:
            part: the part.
            kinds: ``{kind: file extension}`` of what a part holds.

        Returns:
            ``{kind: path}``.
        """
        stem = f'part_{part.index:04d}_of_{part.count:04d}'
        return {kind: self.path / f'{stem}.{kind}{ext}' for kind, ext in kinds.items()}

    def missing(self, parts: list[ScenePart], kinds: Mapping[str, str]) -> list[ScenePart]:
        """The parts that are not complete in the folder.

        Args:
            parts: all parts of the raster.
            kinds: ``{kind: file extension}`` of what a part holds.

        Returns:
            Those of ``parts`` with a file missing (files appear only when complete; rasters must open).
        """
        return [part for part in parts if not outputs_complete(self.files(part, kinds))]

    @contextlib.contextmanager
    def locked(self) -> Iterator[bool]:
        """Hold the folder's join lock (exclusive, across processes and hosts sharing the folder).

        Yields:
            True while the lock is held; False when the folder is gone (its parts were joined and removed).
        """
        try:
            fd = os.open(self.path / self.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self.path.is_dir()  # a process that joined before us removed it while we waited
        finally:
            os.close(fd)

    def remove(self) -> None:
        """Delete the folder and everything in it (after the join)."""
        shutil.rmtree(self.path, ignore_errors=True)
