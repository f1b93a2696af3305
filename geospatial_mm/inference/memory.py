"""Process-wide memory settings for streaming prediction and CPU training: buffers stay resident between batches.

A model's forward pass allocates the same large buffers batch after batch (the input batch, activations, the neck's
and head's outputs at the tile's full size, rows of logits; in training their gradients too). glibc's malloc serves
every block above its mmap threshold with a fresh ``mmap`` and unmaps it when freed; the threshold cannot be raised
above 32 MB (``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit systems), and a batch's largest activations are bigger (a
64-channel neck output of 8 tiles of 224² is 103 MB). So each batch maps them anew, and the kernel faults in and
zeroes every page of them again. Measured on this project's 2-core machine with the tiny Prithvi
(docs/benchmarks.md): about 4,800 minor page faults per 224 tile when streaming an 8192² raster, and 55,000 per
training iteration of 4 crops; with the settings below 8 per tile and 740 per iteration.

:func:`keep_freed_memory` switches glibc's mmap off for the process (``M_MMAP_MAX = 0``): every block comes from the
heap, where a freed block is reused by the next batch without a fault. It also keeps the heap top when it is freed
(``M_TRIM_THRESHOLD``), so the heap holds the largest working set the run has needed, no more: the peak memory is the
same as before (that working set was resident at the peak anyway), but it stays resident between batches instead of
being unmapped and faulted back in. :func:`release_freed_memory` hands the free part of the heap back to the system
(``malloc_trim``) when a run is done with its buffers, so that a process that goes on with other work does not keep
them.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2 ** 31 - 1  # the largest value mallopt takes (an int): the heap top is kept while the run goes on

_USER_SETTINGS = ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_', 'MALLOC_TOP_PAD_', 'MALLOC_MMAP_MAX_',
                  'GLIBC_TUNABLES')
_libc: ctypes.CDLL | None = None
_applied: bool | None = None


def _glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc (it has ``mallopt``, ``malloc_trim`` and ``gnu_get_libc_version``)."""
    if not sys.platform.startswith('linux'):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        libc.gnu_get_libc_version  # only glibc has it  # noqa: B018
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Serve every block from glibc's heap and keep freed blocks there for the next batch; once per process.

    See the module docstring.

    Returns:
        Whether the settings are in force: False on other C libraries and platforms, and when the user set glibc's
        malloc through the environment (those settings are left as they are).
    """
    global _applied, _libc
    if _applied is not None:
        return _applied
    _applied = False
    if any(os.environ.get(k) for k in _USER_SETTINGS):
        return False
    _libc = _glibc()
    if _libc is None:
        return False
    _applied = bool(_libc.mallopt(M_MMAP_MAX, 0)) and bool(_libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied


def release_freed_memory() -> None:
    """Return the free part of glibc's heap to the system (after a run's last batch).

    This happens when :func:`keep_freed_memory` is in force; nothing otherwise.
    """
    if _applied and _libc is not None:
        _libc.malloc_trim(0)
