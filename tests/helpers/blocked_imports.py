"""Run tools/model_inference.py (or any tool's ``main``) in a process where importing an OpenMMLab library raises, as
in an environment that has only torch, rasterio and numpy (or onnxruntime instead of torch)."""
from __future__ import annotations

import importlib.abc
import json
import runpy
import sys

BLOCKED = ('mmcv', 'mmengine', 'mmseg', 'mmdet', 'mmpretrain')


class Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, names) -> None:
        self.names = tuple(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split('.')[0] in self.names:
            raise ImportError(f'{fullname} is not installed here (blocked by the test)')
        return None


def main() -> None:
    """``python -m helpers.blocked_imports [--also torch] TOOL ARGS...``: run TOOL's ``__main__`` with the OpenMMLab
    libraries (and the ``--also`` ones) unimportable; print one JSON line with the exit status and which of the
    heavy libraries were imported."""
    args = sys.argv[1:]
    names = list(BLOCKED)
    while args and args[0] == '--also':
        names.append(args[1])
        args = args[2:]
    sys.meta_path.insert(0, Blocker(names))
    tool, sys.argv = args[0], args
    code = 0
    try:
        runpy.run_path(tool, run_name='__main__')
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    heavy = sorted(m for m in ('torch', 'onnxruntime', *BLOCKED) if m in sys.modules)
    print('BLOCKED_IMPORTS ' + json.dumps(dict(code=code, imported=heavy)), flush=True)
    sys.exit(code)


if __name__ == '__main__':
    main()
