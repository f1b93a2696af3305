"""The grid of overlapping tiles.

Sliding-window prediction, and the converters that cut rasters into tiles, run over it.

Tiles start every ``stride`` pixels; the last tile of a row or column is moved back so that it ends at the raster's
edge (as mmseg's sliding window does), so every tile lies inside the raster. A raster smaller than a tile gets one
tile, which the caller pads. A grid can be cut into vertical strips (:meth:`TileGrid.column_strips`), so that a
raster of any width is predicted in bounded memory, and into bands of rows (:meth:`TileGrid.row_part`,
:meth:`TileGrid.tile_rows`), so that several processes share one raster.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterator


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels every ``stride`` pixels over ``length`` pixels.

    Returns:
        The offsets, ascending; the last one puts its tile's end at ``length`` (``[0]`` when the tile is not smaller
        than ``length``).

    Raises:
        ValueError: ``tile`` or ``stride`` is not positive, or ``stride`` is larger than ``tile``.
    """
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
    """One tile of a :class:`TileGrid`: its place in the grid and the window read from the raster."""
    index: int  # position in the raster's tile sequence (row-major)
    row_index: int  # which row of tiles
    row: int  # window (row, col, height, width) read from the raster; height/width < tile only for small rasters
    col: int
    height: int
    width: int

    @property
    def window(self) -> tuple[int, int, int, int]:
        """The window ``(row, col, height, width)`` read from the raster."""
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
        self.columns = (0, width)  # the raster columns whose predictions this grid finishes
        self.span = (0, width)  # the raster columns its tiles cover
        self.rows = (0, height)  # the raster rows whose predictions this grid finishes
        self.first_row_index = 0  # the row index of the first tile row (of the whole grid, for a part of it)

    def __len__(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def column_strips(self, max_width: int, align: int = 256) -> list[TileGrid]:
        """The grid cut into vertical strips, so that a raster of any width is predicted in bounded memory.

        Each strip finishes the raster columns ``strip.columns``, at most ``max_width`` wide (rounded down to a
        multiple of ``align``, the output's block width, so that no output block is written by two strips), and
        holds every tile of the grid that reaches them; its tiles cover ``strip.span``. Tiles that reach two strips
        are predicted in both, and every pixel gets exactly the tiles it gets from the whole grid, so the blended
        result is the same. A raster at most ``max_width`` wide is one strip, this grid.

        Returns:
            The strips, left to right: copies of this grid, each with its ``col_starts``, ``columns`` and ``span``.
        """
        if self.width <= max_width:
            return [self]
        step = max(align, max_width // align * align)
        strips: list[TileGrid] = []
        for lo in range(0, self.width, step):
            hi = min(lo + step, self.width)
            strip = copy.copy(self)
            strip.col_starts = [c for c in self.col_starts if c < hi and c + self.tile_width > lo]
            strip.columns = (lo, hi)
            strip.span = (strip.col_starts[0], strip.col_starts[-1] + self.tile_width)
            strips.append(strip)
        return strips

    def row_part(self, lo: int, hi: int) -> TileGrid:
        """The part of the grid that finishes the raster rows ``[lo, hi)``: every tile that reaches them.

        Every pixel of those rows gets exactly the tiles it gets from the whole grid, in the same order, so the blended
        result of the rows is the same; tiles that reach two parts are predicted in both.

        Returns:
            A copy of this grid with the tile rows that reach ``[lo, hi)`` and ``rows`` set to ``(lo, hi)``.

        Raises:
            ValueError: ``[lo, hi)`` is empty or not inside the raster.
        """
        if not 0 <= lo < hi <= self.height:
            raise ValueError(f'rows {lo}-{hi} are not a band of rows of a raster of {self.height} rows')
        part = copy.copy(self)
        part.row_starts = [r for r in self.row_starts if r < hi and r + self.tile_height > lo]
        part.rows = (lo, hi)
        return part

    def tile_rows(self, first: int, stop: int) -> TileGrid:
        """The tile rows ``first`` to ``stop - 1`` of the grid, each tile once (their tiles' indices unchanged).

        Returns:
            A copy of this grid with those tile rows; its ``rows`` are the raster rows their tiles cover.

        Raises:
            ValueError: the range holds no tile row of the grid.
        """
        if not 0 <= first < stop <= len(self.row_starts):
            raise ValueError(f'tile rows {first}-{stop - 1} are not in a grid of {len(self.row_starts)} tile rows')
        part = copy.copy(self)
        part.row_starts = self.row_starts[first:stop]
        part.first_row_index = self.first_row_index + first
        part.rows = (part.row_starts[0], part.row_starts[-1] + self.tile_height)
        return part

    def strips(self, max_width: int) -> Iterator[tuple[list[Tile], tuple[int, int, int, int]]]:
        """The tiles in runs of neighbours of one tile row whose union is at most ``max_width`` pixels wide.

        Yields:
            ``(tiles, window)``: a run of at least one tile, in the order of iteration, and the window ``(row, col,
            height, width)`` of their union.
        """
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
        for r, row in enumerate(self.row_starts, self.first_row_index):
            for col in self.col_starts:
                yield Tile(index, r, row, col, self.tile_height, self.tile_width)
                index += 1
