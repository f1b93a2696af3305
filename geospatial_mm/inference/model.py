"""Building a trained model and the per-tile input pipeline from a config of the package."""
from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from geospatial_mm.datasets.transforms import (
    LoadGeospatialAnnotations,
    LoadGeospatialBandGroups,
    LoadGeospatialImageFromFile,
    LoadGeospatialImagePair,
    loader_class,
)
from geospatial_mm.io.band_reader import ReaderArgs
from .input_spec import InputSpec, Scaling, override_loader

if TYPE_CHECKING:
    from mmengine.config import Config
    from mmengine.model import BaseModel

# a config's dictionaries (datasets, pipeline steps, checkpoint metadata): what they hold depends on the config
ConfigDict: TypeAlias = dict[str, Any]

GEO_LOADERS = ('LoadGeospatialImageFromFile', 'LoadGeospatialImagePair', 'LoadGeospatialBandGroups')
# dropped from the test pipeline: labels are not there at prediction time, and the tile grid chooses the windows
DROPPED = ('LoadGeospatialAnnotations', 'LoadAnnotations', 'LoadSegAnnotations', 'RandomWindow')


def test_dataset_cfg(cfg: Config) -> ConfigDict:
    """The dataset of the test dataloader (unwrapping dataset wrappers).

    Returns:
        The dataset's config.

    Raises:
        ValueError: the config has neither a test nor a validation dataloader.
    """
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if loader is None:
        raise ValueError('the config has no test_dataloader (nor val_dataloader) to take the test pipeline from')
    dataset: ConfigDict = loader['dataset']
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def dataset_meta(cfg: Config, checkpoint_meta: Mapping[str, Any] | None) -> ConfigDict:
    """Classes and palette: from the checkpoint (what the model was trained with), else from the config.

    The config's test dataset gives them in its ``metainfo``, else its class's ``METAINFO``.

    Returns:
        The dataset metadata, with ``classes`` (and ``palette`` where known).

    Raises:
        ValueError: neither the checkpoint nor the config names the classes.
    """
    meta = dict((checkpoint_meta or {}).get('dataset_meta') or {})
    if not meta.get('classes'):
        dataset = test_dataset_cfg(cfg)
        meta.update(dataset.get('metainfo') or {})
        if not meta.get('classes') and isinstance(dataset.get('type'), str):
            from mmengine.registry import DATASETS
            with DATASETS.switch_scope_and_registry(cfg.get('default_scope')) as registry:
                dataset_class = registry.get(dataset['type'])
            meta.update(getattr(dataset_class, 'METAINFO', None) or {})
    if not meta.get('classes'):
        raise ValueError('neither the checkpoint nor the config names the classes (metainfo=dict(classes=...))')
    return meta


def build_model(cfg: Config, checkpoint: str, device: str = 'cpu') -> tuple[BaseModel, ConfigDict | None]:
    """Build ``cfg.model`` in the config's scope, load ``checkpoint`` strictly, put it in eval mode on ``device``.

    Pretrained-backbone paths of the config are cleared: the checkpoint holds every weight.

    Returns:
        ``(model, checkpoint_meta)``: the checkpoint's ``meta`` (None when it has none).

    Raises:
        FileNotFoundError: no checkpoint file.
        RuntimeError: a CUDA device without CUDA.
    """
    import torch
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint

    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f'{checkpoint}: checkpoint file not found')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('pretrained', None)
    model_cfg.pop('init_cfg', None)
    for part in ('backbone', 'neck'):
        if isinstance(model_cfg.get(part), dict):
            model_cfg[part].pop('pretrained', None)
            model_cfg[part].pop('init_cfg', None)
    if 'train_cfg' in model_cfg:
        model_cfg['train_cfg'] = None
    model = MODELS.build(model_cfg)
    ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
    if device == 'cpu' or not torch.cuda.is_available():
        if device != 'cpu':
            raise RuntimeError(f'device {device!r} asked for, but CUDA is not available')
        model = revert_sync_batchnorm(model)
    model.to(device).eval()
    return model, (ckpt.get('meta') if isinstance(ckpt, dict) else None)


