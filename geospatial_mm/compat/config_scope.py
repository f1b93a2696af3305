"""``geospatial_mm::`` base configs.

mmengine resolves ``_base_ = ['mmseg::_base_/...']`` only for the packages in its own table
(``mmengine.config.utils.MODULE2PACKAGE``), and reads a config's ``_base_`` before its ``custom_imports`` run. The
package is added to that table, and the install places ``geospatial_mm.pth`` in site-packages, which imports the
package (no torch, no OpenMMLab library) when Python starts, so that a config anywhere on disk can inherit
``geospatial_mm::_base_/...`` whatever script reads it (``mim train mmsegmentation``, tools/train.py,
tools/model_inference.py). The bases are the installed copies under ``geospatial_mm/.mim/configs``.

mmengine also tags every component a scoped base defines with ``_scope_ = <package>``, so that it is built from that
package's registries. This package has no registries of its own: its classes live in mmseg's, mmdet's and
mmpretrain's, and its base parts are written for the scope of the config that uses them (the runtime bases set
``default_scope`` themselves). A ``geospatial_mm::`` base is therefore read as a local one would be, with no scope of
its own; other packages' scoped bases keep mmengine's behaviour.
"""
from __future__ import annotations

import functools

PACKAGE = 'geospatial_mm'


def register_config_scope(utils) -> None:
    """Add the package to ``mmengine.config.utils.MODULE2PACKAGE`` (module name -> distribution name)."""
    utils.MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)


def patch_base_scope(config_module) -> None:
    """``Config._get_cfg_path`` returns no scope for ``geospatial_mm::`` bases (their parts take the config's)."""
    config_cls = config_module.Config
    original = config_cls._get_cfg_path
    if getattr(original, '_geospatial_mm', False):
        return

    @functools.wraps(original)
    def get_cfg_path(cfg_path: str, filename: str):
        path, scope = original(cfg_path, filename)
        return path, (None if scope == PACKAGE else scope)

    get_cfg_path._geospatial_mm = True
    config_cls._get_cfg_path = staticmethod(get_cfg_path)
