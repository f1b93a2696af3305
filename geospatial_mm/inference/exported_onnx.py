"""Running an ``.onnx`` model of tools/export.py with onnxruntime and numpy alone.

Neither torch nor an OpenMMLab library is imported.
"""
from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from .arrays import Array, NumpyArrays
from .exported_format import ONNX_METADATA_KEY, ExportedModelError, parse_metadata


class OnnxSession:
    """An onnxruntime session (CUDA for ``cuda`` devices when onnxruntime has it, else the CPU), fp32 only.

    Blending runs on numpy (:class:`~.arrays.NumpyArrays`).

    Raises:
        ValueError: a precision other than fp32.
        RuntimeError: a CUDA device without onnxruntime's CUDA provider.
        ExportedModelError: onnxruntime cannot load the file, or its metadata is missing or bad.
    """

    def __init__(self, path: str, device: str = 'cpu', precision: str = 'fp32') -> None:
        if precision != 'fp32':
            raise ValueError(f'an .onnx model runs in fp32 (the precision it was exported in), not {precision}; '
                             'export to .pt2 for bf16/fp16 autocast')
        # a provider's name, or its name and options
        providers: list[str | tuple[str, dict[str, int]]] = ['CPUExecutionProvider']
        if device.startswith('cuda'):
            if 'CUDAExecutionProvider' not in ort.get_available_providers():
                raise RuntimeError(f'device {device!r} asked for, but this onnxruntime has no CUDA provider '
                                   '(install onnxruntime-gpu)')
            index = int(device.split(':')[1]) if ':' in device else 0
            providers = [('CUDAExecutionProvider', dict(device_id=index)), 'CPUExecutionProvider']
        # without onnxruntime's CPU memory arena and memory patterns: with them, Prithvi-100M in batches of 8 peaked at
        # 7.6 GB RSS against 3.4 GB without, and ran no faster (docs/benchmarks.md#exported-models)
        options = ort.SessionOptions()
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ExportedModelError(f'{path}: onnxruntime cannot load it ({exc})') from exc
        custom = self.session.get_modelmeta().custom_metadata_map
        if ONNX_METADATA_KEY not in custom:
            raise ExportedModelError(f'{path}: an ONNX model without the {ONNX_METADATA_KEY!r} metadata: not written '
                                     'by tools/export.py')
        self.metadata = parse_metadata(custom[ONNX_METADATA_KEY], path)
        self.input_name = self.session.get_inputs()[0].name
        self.device = device
        self.arrays = NumpyArrays()

    def host(self, array: Array) -> NDArray[np.float32]:
        """A tile as a contiguous float32 array.

        Returns:
            The array.
        """
        return np.ascontiguousarray(array, dtype=np.float32)

    def pad(self, array: NDArray[Any], size: int) -> NDArray[Any]:
        """A tile padded with zeros to ``size`` x ``size`` pixels.

        Returns:
            The padded array.
        """
        return np.pad(array, [(0, 0)] * (array.ndim - 2) + [(0, size - array.shape[-2]), (0, size - array.shape[-1])])

    def reader_context(self) -> contextlib.AbstractContextManager[None]:
        """What each reader thread runs in.

        Returns:
            A context manager that does nothing.
        """
        return contextlib.nullcontext()

    def run(self, inputs: list[NDArray[Any]]) -> NDArray[np.float32]:
        """The float32 logits of a batch of tiles.

        Returns:
            ``(B, K, H, W)`` logits.
        """
        logits: NDArray[Any] = self.session.run(None, {self.input_name: np.stack(inputs)})[0]  # onnxruntime: Any
        return logits.astype(np.float32, copy=False)
