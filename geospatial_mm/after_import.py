"""Running code right after a module is imported, so that a shim or a registration touches a library only once it
is in use (an import hook that wraps the loader of the watched modules)."""
from __future__ import annotations

import importlib.abc
import sys
from typing import Any, Callable


class _AfterImportLoader(importlib.abc.Loader):
    def __init__(self, loader, callbacks: list) -> None:
        self.loader = loader
        self.callbacks = callbacks

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        for callback in self.callbacks:
            callback(module)


class _AfterImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader that the other finders give for a watched module."""

    def __init__(self) -> None:
        self.callbacks: dict[str, list] = {}

    def find_spec(self, fullname, path=None, target=None):
        callbacks = self.callbacks.pop(fullname, None)
        if callbacks is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, 'exec_module'):
                    spec.loader = _AfterImportLoader(spec.loader, callbacks)
                return spec
        return None


_AFTER_IMPORT = _AfterImportFinder()


def after_import(name: str, callback: Callable[[Any], None]) -> None:
    """Call ``callback(module)`` once module ``name`` has been executed: now if it already is, else right after its
    import (before anything that imports it sees it)."""
    if name in sys.modules:
        callback(sys.modules[name])
        return
    if _AFTER_IMPORT not in sys.meta_path:
        sys.meta_path.insert(0, _AFTER_IMPORT)
    _AFTER_IMPORT.callbacks.setdefault(name, []).append(callback)
