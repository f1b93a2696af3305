"""The files model_inference writes, and how to tell them from inputs.

Every output carries a producer mark: the GeoTIFF tag ``GEOSPATIAL_MM_PRODUCER``, a ``producer`` member of the
GeoJSON collection, the ``Software`` text of a preview PNG. A file is an output of an earlier run when its name ends
like one (``_pred.tif``, ``_prob.tif``, ``_instances.tif``, ``_class_score.tif``, ``_instances.geojson``,
``_preview.png``) and it carries the mark (GeoTIFFs of versions before the mark: the tags ``source``,
``checkpoint``, ``tile`` and ``stride`` together). Such files are never taken as inputs; a file at an output path
that is not such a file (an input, or anything else of the user's) is never written over.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

PRODUCER_TAG = 'GEOSPATIAL_MM_PRODUCER'
PRODUCER = 'geospatial_mm model_inference'
OUTPUT_ENDINGS = ('_pred.tif', '_prob.tif', '_instances.tif', '_class_score.tif', '_instances.geojson',
                  '_preview.png')
_LEGACY_TAGS = {'source', 'checkpoint', 'tile', 'stride'}


def named_like_output(path: str | os.PathLike[str]) -> bool:
    """Whether ``path``'s name ends like an output's (:data:`OUTPUT_ENDINGS`).

    Returns:
        True for such a name.
    """
    return Path(path).name.endswith(OUTPUT_ENDINGS)


def is_own_output(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file that model_inference wrote (see the module docstring).

    Returns:
        True for an output of an earlier run; False for anything else, also a file that cannot be read.
    """
    path = Path(path)
    if not named_like_output(path) or not path.is_file():
        return False
    try:
        if path.suffix == '.tif':
            import rasterio
            with rasterio.open(path) as src:
                tags = src.tags()
            return bool(tags.get(PRODUCER_TAG) == PRODUCER or _LEGACY_TAGS <= set(tags))
        if path.suffix == '.geojson':
            with open(path) as f:
                collection = json.load(f)
            return isinstance(collection, dict) and collection.get('producer') == PRODUCER
        if path.suffix == '.png':
            from PIL import Image
            with Image.open(path) as image:
                return bool(getattr(image, 'text', {}).get('Software') == PRODUCER)
    except Exception:  # unreadable: not a file this tool completed, so not one of its outputs
        return False
    return False


def overwrite_problem(output: str | os.PathLike[str], inputs: set[str]) -> str | None:
    """Why ``output`` must not be written, or None.

    Returns:
        The reason: it is one of this run's inputs (``inputs``: real paths), or an existing file that model_inference
        did not write; None when it may be written.
    """
    output = Path(output)
    real = os.path.realpath(output)
    if real in inputs:
        return (f'{output}: this output would overwrite an input of the run; write the predictions to another '
                'folder (-output)')
    if os.path.lexists(output) and not is_own_output(output):
        return (f'{output}: a file that is not an output of model_inference is in the way; move it or write the '
                'predictions to another folder (-output)')
    return None


def outputs_complete(paths: Mapping[str, Path]) -> bool:
    """Whether every output exists and its rasters open (outputs are only ever renamed into place when complete).

    Args:
        paths: ``{kind: path}`` of a sample's outputs.

    Returns:
        True when all are there and readable.
    """
    import rasterio
    from rasterio.errors import RasterioError
    for p in paths.values():
        if not Path(p).is_file():
            return False
        if Path(p).suffix.lower() not in ('.tif', '.tiff'):
            continue
        try:
            with rasterio.open(p):
                pass
        except RasterioError:
            return False
    return True
