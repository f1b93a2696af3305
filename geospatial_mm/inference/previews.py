"""Preview figures of a prediction: the input's RGB composite(s) | the predicted classes | the label.

With the class legend, drawn from decimated reads through the model's own readers (so they show what the model saw).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray

from geospatial_mm.io import read_meta
from geospatial_mm.io.names import strip_tokens
from geospatial_mm.io.raster import RasterMeta
from geospatial_mm.visualization.preview import colorize, has_nodata, read_decimated, rgb_composite, save_preview
from .outputs import PRODUCER
from .sources import Sample

if TYPE_CHECKING:
    from .predictor import RasterPredictor


def write_preview(predictor: RasterPredictor, sample: Sample, outputs: Mapping[str, str | Path], preview_dir: str,
                  labels_dir: str | None, max_side: int = 768) -> Path:
    """``<name>_preview.png``: RGB composite(s) | prediction | label (when ``labels_dir`` has the sample's label).

    Returns:
        The preview's path.

    Raises:
        ValueError: the label is not the size of the input, or the model cannot read labels.
    """
    model = predictor.model
    palette = predictor.palette or [tuple(np.random.default_rng(i).integers(0, 256, 3)) for i in
                                    range(predictor.num_classes)]
    pred, _ = read_decimated(str(outputs['classes']), [0], max_side)
    shape = pred.shape[1:]
    panels: list[tuple[str, NDArray[np.uint8]]] = []
    for name, channels in model.preview_panels():
        values: list[NDArray[np.generic]] = []
        invalid = np.zeros(shape, bool)
        for path_key, band, loader in channels:
            paths = sample.paths[path_key]
            data, in_meta = read_decimated(paths if isinstance(paths, str) else paths[0], [band], max_side,
                                           resampling='average')
            # read_decimated's header is read_meta's RasterMeta (declared object)
            converted, band_nodata = loader.convert(data, cast(RasterMeta, in_meta).nodata)
            values.append(converted[0])
            invalid |= band_nodata
        panels.append((f'{name} (RGB)', rgb_composite(np.stack(values), invalid, model.preview_brightness)))
    panels.append(('prediction', colorize(pred[0], palette)))
    nodata = has_nodata(pred[0], predictor.num_classes)
    label_path = find_label(predictor, sample, labels_dir)
    if label_path is not None:
        converter = model.label_converter()
        if converter is None:
            raise ValueError(f'{label_path}: the model {model.name} cannot read labels')
        raw, _ = read_decimated(str(label_path), [converter.band], max_side)
        label = converter.convert(raw[0], read_meta(str(label_path)), str(label_path))
        if label.shape != shape:
            raise ValueError(f'{label_path}: label of a different size than the input {sample.source}')
        panels.append(('label', colorize(label, palette)))
        nodata |= has_nodata(label, predictor.num_classes)
    return save_preview(preview_path(preview_dir, sample), panels, predictor.classes, palette,
                        title=Path(sample.source).name, show_nodata=nodata, software=PRODUCER)


def preview_path(preview_dir: str, sample: Sample) -> Path:
    """Where the preview of ``sample`` goes.

    Returns:
        ``<preview_dir>/<name>_preview.png``.
    """
    return Path(preview_dir) / f'{sample.name}_preview.png'


def find_label(predictor: RasterPredictor, sample: Sample, labels_dir: str | None) -> Path | None:
    """The label raster of ``sample`` in ``labels_dir``.

    Returns:
        ``<labels_dir>/<sample name><seg_map_suffix of the config's test dataset>``, if it exists; else a file of
        ``labels_dir`` whose name is that once the folder's token is removed (``dfc_validation/x_dfc_0_p1.tif`` for
        the sample ``x_0_p1`` of source folders, the token being the folder name up to its first '_'); else None.
    """
    if not labels_dir:
        return None
    suffix = predictor.model.label_suffix
    path = Path(labels_dir) / f'{sample.name}{suffix}'
    if path.is_file():
        return path
    folder = Path(labels_dir)
    token = folder.name.split('_')[0]
    if not folder.is_dir() or not token:
        return None
    for candidate in sorted(folder.iterdir()):
        if candidate.name.endswith(suffix) and strip_tokens(candidate.name, [token]) == f'{sample.name}{suffix}':
            return candidate
    return None
