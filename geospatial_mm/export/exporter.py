"""Export a trained segmentation config to one self-describing model file (tools/export.py).

The exported program (:class:`~geospatial_mm.export.graph.TileGraph`) takes tiles as the config's loader reads them
and returns logits; the metadata (:mod:`geospatial_mm.inference.exported_format`) records what to read and how, the
tile and stride, classes and palette, and how logits become classes and probabilities. Every export is checked
before it is written in place: the program's logits on a probe raster must match the config's own model through its
own pipeline.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
from numpy.typing import NDArray

from geospatial_mm.inference.exported_format import (
    FORMAT,
    FORMAT_VERSION,
    METADATA_NAME,
    ONNX_METADATA_KEY,
    CheckMetadata,
    ExportMetadata,
    InputMetadata,
    Normalisation,
    PreviewMetadata,
    QuantizationMetadata,
    runtime_of,
)
from geospatial_mm.inference.exported_model import ExportedModel
from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
from geospatial_mm.inference.pt2_archive import UntrustedModelError, check_pt2_archive
from geospatial_mm.inference.sources import Sample, discover, suffix_pattern
from geospatial_mm.inference.tile_model import WindowInputs
from geospatial_mm.io import read_meta
from geospatial_mm.io.atomic import atomic_path
from geospatial_mm.io.geotiff import write_geotiff
from geospatial_mm.io.raster import Window
from geospatial_mm.io.tiles import TileGrid
from geospatial_mm.version import __version__
from .graph import ExportError, TileGraph, check_input_map, fit_input_map
from .quantize import agreement_percent, ort_version, quantize_int8, set_metadata

if TYPE_CHECKING:
    from mmengine.config import Config

MAX_BATCH = 4096  # the largest batch a dynamic-batch export accepts
CHECK_TOLERANCE = 1e-4  # largest absolute logit difference between the exported file and the config's model
DROPPED_META = ('geo_meta', 'img_path', 'seg_map_path')  # per-file metadata the models do not use


def probe_band_count(model: OpenMMLabModel, path_key: str) -> int:
    """Bands of a probe file for ``path_key``.

    Returns:
        One past the highest band the loader reads, or, for a loader that reads every band, as many as the pipeline
        normalises.

    Raises:
        ExportError: the loader reads every band and the pipeline does not say how many.
    """
    bands = model.spec.bands_for(path_key)
    if bands is not None:
        return max(bands) + 1
    for t in model.pipeline.transforms:
        if type(t).__name__ == 'TorchNormalize':
            return len(t.means)
    raise ExportError(f'the config reads every band of its {path_key} files and does not say how many: give --bands')


def write_probes(model: OpenMMLabModel, folder: Path, tile: int, seed: int) -> dict[str, str | list[str]]:
    """Probe rasters of ``tile`` x ``tile`` pixels for a sample of the model, written into ``folder``.

    There is one file per path key, or one per date, with values spread over each reader's clip range (else 1-1000,
    away from any nodata value).

    Returns:
        The sample: ``{path key: path, or the paths of the dates}``.
    """
    rng = np.random.default_rng(seed)
    spec = model.spec
    paths: dict[str, str | list[str]] = {}
    for key, reader in zip(spec.path_keys, spec.band_readers()):
        count = probe_band_count(model, key)
        low, high = reader.clip if reader.clip is not None else (1.0, 1000.0)
        files = spec.num_frames if spec.num_frames > 1 and spec.stacked_frames is False else 1
        written: list[str] = []
        for i in range(files):
            data = rng.uniform(low, high, (count, tile, tile)).astype(np.float32)
            written.append(str(write_geotiff(folder / f'probe_{seed}_{key}_{i}.tif', data, crs='EPSG:32633',
                                             transform=(10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0))))
        paths[key] = written[0] if files == 1 else written
    return paths


def pipeline_input(model: OpenMMLabModel, paths: dict[str, str | list[str]],
                   tile: int) -> tuple[NDArray[np.float32], dict[str, object], torch.Tensor]:
    """What the config's own pipeline and data preprocessor make of a probe (:func:`write_probes`).

    Returns:
        The model's input, the metadata the segmentor gets with it, and the config's model's logits.
    """
    item = model.read(paths, (0, 0, tile, tile))
    with torch.no_grad():
        data = model.network.data_preprocessor(dict(inputs=[item.inputs], data_samples=[item.meta]), False)
    meta = {k: v for k, v in data['data_samples'][0].metainfo.items() if k not in DROPPED_META}
    logits = model.forward([WindowInputs(item.inputs, item.nodata, item.meta)])
    return data['inputs'][0].float().numpy(), meta, logits


def raster_tiles(model: OpenMMLabModel, tile: int, count: int, folder: str, post_folder: str | None = None,
                 input_type: str = 'tif') -> tuple[list[NDArray[np.float32]], list[NDArray[np.bool_]]]:
    """``count`` tiles of ``tile`` px read by the model's readers from the rasters of ``folder``.

    ``folder`` is a folder or one file, found as tools/model_inference.py finds its inputs (``post_folder`` for
    pre/post pairs); the tiles are spread evenly over the tile grids of all of its rasters.

    Returns:
        ``(tiles, nodata masks)``: the tiles ``(C, tile, tile)`` and their masks ``(tile, tile)``.

    Raises:
        ExportError: no raster found, or the rasters hold fewer tiles than ``count``.
    """
    try:
        samples = [s for s in discover(model.spec, folder, input_type, post_folder) if not s.problem]
    except (OSError, ValueError) as exc:
        raise ExportError(f'calibration rasters {folder}: {exc}') from exc
    if not samples:
        raise ExportError(f'calibration rasters {folder}: no readable *{suffix_pattern(input_type)} raster found')
    windows: list[tuple[Sample, Window]] = []
    for sample in samples:
        meta = read_meta(sample.primary)
        if meta.height < tile or meta.width < tile:
            raise ExportError(f'{sample.primary}: {meta.height} x {meta.width} px, smaller than the tile ({tile} '
                              'px): calibration rasters must hold whole tiles')
        windows += [(sample, (t.row, t.col, t.height, t.width)) for t in TileGrid(meta.height, meta.width, tile, tile)]
    if len(windows) < count:
        raise ExportError(f'calibration rasters {folder}: {len(windows)} tiles of {tile} px, {count} needed: give '
                          'more or larger rasters')
    picked = [windows[round(i * (len(windows) - 1) / max(count - 1, 1))] for i in range(count)]
    readers = model.spec.band_readers()
    read = [model.spec.read(readers, sample.paths, window) for sample, window in picked]
    return [r[0] for r in read], [r[1] for r in read]


def checkpoint_digest(path: str) -> str:
    """The SHA-256 of a file, read in blocks of 1 MiB.

    Returns:
        The digest as hexadecimal text.
    """
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def export_model(config: str | os.PathLike[str] | Config, checkpoint: str, output: str, tile: int | None = None,
                 dynamic_batch: bool = True, batch_size: int = 8, cfg_options: dict[str, object] | None = None,
                 bands: Sequence[int] | None = None, opset: int = 18, quantize: str | None = None,
                 calibration: str = 'dynamic', min_agreement: float = 99.5, probes: int = 8,
                 calibration_input: str | None = None, calibration_post_input: str | None = None,
                 input_type: str = 'tif') -> ExportMetadata:
    """Export ``config`` with ``checkpoint`` to ``output`` (``.pt2``: torch.export; ``.onnx``: ONNX).

    ``quantize='int8'`` (``.onnx`` only) writes the model quantized by onnxruntime (``calibration`` 'dynamic' or
    'static', :mod:`.quantize`) once its class map on ``probes`` tiles agrees with the fp32 model's on at least
    ``min_agreement`` percent of the pixels (nodata left out); the metadata records the quantization and the
    agreement. The tiles come from the rasters of ``calibration_input`` (a folder or a file, with
    ``calibration_post_input`` for pre/post pairs, ``*<input_type>`` files, found as tools/model_inference.py finds
    its inputs): 'static' calibrates on ``probes`` of them and the agreement is measured on ``probes`` others. Without
    them, synthetic probe rasters (values spread over each reader's range) serve: they tell little of what the model
    does on real scenes, and static calibration on them is poor.

    Returns:
        The metadata written with the file, including the check of the file against the config's model.

    Raises:
        ExportError: the config, an option or the model cannot be exported, or the exported file is not what the
            config's model computes (nothing is written).
    """
    kind = runtime_of(output)
    if quantize not in (None, 'int8'):
        raise ExportError(f'--quantize takes int8, got {quantize!r}')
    if quantize and probes < 1:
        raise ExportError(f'--probes must be at least 1, got {probes}')
    if quantize and kind != 'onnx':
        raise ExportError('--quantize int8 writes an .onnx model (onnxruntime\'s quantization): name the output '
                          '*.onnx')
    model = OpenMMLabModel(config, checkpoint, device='cpu', bands=bands, cfg_options=cfg_options)
    if model.task != 'segmentation':
        raise ExportError('detection configs (Mask R-CNN, default_scope mmdet) cannot be exported yet: predict with '
                          'tools/model_inference.py -config/-ckpt')
    tile, stride = model.tile_and_stride(tile, None)
    divisor = getattr(model.network.data_preprocessor, 'size_divisor', None)
    if divisor and tile % divisor:
        raise ExportError(f'the tile ({tile} px) must be a multiple of the data preprocessor\'s size_divisor '
                          f'({divisor}): give --tile')
    with tempfile.TemporaryDirectory() as folder:
        synthetic = 2 + (2 * probes if quantize and not calibration_input else 0)  # two measure the input map
        written = [write_probes(model, Path(folder), tile, seed) for seed in range(synthetic)]
        read: list[NDArray[np.float32]] = [model.spec.read(model.spec.band_readers(), p, (0, 0, tile, tile))[0]
                                           for p in written]
        inputs = [pipeline_input(model, p, tile) for p in written[:2]]
    masks: list[NDArray[np.bool_] | None] = [None] * len(read)
    if quantize and calibration_input:
        real, real_masks = raster_tiles(model, tile, 2 * probes, calibration_input, calibration_post_input,
                                        input_type)
        read += real
        masks += real_masks
    input_map = fit_input_map(read[0], inputs[0][0])
    check_input_map(input_map, read[1], inputs[1][0])
    graph = TileGraph(model.network, input_map, [inputs[1][1]]).eval()
    expected = inputs[1][2].numpy()
    example = torch.from_numpy(np.stack([read[1]] * (2 if dynamic_batch else batch_size)))
    with torch.no_grad():
        traced_ok = np.abs(graph(example[:1]).numpy() - expected).max()
    if traced_ok > CHECK_TOLERANCE:
        raise ExportError(f'the tile graph differs from the config\'s model by {traced_ok:.2e}')
    shapes = {'tiles': {0: torch.export.Dim('batch', min=1, max=MAX_BATCH)}} if dynamic_batch else None
    try:
        program = torch.export.export(graph, (example,), dynamic_shapes=shapes, strict=False)
    except Exception as exc:  # torch.export's errors are of many types; say which model and why
        raise ExportError(f'torch.export cannot trace this model: {type(exc).__name__}: {exc}') from exc
    spec = model.spec
    metadata = ExportMetadata(
        format=FORMAT, format_version=FORMAT_VERSION, package_version=__version__, torch_version=torch.__version__,
        task='segmentation', runtime=kind, config=Path(str(config)).name, checkpoint=Path(checkpoint).name,
        checkpoint_sha256=checkpoint_digest(checkpoint), classes=model.classes,
        palette=[list(p) for p in model.palette] if model.palette else None, tile=tile, stride=stride,
        input=InputMetadata(channels=int(read[1].shape[0]), dtype='float32', frames=input_map.frames,
                            batch='dynamic' if dynamic_batch else batch_size,
                            normalisation=Normalisation(scale=input_map.scale.tolist(),
                                                        shift=input_map.shift.tolist())),
        spec=json.loads(json.dumps(spec.to_dict(), default=list)), out_channels=model.out_channels,
        threshold=model.threshold, probability_rule=model.rule,
        preview=PreviewMetadata(rgb_bands=model.preview_rgb_bands, brightness=model.preview_brightness))
    text = json.dumps(metadata)
    with atomic_path(output) as tmp, tempfile.TemporaryDirectory() as scratch:
        fp32 = Path(scratch) / 'fp32.onnx' if quantize else tmp
        if kind == 'torch':
            save_pt2(program, str(fp32), text)
        else:
            save_onnx(program, example, str(fp32), text, dynamic_batch, opset)
        difference = logit_difference(ExportedModel(str(fp32)), read[1], expected)
        if difference > CHECK_TOLERANCE:
            raise ExportError(f'the exported {kind} model differs from the config\'s model by {difference:.2e} '
                              f'(more than {CHECK_TOLERANCE}): not written')
        if quantize:
            metadata['quantization'] = int8_model(
                str(fp32), str(tmp), calibration, read[2::2], read[3::2], masks[3::2], model.threshold, min_agreement,
                Path(scratch) / 'prepared.onnx', 'rasters' if calibration_input else 'synthetic probes')
            set_metadata(str(tmp), json.dumps(metadata))
            ExportedModel(str(tmp))  # loads as any exported model, its metadata checked
    metadata['check'] = CheckMetadata(max_abs_logit_difference=difference)
    return metadata


def logit_difference(exported: ExportedModel, tile: NDArray[np.float32], expected: NDArray[np.float32]) -> float:
    """How far the exported model's logits of ``tile`` are from ``expected``.

    Returns:
        The largest absolute difference.
    """
    got = exported.forward([exported.host(WindowInputs(tile, None))])
    got = got.cpu().numpy() if hasattr(got, 'cpu') else got
    return float(np.abs(got - expected).max())


def int8_model(fp32: str, int8: str, method: str, calibration: Sequence[NDArray[np.float32]],
               tiles: Sequence[NDArray[np.float32]], masks: Sequence[NDArray[np.bool_] | None], threshold: float,
               min_agreement: float, work: Path, source: str) -> QuantizationMetadata:
    """``fp32`` quantized into ``int8`` (calibrated on ``calibration`` tiles for 'static'), and checked.

    Its class map on ``tiles`` is compared with fp32's outside their nodata ``masks`` (None: none).

    Returns:
        What the metadata records, with the ``source`` of the tiles.

    Raises:
        ExportError: the int8 model agrees with fp32 on fewer than ``min_agreement`` percent of the pixels.
    """
    quantize_int8(fp32, int8, method, calibration, str(work))
    agreement, pixels = agreement_percent(fp32, int8, tiles, masks, threshold)
    if agreement < min_agreement:
        raise ExportError(f'the int8 model ({method}) gives the fp32 model\'s class on {agreement:.2f} % of '
                          f'{pixels} pixels of {source}, below --min-agreement {min_agreement} %: nothing written '
                          '(try the other --calibration, calibrate on rasters like the model\'s data with '
                          '--calibration-input, or export fp32)')
    return QuantizationMetadata(dtype='int8', method=method, agreement_percent=round(agreement, 4),
                                probe_pixels=pixels, probe_source=source, min_agreement_percent=min_agreement,
                                onnxruntime=ort_version())


def save_pt2(program: torch.export.ExportedProgram, path: str, metadata: str) -> None:
    """Save the exported program as a ``.pt2`` archive that loads without the trust opt-in.

    The archive holds no sample inputs (torch would unpickle them, falling back to a full unpickling), and the
    metadata as an extra file; it is checked as every ``-model`` load checks it
    (:func:`~geospatial_mm.inference.pt2_archive.check_pt2_archive`), whether or not files are trusted in this
    process.

    Raises:
        ExportError: torch.export wrote an archive that needs the trust opt-in to load.
    """
    program.example_inputs = None
    torch.export.save(program, path, extra_files={METADATA_NAME: metadata})
    try:
        check_pt2_archive(path)
    except UntrustedModelError as exc:
        raise ExportError(f'torch.export wrote an archive that needs the trust opt-in to load: {exc}') from None


def save_onnx(program: torch.export.ExportedProgram, example: torch.Tensor, path: str, metadata: str,
              dynamic_batch: bool, opset: int) -> None:
    """Save the exported program as ONNX (torch's dynamo exporter), with the metadata as the model's property.

    Raises:
        ExportError: the ONNX exporter cannot convert the program.
    """
    import onnx
    shapes = {'tiles': {0: torch.export.Dim('batch', min=1, max=MAX_BATCH)}} if dynamic_batch else None
    try:
        onnx_program = torch.onnx.export(program, (example,), dynamo=True, dynamic_shapes=shapes,
                                         opset_version=opset, input_names=['tiles'], output_names=['logits'])
    except Exception as exc:
        raise ExportError(f'the ONNX exporter cannot convert this model: {type(exc).__name__}: {exc}') from exc
    if onnx_program is None:  # only the TorchScript exporter (dynamo=False) returns nothing
        raise ExportError('the ONNX exporter returned no program')
    proto = onnx_program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = ONNX_METADATA_KEY, metadata
    onnx.save(proto, path)
