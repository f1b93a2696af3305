"""int8 ONNX models for the light prediction path (``tools/export.py --quantize int8``), checked against fp32.

onnxruntime quantizes the exported fp32 model: ``dynamic`` (weights to int8 ahead of time, activations scaled per
batch at run time: MatMul and Gemm, the bulk of a ViT such as Prithvi) or ``static`` (weights and activations to int8
in QDQ form, per-channel weights, activation ranges calibrated on tiles read like the model's inputs: convolutions
too, the bulk of a UNet). The int8 model's class map is then compared with the fp32 model's on probe tiles; below
the agreement asked for, nothing is written.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import onnx
import onnxruntime as ort
from numpy.typing import NDArray
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_dynamic,
    quantize_static,
)

from geospatial_mm.inference.exported_format import ONNX_METADATA_KEY
from .graph import ExportError

METHODS = ('dynamic', 'static')


def ort_version() -> str:
    """The version of onnxruntime, which the metadata of a quantized model records.

    Returns:
        onnxruntime's version string.
    """
    version: str = ort.__version__
    return version


class _Tiles(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no types: the base class is Any
    """Calibration batches of one tile each, for ``quantize_static``."""

    def __init__(self, name: str, tiles: Sequence[NDArray[np.float32]]) -> None:
        self.feeds = iter([{name: tile[None].astype(np.float32)} for tile in tiles])

    def get_next(self) -> dict[str, NDArray[np.float32]] | None:
        """The next batch.

        Returns:
            ``{input name: (1, C, H, W) float32}``, or None after the last tile.
        """
        return next(self.feeds, None)


def quantize_int8(fp32_path: str, int8_path: str, method: str, calibration: Sequence[NDArray[np.float32]],
                  work_path: str) -> None:
    """``fp32_path`` quantized to int8 into ``int8_path`` by ``method`` (:data:`METHODS`).

    ``calibration`` tiles ``(C, H, W)`` for 'static'; ``work_path`` a scratch file for the pre-processed model.

    Raises:
        ExportError: an unknown method, or onnxruntime cannot quantize the model.
    """
    if method not in METHODS:
        raise ExportError(f'--calibration must be one of {list(METHODS)}, got {method!r}')
    try:
        quant_pre_process(fp32_path, work_path, skip_symbolic_shape=True)  # shapes and fusions the quantizer reads
        if method == 'dynamic':
            quantize_dynamic(work_path, int8_path, weight_type=QuantType.QInt8, per_channel=False)
        else:
            name = ort.InferenceSession(fp32_path, providers=['CPUExecutionProvider']).get_inputs()[0].name
            quantize_static(work_path, int8_path, _Tiles(name, calibration), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    except Exception as exc:  # onnxruntime's quantizer raises errors of many types; say which model and why
        raise ExportError(f'onnxruntime cannot quantize this model ({method}): {type(exc).__name__}: {exc}') from exc


def class_maps(path: str, tiles: Sequence[NDArray[np.float32]], threshold: float) -> NDArray[np.bool_ | np.intp]:
    """The classes a model file gives each tile.

    Returns:
        ``(N, H, W)``: the argmax of its logits, or for one sigmoid output class 1 where the probability passes
        ``threshold`` (what the streaming predictor writes).
    """
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name
    maps: list[NDArray[np.bool_ | np.intp]] = []
    for tile in tiles:
        logits = session.run(None, {name: tile[None].astype(np.float32)})[0][0]
        maps.append(1.0 / (1.0 + np.exp(-logits[0])) > threshold if logits.shape[0] == 1 else logits.argmax(0))
    return np.stack(maps)


def agreement_percent(fp32_path: str, int8_path: str, tiles: Sequence[NDArray[np.float32]],
                      masks: Sequence[NDArray[np.bool_] | None], threshold: float) -> tuple[float, int]:
    """How often the int8 model gives the fp32 model's class.

    Returns:
        The percentage of the tiles' pixels whose class the int8 model gives as the fp32 model does, and the number
        of pixels compared: those outside each tile's nodata mask (None: every pixel).

    Raises:
        ExportError: every pixel of the tiles is nodata.
    """
    same = class_maps(fp32_path, tiles, threshold) == class_maps(int8_path, tiles, threshold)
    valid = np.stack([np.ones(t.shape[-2:], bool) if m is None else ~m.astype(bool) for t, m in zip(tiles, masks)])
    pixels = int(valid.sum())
    if not pixels:
        raise ExportError('every pixel of the tiles to compare int8 with fp32 on is nodata')
    return float(100.0 * same[valid].mean()), pixels


def set_metadata(path: str, text: str) -> None:
    """Write ``text`` as the model's geospatial_mm metadata property (replacing the one quantization copied)."""
    model = onnx.load(path)
    for entry in model.metadata_props:
        if entry.key == ONNX_METADATA_KEY:
            entry.value = text
            break
    else:
        entry = model.metadata_props.add()
        entry.key, entry.value = ONNX_METADATA_KEY, text
    onnx.save(model, path)
