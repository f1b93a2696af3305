"""Prediction from Python: a model, and georeferenced predictions of rasters on disk and of arrays in memory.

The model comes from a config and checkpoint or an exported file (:func:`init_model`); :func:`predict` predicts
rasters on disk, :func:`predict_array` arrays in memory.

These are what tools/model_inference.py runs; its options are :func:`predict`'s keyword arguments
(:class:`~geospatial_mm.inference.options.PredictOptions`), and every error this module raises is a
:class:`~geospatial_mm.errors.GeospatialMMError`.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Union

import numpy as np
from numpy.typing import NDArray
from rasterio.errors import NotGeoreferencedWarning

from geospatial_mm.inference.exported_format import runtime_of
from geospatial_mm.inference.input_spec import Scaling
from geospatial_mm.inference.options import PredictOptions
from geospatial_mm.inference.precision import Precision, choose_precision
from geospatial_mm.inference.runner import Inputs, PathLike, SetupError, build_predictor, run
from geospatial_mm.inference.sources import Sample
from geospatial_mm.inference.summary import RunSummary
from geospatial_mm.inference.tile_model import TileModel
from geospatial_mm.io.geotiff import write_geotiff
from geospatial_mm.io.raster import read_bands

if TYPE_CHECKING:
    from mmengine.config import Config

EXPORTED_SUFFIXES = ('.pt2', '.onnx')

# an array as a file would hold it, (C, H, W) or (H, W); or one per date for models reading a file per date
ArrayInput = Union[NDArray[np.generic], Sequence[NDArray[np.generic]]]


class SegmentationArrays(NamedTuple):
    """What :func:`predict_array` returns for a segmentation model.

    Attributes:
        classes: ``(H, W)`` class indices (uint8, or uint16 beyond 254 classes), 255 (65535) where nodata.
        probabilities: ``(K, H, W)`` float32 class probabilities, -1 where nodata.
    """
    classes: NDArray[np.integer]
    probabilities: NDArray[np.float32]


class InstanceArrays(NamedTuple):
    """What :func:`predict_array` returns for a detection (instance segmentation) model.

    Attributes:
        instances: ``(H, W)`` instance ids, 0 where there is none (instances cut by tile borders merged).
        classes: ``(H, W)`` class of each pixel's instance, 1..K, 0 where there is none.
        scores: ``(H, W)`` float32 score of each pixel's instance, 0 where there is none.
    """
    instances: NDArray[np.integer]
    classes: NDArray[np.integer]
    scores: NDArray[np.float32]


def _device(device: str) -> str:
    """``'cuda'`` under torchrun is the GPU of the process's LOCAL_RANK."""
    if device == 'cuda' and int(os.environ.get('WORLD_SIZE', '1')) > 1:
        return f'cuda:{int(os.environ.get("LOCAL_RANK", 0))}'
    return device


def init_model(config: PathLike | Config, checkpoint: PathLike | None = None, device: str = 'cpu',
               cfg_options: Mapping[str, object] | None = None, *, precision: str = 'auto',
               bands: Sequence[int] | None = None, input_scale: float | None = None,
               input_offset: float | None = None,
               input_clip: tuple[float, float] | None = None) -> TileModel:
    """The model that :func:`predict` and :func:`predict_array` run.

    Args:
        config: a config file (or an mmengine ``Config``) of the package, or a model file written by tools/export.py
            (``.pt2`` for torch, ``.onnx`` for onnxruntime, run without the OpenMMLab libraries).
        checkpoint: the config's checkpoint (None for a model file).
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        cfg_options: config entries to override (as ``--cfg-options``), e.g. ``{'model.backbone.arch': 'tiny'}``.
        precision: ``'auto'`` (bf16 where the CPU or GPU computes it natively, else fp32), ``'fp32'``, ``'bf16'`` or
            ``'fp16'``; the model's ``precision_reason`` says why.
        bands: 0-based band indices to read from each input file instead of the config's.
        input_scale: multiply file values by this instead of the config's scale (another sensor or product level).
        input_offset: add this after scaling instead of the config's offset.
        input_clip: clip file values to this range (file units) before scaling.

    Returns:
        The model (:class:`~geospatial_mm.inference.tile_model.TileModel`).

    Raises:
        SetupError: the config, checkpoint or model file cannot be used (the message says why).
    """
    scaling: Scaling = dict(scale=input_scale, offset=input_offset, clip=input_clip)
    device = _device(device)
    try:
        model, chosen = _load_model(config, checkpoint, device, cfg_options, precision, bands, scaling)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise SetupError(f'{type(exc).__name__}: {exc}') from exc
    if model.precision == chosen.name:  # an int8 file says why it runs in int8 itself
        model.precision_reason = chosen.reason
    return model


