"""Mixed-precision training on the CPU: what ``tools/train.py --amp`` uses where there is no GPU.

mmengine's ``AmpOptimWrapper`` refuses to run without a GPU (or NPU, MLU, MUSA): it is built around CUDA's fp16 and its
loss scaler. On a CPU the low precision is bfloat16, which keeps float32's exponent range, so no loss scaling is
needed: the forward pass (and so the loss) runs under ``torch.autocast('cpu', dtype=torch.bfloat16)``, the backward
pass and the optimizer step as with a plain :class:`~mmengine.optim.OptimWrapper`.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """An :class:`~mmengine.optim.OptimWrapper` whose forward pass runs under CPU autocast.

    Args:
        dtype: the autocast dtype, ``'bfloat16'`` (default) or ``'float16'``.
        **kwargs: those of :class:`~mmengine.optim.OptimWrapper` (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs) -> None:
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f'CPUAutocastOptimWrapper: dtype must be bfloat16 or float16, got {dtype!r}')
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: torch.nn.Module) -> Iterator[None]:
        with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype):
            yield
