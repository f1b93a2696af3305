"""geospatial_mm: Earth-observation extensions for MMSegmentation, MMDetection and mmpretrain.

Importing the package applies the compatibility shims of :mod:`geospatial_mm.compat` (needed by the 2023-24
OpenMMLab stack on current PyTorch) and registers every module of the package into the OpenMMLab registries, so a
config only needs ``custom_imports = dict(imports=['geospatial_mm'], allow_failed_imports=False)``.
"""
from . import compat
from .version import __version__

compat.apply_all()

from . import datasets, evaluation, io, models, visualization  # noqa: E402  (registration, after the shims)

__all__ = ['__version__', 'compat', 'datasets', 'evaluation', 'io', 'models', 'visualization']