def _load_model(config: PathLike | Config, checkpoint: PathLike | None, device: str,
                cfg_options: Mapping[str, object] | None, precision: str, bands: Sequence[int] | None,
                scaling: Scaling) -> tuple[TileModel, Precision]:
    """:func:`init_model`'s model and the precision chosen for it; errors are :func:`init_model`'s to wrap."""
    exported = isinstance(config, (str, os.PathLike)) and Path(config).suffix.lower() in EXPORTED_SUFFIXES
    if exported and (checkpoint is not None or cfg_options):
        raise ValueError('a model file written by tools/export.py has no checkpoint or config options: give '
                         'either the exported model file or the config and its checkpoint')
    if not exported and checkpoint is None:
        raise ValueError('a config needs its checkpoint (or give a model file written by tools/export.py)')
    chosen = choose_precision(precision, device, runtime_of(os.fspath(config)) if exported else 'torch')
    model: TileModel
    if exported:  # torch or onnxruntime alone: the OpenMMLab libraries are not imported
        from geospatial_mm.inference.exported_model import ExportedModel
        model = ExportedModel(os.fspath(config), device=device, precision=chosen.name, bands=bands,
                              input_scaling=scaling)
    else:
        from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
        assert checkpoint is not None  # a config without its checkpoint failed above
        model = OpenMMLabModel(config, os.fspath(checkpoint), device=device, precision=chosen.name, bands=bands,
                               cfg_options=dict(cfg_options or {}), input_scaling=scaling)
    return model, chosen


def predict(model: TileModel, inputs: Inputs, output_dir: PathLike, **options: object) -> RunSummary:
    """Predict rasters on disk into georeferenced outputs, as tools/model_inference.py does.

    Args:
        model: the model (:func:`init_model`).
        inputs: a folder of rasters, one raster, or a list of them. A multi-temporal model that takes one file per
            date reads every sub-folder of a folder as a sample; a pre/post model takes the pre-event folder here and
            the post-event folder as ``post_input``; a model reading several files per sample (S2 and S1) takes the
            folder holding their sub-folders (``s2/``, ``s1/``). A raster may also be a URL (http(s), s3) or a GDAL
            ``/vsi`` path, a text file may list rasters and URLs, and a STAC Item, ItemCollection or Catalog (a JSON
            file or URL) gives one sample per item; with ``stac_search`` the inputs may be empty (``[]``).
        output_dir: the output folder (created when missing).
        **options: the options of :class:`~geospatial_mm.inference.options.PredictOptions` (``probabilities``,
            ``tile``, ``stride``, ``batch_size``, ``cog``, ``skip_existing``, ``preview_dir``, ``geojson``,
            ``score_thr``, ..., and for STAC ``assets``, ``group_by``, ``resolution``, ``stac_search``,
            ``collections``, ``bbox``, ``datetime``, ``max_items``, ``query``, ``sign``; for several processes
            ``launcher``, ``shard``, ``split_scene`` and ``split_above``).

    Returns:
        The summary: one record per sample (outputs, status, error), its counts and ``exit_status``. A sample that
        fails is recorded there; the others still run.

    Raises:
        OptionsError: an unknown option, or a value out of range.
        SetupError: nothing can run (an option does not apply to the model, an input or the output folder is
            unusable).
    """
    return run(model, inputs, output_dir, PredictOptions.from_kwargs(options))


