"""The file of a part of a raster that several processes detect instances in (``--split-scene``).

It holds the detector's instances of each tile of the part, as the model gave them (masks over the tile, classes,
scores), so that the join stitches every tile of the raster in the order one process does, with the same rule
(:class:`~geospatial_mm.inference.stitching.InstanceStitcher`): objects cut by part borders are merged as those cut
by tile borders are, and the outputs are those of one process.

The file is a zip of ``.npy`` arrays (deflated; masks packed 8 pixels to a byte), three per tile, named after the
tile's window: ``<row>_<col>_masks``, ``_labels``, ``_scores``. It is written under a temporary name and renamed
when complete.
"""
from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray

from geospatial_mm.io import RasterError
from geospatial_mm.io.atomic import atomic_path
from geospatial_mm.io.tiles import Tile

# a tile's instances: masks (n, h, w) bool over its window, class indices (n,), scores (n,)
TileDetections = tuple[NDArray[np.bool_], NDArray[np.integer[Any]], NDArray[np.floating[Any]]]


def _key(tile: Tile) -> str:
    return f'{tile.row}_{tile.col}'


class DetectionPartWriter:
    """Writes the instances of a part's tiles, tile by tile, into ``path`` (renamed into place by the ``with``).

    Args:
        path: the part's file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stack = contextlib.ExitStack()
        self._zip: zipfile.ZipFile | None = None

    def __enter__(self) -> Self:
        tmp = self._stack.enter_context(atomic_path(self.path, '.npz'))
        self._zip = self._stack.enter_context(zipfile.ZipFile(tmp, 'w', compression=zipfile.ZIP_DEFLATED,
                                                              compresslevel=1))
        return self

    def add(self, tile: Tile, masks: NDArray[np.bool_], labels: NDArray[np.integer[Any]],
            scores: NDArray[np.floating[Any]]) -> None:
        """Record a tile's instances (``masks`` over its window).

        Args:
            tile: the tile.
            masks: ``(n, tile.height, tile.width)`` bool.
            labels: ``(n,)`` class indices.
            scores: ``(n,)`` scores.
        """
        assert self._zip is not None, 'add() needs the writer open (in its with block)'
        arrays: dict[str, NDArray[Any]] = dict(masks=np.packbits(np.ascontiguousarray(masks, dtype=bool), axis=-1),
                      labels=np.asarray(labels, dtype=np.int64), scores=np.asarray(scores, dtype=np.float32))
        for name, array in arrays.items():
            with self._zip.open(f'{_key(tile)}_{name}.npy', 'w', force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # closes the zip, then renames it into place - or, after an error, deletes it
        self._stack.__exit__(exc_type, exc, tb)


class DetectionPartReader:
    """The instances of the tiles of a raster's parts, read back tile by tile.

    Args:
        paths: the parts' files.
    """

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self._stack = contextlib.ExitStack()
        self._where: dict[str, zipfile.ZipFile] = {}

    def __enter__(self) -> Self:
        for path in self.paths:
            try:
                archive = self._stack.enter_context(zipfile.ZipFile(path))
            except (OSError, zipfile.BadZipFile) as exc:
                self._stack.close()
                raise RasterError(f'{path}: not a readable part of instances ({exc})') from exc
            for name in archive.namelist():
                if name.endswith('_labels.npy'):
                    self._where[name[:-len('_labels.npy')]] = archive
        return self

    def get(self, tile: Tile) -> TileDetections:
        """A tile's instances.

        Args:
            tile: the tile (of the raster's grid).

        Returns:
            ``(masks, labels, scores)`` as the model gave them, masks over the tile's window.

        Raises:
            RasterError: no part holds the tile.
        """
        key = _key(tile)
        archive = self._where.get(key)
        if archive is None:
            raise RasterError(f'no part among {", ".join(map(str, self.paths))} holds the tile at row {tile.row}, '
                              f'column {tile.col}')

        def read(name: str) -> NDArray[Any]:
            with archive.open(f'{key}_{name}.npy') as member:
                return np.lib.format.read_array(member, allow_pickle=False)
        masks = np.unpackbits(read('masks'), axis=-1, count=tile.width).astype(bool)
        return masks, read('labels'), read('scores')

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.close()
