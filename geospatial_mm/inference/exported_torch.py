"""Running a ``.pt2`` model of tools/export.py with torch alone (no OpenMMLab library)."""
from __future__ import annotations

import contextlib
import io
import os
import pickle
import zipfile
from typing import Iterator

import numpy as np
import torch

from geospatial_mm.compat.trust import files_trusted
from .arrays import Array
from .autocast import DTYPES, autocast
from .exported_format import ExportMetadata, read_pt2_metadata
from .pt2_archive import check_pt2_archive, untrusted_member
from .torch_arrays import TorchArrays


class TorchProgram:
    """A ``torch.export`` program on ``device``, run under torch's autocast in ``precision`` (bf16 / fp16) or in fp32.

    Blending runs on torch tensors on the same device (:class:`~.torch_arrays.TorchArrays`).

    Raises:
        ValueError: an unknown precision.
        RuntimeError: a CUDA device without CUDA.
    """

    def __init__(self, path: str, device: str = 'cpu', precision: str = 'fp32') -> None:
        if precision not in DTYPES:
            raise ValueError(f'precision must be one of {sorted(DTYPES)}, got {precision!r}')
        self.device = torch.device(device)
        if self.device.type == 'cuda' and not torch.cuda.is_available():
            raise RuntimeError(f'device {device!r} asked for, but CUDA is not available')
        program, self.metadata = load_program(path)
        if self.device.type != 'cpu':
            program = torch.export.passes.move_to_device_pass(  # type: ignore[attr-defined]  # not in torch.export's __all__
                program, self.device)
        self.module = program.module()
        self.precision = precision
        self.arrays = TorchArrays(self.device)

    def host(self, array: Array) -> torch.Tensor:
        """A tile as a contiguous tensor, in pinned memory for a GPU (non-blocking copies).

        Returns:
            The tensor.
        """
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if self.device.type == 'cuda':
            tensor = tensor.pin_memory()
        return tensor

    def pad(self, tensor: torch.Tensor, size: int) -> torch.Tensor:
        """A tile padded with zeros to ``size`` x ``size`` pixels.

        Returns:
            The padded tensor.
        """
        return torch.nn.functional.pad(tensor, (0, size - tensor.shape[-1], 0, size - tensor.shape[-2]))

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """Torch's autocast in the program's precision (nothing for fp32).

        Returns:
            A context manager.
        """
        return autocast(self.device.type, self.precision)

    def reader_context(self) -> contextlib.AbstractContextManager[None]:
        """What each reader thread runs in; it also keeps the thread's torch work to one core.

        Returns:
            A context manager that does nothing.
        """
        torch.set_num_threads(1)  # per thread: a reader's torch work keeps to one core, the model keeps its own
        return contextlib.nullcontext()

    @torch.inference_mode()
    def run(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        """The float32 logits of a batch of tiles, on the program's device.

        Returns:
            ``(B, K, H, W)`` logits.
        """
        batch = torch.stack(inputs).to(self.device, non_blocking=True)
        with self.autocast():
            logits: torch.Tensor = self.module(batch).float()
            return logits


def load_program(path: str) -> tuple[torch.export.ExportedProgram, ExportMetadata]:
    """The program of a ``.pt2`` file of tools/export.py and its metadata, loaded safely.

    Nothing stored in the file executes unless files are trusted (``GEOSPATIAL_MM_TRUST_CHECKPOINTS=1`` /
    ``--trust-checkpoint``): the archive's layout is checked first (:func:`~.pt2_archive.check_pt2_archive`), its sample
    inputs are loaded ``weights_only``, and every ``torch.load`` inside torch's loader is held to ``weights_only`` too,
    so that its fallback to a full unpickling cannot happen. The metadata's schema is checked before torch reads the
    file.

    Returns:
        ``(program, metadata)``.

    Raises:
        UntrustedModelError: the file needs more than weights to load (the message names the member).
        ExportedModelError: the file's metadata is missing or a field is bad.
    """
    trusted = files_trusted()
    if not trusted:
        check_pt2_archive(path)
        check_sample_inputs(path)
    metadata = read_pt2_metadata(path)
    with contextlib.nullcontext() if trusted else weights_only_loads():
        return torch.export.load(path), metadata


def check_sample_inputs(path: str) -> None:
    """The archive's sample inputs load with ``weights_only=True``.

    An empty member, what tools/export.py writes, holds none.

    Raises:
        UntrustedModelError: the sample inputs need more than weights to unpickle.
    """
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if '/data/sample_inputs/' not in member or archive.getinfo(member).file_size == 0:
                continue
            try:
                torch.load(io.BytesIO(archive.read(member)), weights_only=True)
            except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError) as exc:
                raise untrusted_member(path, member, f'its sample inputs need more than weights to unpickle '
                                       f'({str(exc).splitlines()[-1][:200]})') from None


@contextlib.contextmanager
def weights_only_loads() -> Iterator[None]:
    """Every ``torch.load`` in this block unpickles ``weights_only``, whatever its caller asks.

    That is torch's own ``TORCH_FORCE_WEIGHTS_ONLY_LOAD``; the process environment is restored afterwards.
    """
    saved = {key: os.environ.pop(key, None) for key in ('TORCH_FORCE_WEIGHTS_ONLY_LOAD',
                                                         'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')}
    os.environ['TORCH_FORCE_WEIGHTS_ONLY_LOAD'] = '1'
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
