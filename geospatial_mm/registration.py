"""Registering the package's parts into the OpenMMLab registries, lazily.

Importing ``geospatial_mm`` (what a config's ``custom_imports`` does) imports none of mmseg, mmdet or mmpretrain.
Each registry that the package extends gets the package's modules appended to its import locations (mmengine's
registries import their locations at their first lookup), as soon as the library's registry module is imported, or
at once if it already is. So an mmseg config imports the package's mmseg parts when its runner first builds
something, and never touches mmdet or mmpretrain; and a module whose registry was already used is imported at once.
"""
from __future__ import annotations

import importlib
import sys

from .after_import import after_import

TRANSFORMS = ['geospatial_mm.datasets.transforms']  # into mmengine's root registry
INITIALIZERS = ['geospatial_mm.models.pretrained.strict_pretrained']  # StrictPretrained, in mmengine's root registry
SAMPLERS = ['geospatial_mm.datasets.rare_class_weighted_sampler']  # in mmengine's root registry
OPTIM_WRAPPERS = ['geospatial_mm.engine.optim_wrappers.cpu_autocast_optim_wrapper']  # in mmengine's root registry

# the module defining a library's registries -> {registry: modules of the package that register into it (or into
# the root registry it searches)}
LOCATIONS = {
    'mmengine.registry.root': dict(TRANSFORMS=TRANSFORMS, WEIGHT_INITIALIZERS=INITIALIZERS, DATA_SAMPLERS=SAMPLERS,
                                   OPTIM_WRAPPERS=OPTIM_WRAPPERS),
    'mmseg.registry.registry': dict(
        MODELS=['geospatial_mm.models.backbones.prithvi_vit', 'geospatial_mm.models.backbones.multiband_resnet',
                'geospatial_mm.models.necks.tokens_to_feature_map', 'geospatial_mm.models.heads.siamese_change_head',
                'geospatial_mm.models.segmentors.temporal_encoder_decoder',
                'geospatial_mm.models.segmentors.siamese_encoder_decoder',
                'geospatial_mm.models.losses.softmax_focal_loss',
                'geospatial_mm.models.data_preprocessors.temporal_seg_data_preprocessor'],
        DATASETS=['geospatial_mm.datasets.geospatial_seg', 'geospatial_mm.datasets.paired_folders',
                  'geospatial_mm.datasets.sen12ms', 'geospatial_mm.datasets.dfc2020',
                  'geospatial_mm.datasets.s1s2_folder', 'geospatial_mm.datasets.xbd'],
        METRICS=['geospatial_mm.evaluation.metrics.aa_iou_metric',
                 'geospatial_mm.evaluation.metrics.per_class_iou_metric',
                 'geospatial_mm.evaluation.metrics.xview2_metric'],
        HOOKS=['geospatial_mm.visualization.geospatial_seg_visualization_hook'],
        TRANSFORMS=TRANSFORMS, WEIGHT_INITIALIZERS=INITIALIZERS, DATA_SAMPLERS=SAMPLERS,
        OPTIM_WRAPPERS=OPTIM_WRAPPERS),
    'mmdet.registry': dict(
        MODELS=['geospatial_mm.models.backbones.multiband_resnet',
                'geospatial_mm.models.data_preprocessors.multiband_det_data_preprocessor'],
        METRICS=['geospatial_mm.evaluation.metrics.per_class_coco_metric'],
        TRANSFORMS=TRANSFORMS, WEIGHT_INITIALIZERS=INITIALIZERS, DATA_SAMPLERS=SAMPLERS,
        OPTIM_WRAPPERS=OPTIM_WRAPPERS),
    'mmpretrain.registry': dict(
        MODELS=['geospatial_mm.models.data_preprocessors.multiband_selfsup_data_preprocessor'],
        DATASETS=['geospatial_mm.datasets.hephaestus'],
        TRANSFORMS=TRANSFORMS, WEIGHT_INITIALIZERS=INITIALIZERS, DATA_SAMPLERS=SAMPLERS,
        OPTIM_WRAPPERS=OPTIM_WRAPPERS),
}


def _extend(registry_module) -> None:
    for registry_name, modules in LOCATIONS[registry_module.__name__].items():
        registry = getattr(registry_module, registry_name)
        missing = [m for m in modules if m not in registry._locations]
        # a new list: registries created without locations share one default list object
        registry._locations = list(registry._locations) + missing
        if registry._imported:  # already looked up: its locations will not be read again
            for module in missing:
                importlib.import_module(module)


def register() -> None:
    """Extend every library registry when it is created (idempotent)."""
    for registry_module in LOCATIONS:
        if registry_module in sys.modules:
            _extend(sys.modules[registry_module])
        else:
            after_import(registry_module, _extend)
