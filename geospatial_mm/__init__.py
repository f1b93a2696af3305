"""geospatial_mm: Earth-observation extensions for MMSegmentation, MMDetection and mmpretrain.

Importing the package (a config's ``custom_imports = dict(imports=['geospatial_mm'], allow_failed_imports=False)``)
sets up the compatibility shims of :mod:`geospatial_mm.compat` and the registration of the package's parts
(:mod:`geospatial_mm.registration`); both take effect when the OpenMMLab libraries are imported, so the import itself
loads none of them, nor torch.
"""
from . import compat, registration
from .version import __version__

compat.apply_all()
registration.register()

__all__ = ['__version__', 'compat', 'registration']
