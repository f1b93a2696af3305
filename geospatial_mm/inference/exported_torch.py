"""Running a ``.pt2`` model of tools/export.py with torch alone (no OpenMMLab library)."""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from .exported_format import METADATA_NAME, parse_metadata
from .torch_arrays import TorchArrays

PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


class TorchProgram:
    """A ``torch.export`` program on ``device``, run under torch's autocast in ``precision`` (bf16 / fp16) or in
    fp32; blending runs on torch tensors on the same device (:class:`~.torch_arrays.TorchArrays`)."""

    def __init__(self, path: str, device: str = 'cpu', precision: str = 'fp32') -> None:
        if precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {sorted(PRECISIONS)}, got {precision!r}')
        self.device = torch.device(device)
        if self.device.type == 'cuda' and not torch.cuda.is_available():
            raise RuntimeError(f'device {device!r} asked for, but CUDA is not available')
        extra = {METADATA_NAME: ''}
        program = torch.export.load(path, extra_files=extra)
        self.metadata = parse_metadata(extra[METADATA_NAME], path)
        if self.device.type != 'cpu':
            program = torch.export.passes.move_to_device_pass(program, self.device)
        self.module = program.module()
        self.precision = precision
        self.arrays = TorchArrays(self.device)

    def host(self, array: np.ndarray) -> torch.Tensor:
        """A tile as a contiguous tensor, in pinned memory for a GPU (non-blocking copies)."""
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if self.device.type == 'cuda':
            tensor = tensor.pin_memory()
        return tensor

    def pad(self, tensor: torch.Tensor, size: int) -> torch.Tensor:
        return torch.nn.functional.pad(tensor, (0, size - tensor.shape[-1], 0, size - tensor.shape[-2]))

    def autocast(self) -> contextlib.AbstractContextManager:
        dtype = PRECISIONS[self.precision]
        return contextlib.nullcontext() if dtype is None else torch.autocast(self.device.type, dtype=dtype)

    def reader_context(self) -> contextlib.AbstractContextManager:
        torch.set_num_threads(1)  # per thread: a reader's torch work keeps to one core, the model keeps its own
        return contextlib.nullcontext()

    @torch.inference_mode()
    def run(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        batch = torch.stack(inputs).to(self.device, non_blocking=True)
        with self.autocast():
            return self.module(batch).float()