def inference_pipeline(cfg: Config, bands: Sequence[int] | None = None,
                       scaling: Scaling | None = None) -> tuple[list[ConfigDict], InputSpec]:
    """The config's test pipeline without label loading (the windows come from the tile grid), and what it reads.

    ``bands`` overrides the loader's band selection (``-bands`` of the tool); for a loader with frames (band groups),
    the list is cut into as many equal groups. ``scaling`` (``scale``, ``offset``, ``clip``) overrides how the loader
    turns file values into the model's units, wherever the loader stands in the pipeline: another sensor's (or
    product level's) rasters for the same model.

    Returns:
        ``(pipeline, spec)``: the pipeline's steps and what the loader reads.

    Raises:
        ValueError: the test pipeline has not exactly one geospatial loader.
    """
    pipeline = [dict(copy.deepcopy(t)) for t in test_dataset_cfg(cfg)['pipeline']]
    pipeline = [t for t in pipeline if t.get('type') not in DROPPED and not _is_label_loader(t)]
    loaders = [t for t in pipeline if loader_class(t) is not None]
    if len(loaders) != 1:
        found = [t.get('type') for t in pipeline]
        raise ValueError(f'streaming inference reads windows through one of {GEO_LOADERS} (or a subclass) in the '
                         f'test pipeline; the config\'s test pipeline has {found}')
    position = next(i for i, t in enumerate(pipeline) if t is loaders[0])
    kind = loader_class(loaders[0])
    assert kind is not None  # a loader is a step whose class loader_class knows
    loader = pipeline[position] = override_loader(loaders[0], issubclass(kind, LoadGeospatialBandGroups), bands,
                                                  scaling)
    if issubclass(kind, LoadGeospatialBandGroups):  # the overrides keep the loader's type
        built = build_loader(loader)
        source_bands = {sub.path_key: list(sub.bands) for sub in built.loaders}
        return pipeline, InputSpec(loader=loader, path_keys=tuple(built.path_keys), is_pair=False,
                                   bands_per_frame=None, num_frames=1, stacked_frames=True,
                                   source_bands=source_bands, readers=reader_args(built))
    is_pair = issubclass(kind, LoadGeospatialImagePair)
    path_keys = tuple(loader.get('path_keys', ('img_path', 'post_img_path'))) if is_pair else \
        (loader.get('path_key', 'img_path'),)
    bands_per_frame: int | None = None
    num_frames = 1
    for t in pipeline:
        shape = t.get('new_shape')
        if t.get('type') == 'Reshape' and shape is not None and len(shape) == 4:
            bands_per_frame, num_frames = int(shape[0]), int(shape[1])
    stacked: bool | None = None
    if loader.get('frames') or num_frames == 1:
        stacked = True
    elif loader.get('bands') is not None:
        stacked = len(loader['bands']) != bands_per_frame
    spec = InputSpec(loader=loader, path_keys=path_keys, is_pair=is_pair, bands_per_frame=bands_per_frame,
                     num_frames=num_frames, stacked_frames=stacked, readers=reader_args(build_loader(loader)))
    return pipeline, spec


def build_loader(loader: Mapping[str, Any]) -> Any:
    """The loader transform of a pipeline step, built in mmengine's root TRANSFORMS registry.

    Returns:
        The transform (a class of the registry, so Any here).
    """
    from mmengine.registry import TRANSFORMS
    return TRANSFORMS.build(dict(loader))


def reader_args(loader: LoadGeospatialImageFromFile | LoadGeospatialImagePair | LoadGeospatialBandGroups,
                ) -> dict[str, ReaderArgs]:
    """``{path key: BandReader arguments}`` of a built loader: what its files are read with, as plain data.

    Returns:
        The arguments of each path key's reader.
    """
    readers = loader.loaders if isinstance(loader, (LoadGeospatialImagePair, LoadGeospatialBandGroups)) else [loader]
    return {reader.path_key: reader.reader_args() for reader in readers}


def _is_label_loader(transform_cfg: Mapping[str, Any]) -> bool:
    """Label loading steps (labels are not there at prediction time)."""
    from mmengine.registry import TRANSFORMS

    cls = TRANSFORMS.get(transform_cfg.get('type')) if isinstance(transform_cfg.get('type'), str) else None
    return cls is not None and issubclass(cls, LoadGeospatialAnnotations)


def label_loader_cfg(cfg: Config) -> ConfigDict:
    """The test pipeline's label loader (a LoadGeospatialAnnotations or subclass), or a default one.

    Returns:
        The label loader's config.
    """
    for t in test_dataset_cfg(cfg)['pipeline']:
        if _is_label_loader(t):
            return dict(t)
    return dict(type='LoadGeospatialAnnotations')