def _write_inputs(model: TileModel, array: ArrayInput | Mapping[str, ArrayInput], nodata: float | None,
                  folder: Path) -> Sample:
    """The arrays as the files of one sample, in ``folder``."""
    keys = model.spec.path_keys
    arrays = dict(array) if isinstance(array, Mapping) else {keys[0]: array}
    if set(arrays) != set(keys):
        raise ValueError(f'this model reads {len(keys)} file(s) per sample ({", ".join(keys)}): give '
                         f'{"one array" if len(keys) == 1 else "a mapping of these keys to arrays"}, got '
                         f'{sorted(arrays) if isinstance(array, Mapping) else "one array"}')
    paths: dict[str, str | list[str]] = {}
    for key in keys:
        value = arrays[key]
        frames = list(value) if isinstance(value, (list, tuple)) else None
        if frames is not None and len(frames) != model.spec.num_frames:
            raise ValueError(f'{key}: the model takes {model.spec.num_frames} dates, got {len(frames)} arrays')
        written = [str(write_geotiff(folder / f'{key}_{i}.tif', np.asarray(a), nodata=nodata))
                   for i, a in enumerate(frames if frames is not None else [value])]
        paths[key] = written if frames is not None else written[0]
    first = paths[keys[0]]
    return Sample('array', paths, first if isinstance(first, str) else first[0])


def predict_array(model: TileModel, array: ArrayInput | Mapping[str, ArrayInput], nodata: float | None = None,
                  **options: object) -> SegmentationArrays | InstanceArrays:
    """Predict a raster held in memory, tile by tile as :func:`predict` does for files.

    Args:
        model: the model (:func:`init_model`).
        array: what a file would hold, ``(C, H, W)`` (or ``(H, W)``) in file units, every band of it: the model
            selects its bands and scales them as it does for files. A model reading one file per date takes a list of
            arrays (the dates, in order); a model reading several files per sample (pre/post images, S2 and S1) a
            mapping from its path keys (``model.spec.path_keys``) to arrays.
        nodata: the arrays' nodata value (pixels that are nodata in any band are nodata in the outputs).
        **options: tiling options of :class:`~geospatial_mm.inference.options.PredictOptions` (``tile``,
            ``stride``, ``batch_size``, ``readers``; detection: ``score_thr``, ``merge_thr``, ``min_area``).

    Returns:
        :class:`SegmentationArrays` ``(classes, probabilities)`` for a segmentation model, :class:`InstanceArrays`
        ``(instances, classes, scores)`` for a detection model.

    Raises:
        OptionsError: an unknown option, or a value out of range.
        SetupError: the arrays do not fit the model (the message says why).
        RasterError: the model cannot read them (too few bands, ...).
    """
    settings = PredictOptions.from_kwargs(dict(options, probabilities=model.task == 'segmentation'))
    with tempfile.TemporaryDirectory(prefix='geospatial_mm_array_') as tmp, warnings.catch_warnings():
        # the arrays have no georeference: their files and outputs have none either, which rasterio warns about
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        folder = Path(tmp)
        try:
            settings.check_for(model)
            sample = _write_inputs(model, array, nodata, folder)
            predictor = build_predictor(model, settings)
        except (OSError, ValueError) as exc:
            raise SetupError(f'{type(exc).__name__}: {exc}') from exc
        outputs = predictor.predict(sample, folder / 'out')
        if model.task == 'detection':
            class_score = read_bands(outputs['class_score'])
            return InstanceArrays(read_bands(outputs['instances'])[0], class_score[0].astype(np.int32),
                                  class_score[1].astype(np.float32))
        # the probabilities' file is float32: astype only says so (copy=False: the same array)
        return SegmentationArrays(read_bands(outputs['classes'])[0],
                                  read_bands(outputs['probabilities']).astype(np.float32, copy=False))
