"""The few array operations of the streaming core, on numpy in host memory.

Blending, the rolling band of rows, classes and probabilities run on these operations.
:class:`~geospatial_mm.inference.torch_arrays.TorchArrays` does the same on torch tensors on the model's device; a
model says which it uses (an exported ONNX model runs with numpy alone, without torch).
"""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import torch

DTYPES = {'float32': np.float32, 'bool': np.bool_, 'uint8': np.uint8, 'int32': np.int32}

# an array of a backend: a numpy array in host memory, or a torch tensor on the model's device
Array: TypeAlias = 'NDArray[Any] | torch.Tensor'
ArrayT = TypeVar('ArrayT')


class ArrayBackend(Protocol[ArrayT]):
    """The array operations of the blending and the rolling band, on arrays of type ``ArrayT``.

    :class:`NumpyArrays` works on numpy arrays, :class:`~.torch_arrays.TorchArrays` on torch tensors; a model's
    backend is chosen when it is loaded (``ArrayBackend[Any]``).
    """

    @property
    def xp(self) -> ModuleType:
        """The array module (numpy or torch), for :mod:`geospatial_mm.models.probabilities`."""
        ...

    @property
    def device(self) -> object:
        """Where the arrays are."""
        ...

    def zeros(self, shape: tuple[int, ...], dtype: str = 'float32') -> ArrayT:
        """Zeros of ``shape`` and ``dtype`` (a key of ``DTYPES``).

        Returns:
            The array.
        """
        ...

    def from_host(self, array: NDArray[Any]) -> ArrayT:
        """A host (numpy) array as this backend's array.

        Returns:
            The array.
        """
        ...

    def to_host(self, array: ArrayT) -> NDArray[Any]:
        """This backend's array as a numpy array.

        Returns:
            The numpy array.
        """
        ...

    def copy(self, array: ArrayT) -> ArrayT:
        """A copy of ``array``.

        Returns:
            The copy.
        """
        ...

    def astype(self, array: ArrayT, dtype: str) -> ArrayT:
        """``array`` in ``dtype`` (a key of ``DTYPES``).

        Returns:
            The array, not copied when it has that type already.
        """
        ...

    def add_product(self, target: ArrayT, values: ArrayT, weights: ArrayT) -> None:
        """``target += values * weights`` in place (weights broadcast over the first axis of values)."""
        ...

    def argmax(self, array: ArrayT) -> ArrayT:
        """The index of the largest value along the first axis (classes), the first one on ties.

        Returns:
            The indices.
        """
        ...


class NumpyArrays:
    """Array operations on numpy arrays; ``xp`` is the numpy module (for :mod:`geospatial_mm.models.probabilities`)."""

    xp = np
    device = 'cpu'

    def zeros(self, shape: tuple[int, ...], dtype: str = 'float32') -> NDArray[Any]:
        """Zeros of ``shape`` and ``dtype`` (a key of ``DTYPES``).

        Returns:
            The array.
        """
        return np.zeros(shape, DTYPES[dtype])

    def from_host(self, array: NDArray[Any]) -> NDArray[Any]:
        """A host (numpy) array as this backend's array.

        Returns:
            ``array`` itself.
        """
        return array

    def to_host(self, array: NDArray[Any]) -> NDArray[Any]:
        """This backend's array as a numpy array.

        Returns:
            ``array`` itself.
        """
        return array

    def copy(self, array: NDArray[Any]) -> NDArray[Any]:
        """A copy of ``array``.

        Returns:
            The copy.
        """
        return array.copy()

    def astype(self, array: NDArray[Any], dtype: str) -> NDArray[Any]:
        """``array`` in ``dtype`` (a key of ``DTYPES``).

        Returns:
            The array, not copied when it has that type already.
        """
        return array.astype(DTYPES[dtype], copy=False)

    def add_product(self, target: NDArray[Any], values: NDArray[Any], weights: NDArray[Any]) -> None:
        """``target += values * weights`` in place (weights broadcast over the first axis of values)."""
        target += values * weights

    def argmax(self, array: NDArray[Any]) -> NDArray[np.intp]:
        """The index of the largest value along the first axis (classes), the first one on ties.

        Returns:
            The indices.
        """
        indices: NDArray[np.intp] = array.argmax(0)
        return indices
