"""The floating-point type a model runs in: fp32, or torch's autocast in bf16 or fp16, or ``auto``.

``auto`` takes bf16 where the hardware computes it natively, and fp32 elsewhere:

* a CPU with AVX-512 BF16 (``avx512_bf16``: AMD from Zen 4, Intel from Cooper Lake) or AMX (``amx_bf16``: Intel from
  Sapphire Rapids), read from the flags the kernel reports (``/proc/cpuinfo``). Without them torch emulates bf16 with
  conversions around fp32 arithmetic, which is slower than fp32;
* a GPU that computes bf16 (``torch.cuda.is_bf16_supported()``: NVIDIA from Ampere);
* an ``.onnx`` model always runs in fp32 (int8 is a file of its own, ``tools/export.py --quantize int8``).

The choice and its reason are logged and written into the run's summary. Standard library only, but for a GPU: the
light ``.onnx`` path imports no torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PRECISIONS = ('fp32', 'bf16', 'fp16')
CHOICES = ('auto', *PRECISIONS)
NATIVE_BF16_FLAGS = ('avx512_bf16', 'amx_bf16')  # CPU flags of native bfloat16 arithmetic
CPUINFO = Path('/proc/cpuinfo')


@dataclass(frozen=True)
class Precision:
    """A chosen precision (one of :data:`PRECISIONS`) and why it was chosen."""
    name: str
    reason: str


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The flags of the first CPU in ``cpuinfo`` (the text of ``/proc/cpuinfo``; read from the system when None).

    Returns:
        The flags; empty where the system reports none.
    """
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(':')
        if key.strip() in ('flags', 'Features'):
            return frozenset(value.split())
    return frozenset()


def choose_precision(requested: str, device: str = 'cpu', runtime: str = 'torch',
                     flags: frozenset[str] | None = None) -> Precision:
    """The precision to run in for ``requested`` (one of :data:`CHOICES`) on ``device`` ('cpu', 'cuda', 'cuda:1').

    ``runtime`` is the model's ('torch' or 'onnx'); ``flags`` are the CPU's (default: this machine's).

    Returns:
        The precision and why it was chosen.

    Raises:
        ValueError: ``requested`` is not one of :data:`CHOICES`.
    """
    if requested not in CHOICES:
        raise ValueError(f'precision must be one of {list(CHOICES)}, got {requested!r}')
    if requested != 'auto':
        return Precision(requested, 'asked for')
    if runtime == 'onnx':
        return Precision('fp32', 'auto: an .onnx model runs in fp32')
    if device.startswith('cuda'):
        import torch  # a GPU means torch: the .onnx path returned above
        index = int(device.split(':')[1]) if ':' in device else torch.cuda.current_device()
        name = torch.cuda.get_device_name(index)
        if torch.cuda.is_bf16_supported():
            return Precision('bf16', f'auto: {name} computes bfloat16 natively')
        return Precision('fp32', f'auto: {name} does not compute bfloat16')
    flags = cpu_flags() if flags is None else flags
    native = [f for f in NATIVE_BF16_FLAGS if f in flags]
    if native:
        return Precision('bf16', f'auto: this CPU computes bfloat16 natively ({", ".join(native)})')
    return Precision('fp32', f'auto: this CPU has no native bfloat16 (none of {", ".join(NATIVE_BF16_FLAGS)}), '
                             'where bf16 would be slower than fp32')
