"""The ranks of a ``--launcher pytorch`` run (torchrun): which samples are this process's, and the gathering of
every rank's records. torch.distributed is used directly (imported only for such a run), so that a run of an
exported ONNX model without a launcher needs no torch."""
from __future__ import annotations

import os


class Ranks:
    """This process's ``rank`` among ``world`` processes (0 of 1 without a launcher)."""

    def __init__(self, rank: int = 0, world: int = 1, dist=None) -> None:
        self.rank, self.world, self._dist = rank, world, dist

    @classmethod
    def start(cls, launcher: str, device: str) -> 'Ranks':
        """Join the process group of a torchrun launch (``launcher == 'pytorch'``: gloo on CPUs, NCCL on GPUs; the
        GPU of each rank is its LOCAL_RANK), or run alone (``'none'``)."""
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

    def gather(self, records: list) -> list[list]:
        """Every rank's ``records``, in rank order (on every rank)."""
        if self.world == 1:
            return [records]
        gathered = [None] * self.world
        self._dist.all_gather_object(gathered, records)
        return gathered

    def finish(self) -> None:
        if self._dist is not None and self.world > 1:
            self._dist.barrier()
            self._dist.destroy_process_group()
