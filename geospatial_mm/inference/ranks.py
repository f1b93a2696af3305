"""The ranks of a ``--launcher pytorch`` run (torchrun).

They say which samples are this process's, and gather every rank's records. torch.distributed is used directly
(imported only for such a run), so that a run of an exported ONNX model without a launcher needs no torch.
"""
from __future__ import annotations

import os
from types import ModuleType
from typing import TypeVar

T = TypeVar('T')


class Ranks:
    """This process's ``rank`` among ``world`` processes (0 of 1 without a launcher)."""

    def __init__(self, rank: int = 0, world: int = 1, dist: ModuleType | None = None) -> None:
        self.rank, self.world, self._dist = rank, world, dist

    @classmethod
    def start(cls, launcher: str, device: str) -> Ranks:
        """Join the process group of a torchrun launch, or run alone.

        ``launcher == 'pytorch'``: gloo on CPUs, NCCL on GPUs; the GPU of each rank is its LOCAL_RANK. ``'none'``: one
        process.

        Returns:
            This process's ranks.
        """
        if launcher != 'pytorch':
            return cls()
        import torch
        import torch.distributed as dist
        use_cuda = device != 'cpu' and torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)))
        if not dist.is_initialized():
            dist.init_process_group(backend='nccl' if use_cuda else 'gloo')
        return cls(dist.get_rank(), dist.get_world_size(), dist)

    def gather(self, records: list[T]) -> list[list[T]]:
        """Every rank's ``records``, in rank order (on every rank).

        Returns:
            One list of records per rank.
        """
        if self.world == 1 or self._dist is None:
            return [records]
        gathered: list[list[T]] = [[] for _ in range(self.world)]
        self._dist.all_gather_object(gathered, records)
        return gathered

    def finish(self) -> None:
        """Leave the process group (after a barrier), when there is one."""
        if self._dist is not None and self.world > 1:
            self._dist.barrier()
            self._dist.destroy_process_group()
