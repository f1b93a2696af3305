"""Preview figures of a prediction: the input's RGB composite(s) | the predicted classes | the label, with the class
legend, drawn from decimated reads through the config's own loaders (so they show what the model saw)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from geospatial_mm.datasets.transforms import LoadGeospatialBandGroups, LoadGeospatialImagePair
from geospatial_mm.io import read_meta
from geospatial_mm.io.names import strip_tokens
from geospatial_mm.visualization.preview import colorize, has_nodata, read_decimated, rgb_composite, save_preview
from .model import label_loader_cfg, test_dataset_cfg
from .outputs import PRODUCER
from .sources import Sample


def rgb_panels(predictor) -> list[tuple[str, list[tuple[str, int, object]]]]:
    """The input panels of a preview: ``(name, [(path key, file band, loader) for red, green, blue])``, from the
    config's ``preview_rgb_bands`` (indices among the loaded channels, default 0, 1, 2) and its loader, whose
    ``convert`` turns file values into what the model sees."""
    from mmengine.registry import TRANSFORMS

    rgb_idx = [int(i) for i in predictor.cfg.get('preview_rgb_bands', [0, 1, 2])]
    loader = TRANSFORMS.build(dict(predictor.spec.loader))
    if isinstance(loader, LoadGeospatialBandGroups):
        channels = loader.channel_sources()
        if max(rgb_idx) >= len(channels):
            raise ValueError(f'preview_rgb_bands {rgb_idx} out of range: the loader gives {len(channels)} channels')
        return [('input', [(sub.path_key, band, sub) for sub, band in (channels[i] for i in rgb_idx)])]
    loaders = loader.loaders if isinstance(loader, LoadGeospatialImagePair) else [loader]
    panels = []
    for sub in loaders:
        frame_bands = sub.frames[0] if sub.frames else sub.bands
        if frame_bands is not None and max(rgb_idx) >= len(frame_bands):
            raise ValueError(f'preview_rgb_bands {rgb_idx} out of range: the loader reads {len(frame_bands)} bands')
        name = 'input' if len(loaders) == 1 else sub.path_key.replace('_path', '').replace('img', 'image')
        panels.append((name, [(sub.path_key, frame_bands[i] if frame_bands is not None else i, sub)
                              for i in rgb_idx]))
    return panels


def write_preview(predictor, sample: Sample, outputs: dict, preview_dir: str, labels_dir: str | None,
                  max_side: int = 768) -> Path:
    """``<name>_preview.png``: RGB composite(s) | prediction | label (when ``labels_dir`` has the sample's label)."""

    cfg = predictor.cfg
    palette = predictor.palette or [tuple(np.random.default_rng(i).integers(0, 256, 3)) for i in
                                    range(predictor.num_classes)]
    pred, _ = read_decimated(str(outputs['classes']), [0], max_side)
    shape = pred.shape[1:]
    panels = []
    for name, channels in rgb_panels(predictor):
        values, invalid = [], np.zeros(shape, bool)
        for path_key, band, loader in channels:
            paths = sample.paths[path_key]
            data, in_meta = read_decimated(paths if isinstance(paths, str) else paths[0], [band], max_side,
                                           resampling='average')
            converted, nodata = loader.convert(data, in_meta.nodata)
            values.append(converted[0])
            invalid |= nodata
        panels.append((f'{name} (RGB)', rgb_composite(np.stack(values), invalid, cfg.get('preview_brightness'))))
    panels.append(('prediction', colorize(pred[0], palette)))
    nodata = has_nodata(pred[0], predictor.num_classes)
    label_path = find_label(predictor, sample, labels_dir)
    if label_path is not None:
        from mmengine.registry import TRANSFORMS
        ann_cfg = label_loader_cfg(cfg)
        converter = TRANSFORMS.build(ann_cfg)
        raw, _ = read_decimated(str(label_path), [ann_cfg.get('band', 0)], max_side)
        label = converter.convert(raw[0], read_meta(str(label_path)), str(label_path))
        if label.shape != shape:
            raise ValueError(f'{label_path}: label of a different size than the input {sample.primary}')
        panels.append(('label', colorize(label, palette)))
        nodata |= has_nodata(label, predictor.num_classes)
    return save_preview(preview_path(preview_dir, sample), panels, predictor.classes, palette,
                        title=Path(sample.primary).name, show_nodata=nodata, software=PRODUCER)


def preview_path(preview_dir: str, sample: Sample) -> Path:
    return Path(preview_dir) / f'{sample.name}_preview.png'


def find_label(predictor, sample: Sample, labels_dir: str | None) -> Path | None:
    """``<labels_dir>/<sample name><seg_map_suffix of the config's test dataset>``, if it exists; else a file of
    ``labels_dir`` whose name is that once the folder's token is removed (``dfc_validation/x_dfc_0_p1.tif`` for
    the sample ``x_0_p1`` of source folders, the token being the folder name up to its first '_')."""
    if not labels_dir:
        return None
    suffix = test_dataset_cfg(predictor.cfg).get('seg_map_suffix', '.tif')
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
