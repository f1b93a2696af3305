"""Running tools/model_inference.py and checking its outputs."""
from __future__ import annotations

import subprocess

import numpy as np
import rasterio
from rasterio.transform import from_origin

from .commands import BIN, ROOT, run, run_main
from .rasters import write_geotiff

TOOL = ROOT / 'tools' / 'model_inference.py'


def tool(*args, check=True, **kwargs) -> subprocess.CompletedProcess:
    """tools/model_inference.py with ``args``: its ``main`` in this process (:func:`~helpers.commands.run_main`), or
    in a process of its own when ``env``, ``cwd`` or ``timeout`` are given."""
    argv = [*map(str, args), '--no-progress']
    if kwargs:
        return run([BIN / 'python', TOOL, *argv], check=check, **kwargs)
    return run_main(TOOL, argv, check=check)


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
