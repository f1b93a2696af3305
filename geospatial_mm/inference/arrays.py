"""The few array operations of the streaming core (blending, the rolling band of rows, classes and probabilities),
on numpy in host memory. :class:`~geospatial_mm.inference.torch_arrays.TorchArrays` does the same on torch tensors on
the model's device; a model says which it uses (an exported ONNX model runs with numpy alone, without torch)."""
from __future__ import annotations

import numpy as np

DTYPES = {'float32': np.float32, 'bool': np.bool_, 'uint8': np.uint8, 'int32': np.int32}


class NumpyArrays:
    """Array operations on numpy arrays; ``xp`` is the numpy module (for :mod:`geospatial_mm.models.probabilities`).
    """
    xp = np
    device = 'cpu'

    def zeros(self, shape, dtype: str = 'float32'):
        return np.zeros(shape, DTYPES[dtype])

    def from_host(self, array: np.ndarray):
        """A host (numpy) array as this backend's array."""
        return array

    def to_host(self, array) -> np.ndarray:
        return array

    def copy(self, array):
        return array.copy()

    def astype(self, array, dtype: str):
        return array.astype(DTYPES[dtype], copy=False)

    def add_product(self, target, values, weights) -> None:
        """``target += values * weights`` in place (weights broadcast over the first axis of values)."""
        target += values * weights

    def argmax(self, array):
        """The index of the largest value along the first axis (classes), the first one on ties."""
        return array.argmax(0)
