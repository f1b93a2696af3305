"""mmcv-lite's missing ``mmcv._ext``, found by an import hook and served by :mod:`.mmcv_ext` (torchvision's kernels).

The finder stands last in ``sys.meta_path``: Python's own finders look first, so a compiled ``mmcv/_ext*.so`` of full
mmcv is always the one imported; only when none is installed does ``import mmcv._ext`` load this package's
``mmcv_ext.py`` under that name, as a real module with a file and a loader. That is what mmengine's
``mmcv_full_available()`` asks (``pkgutil.find_loader('mmcv._ext')``), and what mmcv's ``ext_loader.load_ext``
imports. An import hook, rather than a file written into mmcv's folder, because pip owns that folder for whichever of
``mmcv`` and ``mmcv-lite`` is installed: a file of ours there would outlive a switch between them, or be removed with
one. The hook is installed when ``geospatial_mm`` is imported, which the installed ``geospatial_mm.pth`` does when
Python starts; it imports nothing until ``mmcv._ext`` is asked for.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

MODULE = 'mmcv._ext'
PROVIDER_FILE = Path(__file__).with_name('mmcv_ext.py')


class _ProvidedExtFinder(importlib.abc.MetaPathFinder):
    """Finds ``mmcv._ext`` when no other finder did: this package's torchvision provider."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != MODULE:
            return None
        return importlib.util.spec_from_file_location(MODULE, PROVIDER_FILE)


_FINDER = _ProvidedExtFinder()


def install_ext_finder() -> None:
    """Put the finder last in ``sys.meta_path`` (once)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)


def ops_provider() -> str:
    """What serves mmcv's compiled ops in this environment: ``'mmcv'`` (its compiled extension) or
    ``'torchvision'`` (this package's provider), from the module that ``import mmcv._ext`` loads."""
    spec = importlib.util.find_spec(MODULE)
    return 'torchvision' if spec is not None and Path(spec.origin or '') == PROVIDER_FILE else 'mmcv'
