"""The grid of overlapping tiles that sliding-window inference runs over, and the rolling band of rows in which
their blended predictions are accumulated.

Tiles start every ``stride`` pixels; the last tile of a row or column is moved back so that it ends at the raster's
edge (as mmseg's sliding window does), so every tile lies inside the raster. A raster smaller than a tile gets one
tile, which the caller pads.

Only a band of ``tile`` rows is ever held: once the tiles of a row of tiles are accumulated, the rows above the next
row of tiles can receive nothing more and are handed out as final.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels every ``stride`` pixels over ``length`` pixels."""
    if tile <= 0 or stride <= 0:
        raise ValueError(f'tile and stride must be positive, got tile={tile}, stride={stride}')
    if stride > tile:
        raise ValueError(f'stride {stride} is larger than the tile {tile}: pixels between tiles would get no '
                         'prediction')
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


@dataclass(frozen=True)
class Tile:
    index: int  # position in the raster's tile sequence (row-major)
    row_index: int  # which row of tiles
    row: int  # window (row, col, height, width) read from the raster; height/width < tile only for small rasters
    col: int
    height: int
    width: int

    @property
    def window(self) -> tuple[int, int, int, int]:
        return self.row, self.col, self.height, self.width


class TileGrid:
    """Row-major tiles of ``tile`` x ``tile`` pixels every ``stride`` pixels over a ``height`` x ``width`` raster."""

    def __init__(self, height: int, width: int, tile: int | tuple[int, int], stride: int | tuple[int, int]) -> None:
        self.height, self.width = height, width
        self.tile = (tile, tile) if isinstance(tile, int) else tuple(tile)
        self.stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
        self.row_starts = tile_starts(height, self.tile[0], self.stride[0])
        self.col_starts = tile_starts(width, self.tile[1], self.stride[1])
        self.tile_height = min(self.tile[0], height)
        self.tile_width = min(self.tile[1], width)

    def __len__(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def strips(self, max_width: int) -> Iterator[tuple[list[Tile], tuple[int, int, int, int]]]:
        """The tiles in runs of neighbours of one tile row whose union is at most ``max_width`` pixels wide (at
        least one tile), each with that union's window ``(row, col, height, width)``, in the order of iteration."""
        row_tiles: list[Tile] = []
        for tile in self:
            if row_tiles and (tile.row_index != row_tiles[0].row_index
                              or tile.col + tile.width - row_tiles[0].col > max_width):
                yield row_tiles, self._union(row_tiles)
                row_tiles = []
            row_tiles.append(tile)
        if row_tiles:
            yield row_tiles, self._union(row_tiles)

    @staticmethod
    def _union(tiles: list[Tile]) -> tuple[int, int, int, int]:
        first, last = tiles[0], tiles[-1]
        return first.row, first.col, first.height, last.col + last.width - first.col

    def __iter__(self) -> Iterator[Tile]:
        index = 0
        for r, row in enumerate(self.row_starts):
            for col in self.col_starts:
                yield Tile(index, r, row, col, self.tile_height, self.tile_width)
                index += 1


class RollingBand:
    """A band of ``band_height`` rows that rolls down a raster: :meth:`advance_to` hands out the rows above a row as
    final (what they are is the subclass's :meth:`_take`) and moves the band down."""
    band_height: int
    top: int  # raster row of the band's first row

    def _take(self, n: int):
        raise NotImplementedError

    def advance_to(self, row: int):
        """Hand out rows ``[top, row)`` as final; None when there are none."""
        n = row - self.top
        if n <= 0:
            return None
        if n > self.band_height:
            raise RuntimeError(f'cannot advance by {n} rows, more than the band of {self.band_height}')
        return self._take(n)

    def finish(self, height: int):
        """Hand out the remaining rows up to the raster's ``height``."""
        return self.advance_to(height)


class RowBandAccumulator(RollingBand):
    """Weighted sums of per-tile predictions over a band of rows that rolls down the raster.

    ``add`` accumulates a tile's ``(K, h, w)`` values times its ``(h, w)`` weights (and ORs its nodata mask);
    ``advance_to(row)`` returns the rows above ``row`` as final (values divided by the summed weights) and moves the
    band down; ``finish()`` returns the rest.
    """

    def __init__(self, channels: int, band_height: int, width: int) -> None:
        self.channels = channels
        self.band_height = band_height
        self.width = width
        self.top = 0  # raster row of the band's first row
        self.values = np.zeros((channels, band_height, width), dtype=np.float32)
        self.weights = np.zeros((band_height, width), dtype=np.float32)
        self.nodata = np.zeros((band_height, width), dtype=bool)

    def add(self, tile: Tile, values: np.ndarray, weights: np.ndarray, nodata: np.ndarray | None) -> None:
        r = tile.row - self.top
        if r < 0 or r + tile.height > self.band_height:
            raise RuntimeError(f'tile at row {tile.row} is outside the accumulated band starting at {self.top}')
        rows, cols = slice(r, r + tile.height), slice(tile.col, tile.col + tile.width)
        self.values[:, rows, cols] += values * weights
        self.weights[rows, cols] += weights
        if nodata is not None:
            self.nodata[rows, cols] |= nodata

    def _take(self, n: int) -> tuple[int, np.ndarray, np.ndarray]:
        """The first ``n`` rows as (top row, values / weights, nodata), then shift the band up by ``n``."""
        top = self.top
        weights = self.weights[:n]
        if n and (weights <= 0).any():
            raise RuntimeError(f'rows {top}-{top + n - 1} received no tile')
        values = self.values[:, :n] / weights
        nodata = self.nodata[:n].copy()
        keep = self.band_height - n
        if keep > 0:
            self.values[:, :keep] = self.values[:, n:]
            self.weights[:keep] = self.weights[n:]
            self.nodata[:keep] = self.nodata[n:]
        self.values[:, keep:] = 0
        self.weights[keep:] = 0
        self.nodata[keep:] = False
        self.top += n
        return top, values, nodata
