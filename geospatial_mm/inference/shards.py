"""Shards: independent processes that each predict their own share of the samples, with no process group.

They are SLURM job array tasks, or the tasks of an ``srun``.
A shard that fails or is cancelled costs only its own samples; running it again with ``--skip-existing`` finishes
them. Shard ``i`` of ``n`` takes the samples ``i, i + n, i + 2n, ...`` of the run's sample list, which every shard
finds alike (the same inputs in the same order).
"""
from __future__ import annotations

import os
import re
from typing import Mapping, Sequence, TypeVar

from geospatial_mm.errors import GeospatialMMError

T = TypeVar('T')
Shard = tuple[int, int]
"""``(index, count)``: shard ``index`` (0-based) of ``count``."""


class ShardError(GeospatialMMError, ValueError):
    """A shard that is not ``I/N`` with ``0 <= I < N``, or SLURM variables that do not make one."""


def parse_shard(text: str) -> Shard:
    """``'I/N'`` as a shard.

    Args:
        text: ``I/N`` (``1/4`` is the second of four shards).

    Returns:
        ``(I, N)``.

    Raises:
        ShardError: not ``I/N`` with ``0 <= I < N``.
    """
    match = re.fullmatch(r'\s*(\d+)\s*/\s*(\d+)\s*', text)
    if not match:
        raise ShardError(f'--shard: expected I/N (shard I of N, from 0), found {text!r}')
    return check_shard((int(match.group(1)), int(match.group(2))))


def check_shard(shard: Sequence[int]) -> Shard:
    """A shard's two numbers, checked.

    Args:
        shard: ``(index, count)``.

    Returns:
        ``(index, count)`` as ints.

    Raises:
        ShardError: not two numbers with ``0 <= index < count``.
    """
    if len(shard) != 2:
        raise ShardError(f'a shard is (index, count), found {tuple(shard)}')
    index, count = int(shard[0]), int(shard[1])
    if count < 1 or not 0 <= index < count:
        raise ShardError(f'shard {index}/{count}: expected 0 <= index < count')
    return index, count


def shard_from_environment(environ: Mapping[str, str] | None = None) -> Shard | None:
    """The shard that SLURM gives this process, if any.

    A job array task is shard ``SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN`` of ``SLURM_ARRAY_TASK_COUNT`` (an array
    ``--array=0-2`` or ``--array=1-3`` has three shards; ids with gaps or steps are refused: give ``--shard``); else a
    task of an ``srun -n N`` is shard ``SLURM_PROCID`` of ``SLURM_NTASKS`` (only when N > 1).

    Args:
        environ: the environment (default: this process's).

    Returns:
        The shard, or None outside SLURM (or in a job of one task).

    Raises:
        ShardError: the array's task ids are not consecutive.
    """
    env = os.environ if environ is None else environ
    if env.get('SLURM_ARRAY_TASK_ID') and env.get('SLURM_ARRAY_TASK_COUNT'):
        task, count = int(env['SLURM_ARRAY_TASK_ID']), int(env['SLURM_ARRAY_TASK_COUNT'])
        low = int(env.get('SLURM_ARRAY_TASK_MIN', task))
        high = int(env.get('SLURM_ARRAY_TASK_MAX', low + count - 1))
        if high - low + 1 != count or int(env.get('SLURM_ARRAY_TASK_STEP', '1')) != 1:
            raise ShardError(f'SLURM job array ids {low}-{high} (step {env.get("SLURM_ARRAY_TASK_STEP", "1")}) are not '
                             f'{count} consecutive ids: give --shard I/N')
        return check_shard((task - low, count))
    if env.get('SLURM_PROCID') and int(env.get('SLURM_NTASKS', '1')) > 1:
        return check_shard((int(env['SLURM_PROCID']), int(env['SLURM_NTASKS'])))
    return None


def take_shard(items: Sequence[T], shard: Shard | None) -> list[T]:
    """The items of ``shard``: every ``count``-th from ``index``.

    Args:
        items: all items, in the order every shard sees them.
        shard: ``(index, count)``, or None for all.

    Returns:
        The shard's items, in order.
    """
    if shard is None:
        return list(items)
    index, count = shard
    return list(items[index::count])
