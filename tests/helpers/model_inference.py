"""Running tools/model_inference.py and checking its outputs."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import subprocess
import traceback
from functools import cache

import numpy as np
import rasterio
from rasterio.transform import from_origin

from .commands import BIN, ROOT, run
from .rasters import write_geotiff

TOOL = ROOT / 'tools' / 'model_inference.py'


def tool(*args, check=True, **kwargs) -> subprocess.CompletedProcess:
    """tools/model_inference.py with ``args``: its ``main`` in this process, output and exit status captured as a
    process's would be (the stack is imported once per test process, not once per run); in a process of its own
    when ``env``, ``cwd`` or ``timeout`` are given."""
    argv = [*map(str, args), '--no-progress']
    if kwargs:
        return run([BIN / 'python', TOOL, *argv], check=check, **kwargs)
    environ = dict(os.environ)  # the tool sets LOCAL_RANK (and the trust variable with --trust-checkpoint)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = tool_main()(argv)
            except SystemExit as exc:  # argparse's errors (2)
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            except Exception:  # what an uncaught exception does to a process
                traceback.print_exc()
                code = 1
    finally:
        os.environ.clear()
        os.environ.update(environ)
    proc = subprocess.CompletedProcess(['model_inference.py', *argv], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f'model_inference.py {" ".join(argv)} failed with exit {code}\n--- stdout ---\n'
                             f'{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


@cache
def tool_main():
    """``main`` of tools/model_inference.py, loaded once."""
    spec = importlib.util.spec_from_file_location('model_inference_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def scene(path, height, width, nodata_rows=0, seed=0, transform=None):
    """A 6-band int16 HLS-like scene with a bright NIR block, nodata (-9999) in its first ``nodata_rows`` rows."""
    rng = np.random.default_rng(seed)
    img = rng.normal(1500, 300, (6, height, width))
    img[3, height // 3:height // 2, width // 4:width // 2] += 2500
    img = np.clip(img, 0, 10000).astype(np.int16)
    img[:, :nodata_rows] = -9999
    return write_geotiff(path, img, nodata=-9999, tiled=True, block=32,
                         transform=transform or from_origin(300000, 5000000, 10, 10))


def valid_prediction(path, like):
    """A class map of the input's size and transform with classes 0-2 (or nodata 255)."""
    with rasterio.open(like) as ref, rasterio.open(path) as src:
        data = src.read(1)
        return (src.width, src.height) == (ref.width, ref.height) and src.transform == ref.transform and \
            set(np.unique(data)) <= {0, 1, 2, 255}
