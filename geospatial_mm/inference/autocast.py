"""torch's autocast for a precision of :mod:`.precision` (nothing for fp32).

It is shared by the models that run on torch and by tools/test.py.
"""
from __future__ import annotations

import contextlib

import torch

DTYPES = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def autocast(device_type: str, precision: str) -> contextlib.AbstractContextManager[object]:
    """``torch.autocast(device_type, dtype)`` for ``precision`` 'bf16' or 'fp16'; a null context for 'fp32'.

    Returns:
        The context manager.

    Raises:
        ValueError: ``precision`` is not one of 'fp32', 'bf16', 'fp16' (resolve 'auto' with
            :func:`~.precision.choose_precision` first).
    """
    if precision not in DTYPES:
        raise ValueError(f'precision must be one of {sorted(DTYPES)}, got {precision!r}')
    dtype = DTYPES[precision]
    return contextlib.nullcontext() if dtype is None else torch.autocast(device_type=device_type, dtype=dtype)
