"""Instances predicted on overlapping tiles -> one raster of instance ids, with objects cut by tile borders merged.

Tiles arrive in the row-major order of a :class:`~geospatial_mm.io.tiles.TileGrid`. Each tile's instances
(boolean masks with a class and a score) are painted into a band of rows that rolls down the raster, as the
segmentation predictor's logits are:

* **merging**: a new instance is compared with the instances already painted in the part of its tile that earlier
  tiles covered (the overlap). The earlier instance of the same class that agrees best with it there is the same
  object, cut by a tile border, if their agreement - the pixels both hold in that shared region, as a fraction of
  the smaller of their two areas there - reaches ``merge_thr``: their ids are joined (union-find). The smaller area
  counts because a tile often sees only a sliver of an object that the previous tile saw whole. Only the best match is
  joined, so one detection that wrongly spans two neighbouring objects does not fuse them; distinct objects that
  merely touch share no pixels and stay apart. An object that no single tile sees whole comes out as one instance as
  long as consecutive tiles see its parts in their overlap;
* **painting**: an instance takes only pixels that no instance holds yet (higher scores first within a tile, earlier
  tiles first across tiles), so a pixel belongs to one instance; an instance of which more than half is held by a
  higher-scoring instance of the same tile is a duplicate and left out (non-maximum suppression on masks);
* rows above the next row of tiles are final and handed out with their provisional ids; since ids may still be joined
  later, :meth:`InstanceStitcher.resolve` gives the lookup tables (provisional id -> final id, class, score) that a
  second pass over the written rows applies. Final ids are numbered 1, 2, ... in the order of their first pixel's
  provisional id; instances smaller than ``min_area`` pixels are dropped (id 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geospatial_mm.io.tiles import Tile
from .rolling_band import RollingBand


@dataclass
class Resolved:
    """Lookup tables of :meth:`InstanceStitcher.resolve`, indexed by provisional id (0: background)."""
    final_id: NDArray[np.int64]  # 0 for background and dropped instances
    label: NDArray[np.int64]  # class index of the final instance (-1 for background)
    score: NDArray[np.float32]  # 0 for background
    count: int  # number of final instances
    areas: NDArray[np.int64]  # pixels of each final instance, indexed by final id

    @property
    def dtype(self) -> str:
        """The data type of the final ids: uint16, or uint32 beyond 65534 instances."""
        return 'uint16' if self.count < np.iinfo(np.uint16).max else 'uint32'


class InstanceStitcher(RollingBand[tuple[int, NDArray[np.int64]]]):
    """Paint and merge tile instances into a rolling band of ``band_height`` rows of a ``width``-pixel raster.

    ``advance_to(row)`` / ``finish(height)`` hand out ``(top row, provisional ids)`` of the rows that are final.

    A raster too wide for one band is stitched in vertical strips, left to right (:meth:`start_strip`): the band then
    covers the strip's tiles' columns from ``col0``, hands out (and counts the areas of) only the strip's own columns,
    and its columns left of them, which the strips before finished, are filled with their ids (:meth:`load`) and count
    as predicted by earlier tiles: the strip's instances merge with those they continue. The provisional ids and
    their union-find span all strips.
    """

    def __init__(self, width: int, band_height: int, merge_thr: float = 0.5) -> None:
        if not 0 < merge_thr <= 1:
            raise ValueError(f'merge_thr must be in (0, 1], got {merge_thr}')
        self.band_height = band_height
        self.merge_thr = merge_thr
        self.parent = [0]  # union-find over provisional ids; 0 is background
        self.label = [-1]
        self.score = [0.0]
        self.area = [0]  # pixels of each provisional id in rows already handed out
        self.start_strip(width)

    def start_strip(self, width: int, col0: int = 0, own: tuple[int, int] | None = None) -> None:
        """Start a band of ``width`` columns from raster column ``col0`` at the first row.

        It hands out the raster columns ``own`` (default: all of the band's).
        """
        self.width = width
        self.col0 = col0
        own = own or (col0, col0 + width)
        self.own = slice(own[0] - col0, own[1] - col0)  # band columns handed out
        self.top = 0
        self.ids = np.zeros((self.band_height, width), np.int64)
        self.covered = np.zeros((self.band_height, width), bool)  # pixels that earlier tiles predicted

    def load(self, top: int, ids: NDArray[np.int64]) -> None:
        """Fill band rows from raster row ``top`` with ``ids`` ``(h, w)`` of finished columns from ``col0``.

        The columns are left of the band's own columns, as predicted by earlier tiles.

        Raises:
            RuntimeError: the rows do not fit the finished part of the band.
        """
        r = top - self.top
        h, w = ids.shape
        if r < 0 or r + h > self.band_height or w > self.own.start:
            raise RuntimeError(f'rows {top}-{top + h - 1} x {w} columns do not fit the finished part of the band')
        self.ids[r:r + h, :w] = ids
        self.covered[r:r + h, :w] = True

    # -- union-find ------------------------------------------------------------------------------------------
    def find(self, i: int) -> int:
        """The root of provisional id ``i`` (the instance it is joined to), compressing the path.

        Returns:
            The root's provisional id.
        """
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression
            self.parent[i], i = root, self.parent[i]
        return root

    def join(self, a: int, b: int) -> int:
        """Join the instances of provisional ids ``a`` and ``b`` (the smaller root stays, with the higher score).

        Returns:
            The root of the joined instance.
        """
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        keep, gone = (ra, rb) if ra < rb else (rb, ra)
        self.parent[gone] = keep
        self.score[keep] = max(self.score[keep], self.score[gone])
        return keep

    def _new(self, label: int, score: float) -> int:
        i = len(self.parent)
        self.parent.append(i)
        self.label.append(int(label))
        self.score.append(float(score))
        self.area.append(0)
        return i

    @property
    def num_provisional(self) -> int:
        """The number of provisional ids given so far."""
        return len(self.parent) - 1

    # -- tiles ------------------------------------------------------------------------------------------------
    def add(self, tile: Tile, masks: NDArray[np.bool_], labels: NDArray[np.integer[Any]],
            scores: NDArray[np.floating[Any]]) -> None:
        """Paint one tile's instances.

        ``masks`` are ``(n, h, w)`` bool over the tile's window, ``labels`` ``(n,)`` class indices, ``scores``
        ``(n,)``.

        Raises:
            RuntimeError: the tile is outside the band.
            ValueError: the masks do not have the tile's size.
        """
        r = tile.row - self.top
        if r < 0 or r + tile.height > self.band_height:
            raise RuntimeError(f'tile at row {tile.row} is outside the band of rows starting at {self.top}')
        if masks.shape[1:] != (tile.height, tile.width):
            raise ValueError(f'masks of shape {masks.shape[1:]} for a tile of {tile.height}x{tile.width} pixels')
        c = tile.col - self.col0
        if c < 0 or c + tile.width > self.width:
            raise RuntimeError(f'tile at column {tile.col} is outside the band of columns starting at {self.col0}')
        rows, cols = slice(r, r + tile.height), slice(c, c + tile.width)
        ids = self.ids[rows, cols]  # views: painting writes into the band
        covered = self.covered[rows, cols]
        first_new = len(self.parent)
        for i in np.argsort(-np.asarray(scores), kind='stable'):
            mask = masks[i]
            area = np.count_nonzero(mask)
            if not area:
                continue
            if 2 * np.count_nonzero(mask & (ids >= first_new)) > area:
                continue  # mostly a higher-scoring instance of this tile: a duplicate (mask non-maximum suppression)
            new = self._new(labels[i], scores[i])
            shared = mask & covered
            if shared.any():
                self._merge_with_earlier(new, mask, ids, covered, shared, first_new)
            ids[mask & (ids == 0)] = new
        covered[:] = True

    def _merge_with_earlier(self, new: int, mask: NDArray[np.bool_], ids: NDArray[np.int64],
                            covered: NDArray[np.bool_], shared: NDArray[np.bool_], first_new: int) -> None:
        """Join ``new`` with the earlier instance of its class that agrees best with it where the tiles overlap.

        They are joined if their agreement reaches ``merge_thr``.
        """
        found = {self.find(i) for i in np.unique(ids[shared]).tolist() if 0 < i < first_new}
        roots = [r for r in sorted(found) if self.label[r] == self.label[new]]
        if not roots:
            return
        in_window = [i for i in np.unique(ids).tolist() if 0 < i < first_new]
        mine = np.count_nonzero(shared)
        best, best_agreement = None, self.merge_thr
        for root in roots:
            theirs = np.isin(ids, [i for i in in_window if self.find(i) == root]) & covered
            agreement = np.count_nonzero(shared & theirs) / min(mine, np.count_nonzero(theirs))
            if agreement >= best_agreement:
                best, best_agreement = root, agreement
        if best is not None:
            self.join(new, best)

    # -- rows -------------------------------------------------------------------------------------------------
    def _take(self, n: int) -> tuple[int, NDArray[np.int64]]:
        """The first ``n`` rows of the band's own columns as (top row, provisional ids), counted into the areas.

        Then the band shifts up.
        """
        top = self.top
        out = self.ids[:n, self.own].copy()
        counts = np.bincount(out.ravel(), minlength=len(self.area))
        for i in np.nonzero(counts[1:])[0] + 1:
            self.area[i] += int(counts[i])
        keep = self.band_height - n
        if keep > 0:
            self.ids[:keep] = self.ids[n:]
            self.covered[:keep] = self.covered[n:]
        self.ids[keep:] = 0
        self.covered[keep:] = False
        self.top += n
        return top, out

    def resolve(self, min_area: int = 0) -> Resolved:
        """Lookup tables from provisional ids to final instances (call after :meth:`finish`).

        Returns:
            The tables.
        """
        n = len(self.parent)
        roots = np.array([self.find(i) for i in range(n)], np.int64)
        root_area = np.bincount(roots, weights=np.asarray(self.area, np.float64), minlength=n)
        final_of_root = np.zeros(n, np.int64)
        count = 0
        areas = [0]
        for root in range(1, n):
            if roots[root] == root and root_area[root] > 0 and root_area[root] >= min_area:
                count += 1
                final_of_root[root] = count
                areas.append(int(root_area[root]))
        final_id = final_of_root[roots]
        label = np.where(final_id > 0, np.asarray(self.label, np.int64)[roots], -1)
        score = np.where(final_id > 0, np.asarray(self.score, np.float32)[roots], 0).astype(np.float32)
        return Resolved(final_id=final_id, label=label, score=score, count=count, areas=np.asarray(areas, np.int64))
