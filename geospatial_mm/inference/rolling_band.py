"""The band of rows that rolls down a raster while its tiles' predictions are accumulated.

Only a band of ``tile`` rows is ever held: once the tiles of a row of tiles are accumulated, the rows above the next
row of tiles can receive nothing more and are handed out as final.
"""
from __future__ import annotations

from typing import Any, Generic, TypeVar

from geospatial_mm.io.tiles import Tile
from .arrays import ArrayBackend, NumpyArrays

# finished rows of an accumulator: (raster row of the first, values (K, n, w), nodata (n, w)), as arrays of its
# backend (numpy, or torch on the model's device)
FinishedRows = tuple[int, Any, Any]
RowsT = TypeVar('RowsT')  # what a band hands out


class RollingBand(Generic[RowsT]):
    """A band of ``band_height`` rows that rolls down a raster.

    :meth:`advance_to` hands out the rows above a row as final (what they are is the subclass's :meth:`_take`) and
    moves the band down.
    """
    band_height: int
    top: int  # raster row of the band's first row

    def _take(self, n: int) -> RowsT:
        raise NotImplementedError

    def advance_to(self, row: int) -> RowsT | None:
        """Hand out rows ``[top, row)`` as final.

        Returns:
            The rows (what the subclass's ``_take`` makes of them); None when there are none.

        Raises:
            RuntimeError: more rows than the band holds.
        """
        n = row - self.top
        if n <= 0:
            return None
        if n > self.band_height:
            raise RuntimeError(f'cannot advance by {n} rows, more than the band of {self.band_height}')
        return self._take(n)

    def finish(self, height: int) -> RowsT | None:
        """Hand out the remaining rows up to the raster's ``height``.

        Returns:
            The rows, as :meth:`advance_to` does.
        """
        return self.advance_to(height)


class RowBandAccumulator(RollingBand[FinishedRows]):
    """Weighted sums of per-tile predictions over a band of rows that rolls down the raster.

    The sums are arrays of ``arrays`` (:class:`~.arrays.NumpyArrays`, or :class:`~.torch_arrays.TorchArrays` on the
    model's device, so that blending happens where the logits are and only finished rows leave the device).

    The band covers ``width`` columns from raster column ``col0`` (a vertical strip of the raster, or all of it).
    ``add`` accumulates a tile's ``(K, h, w)`` values times its ``(h, w)`` weights (and ORs its nodata mask);
    ``advance_to(row)`` returns the rows above ``row`` as final (values divided by the summed weights, nodata) and
    moves the band down; ``finish()`` returns the rest.
    """

    def __init__(self, channels: int, band_height: int, width: int, col0: int = 0,
                 arrays: ArrayBackend[Any] | None = None) -> None:
        self.arrays: ArrayBackend[Any] = arrays if arrays is not None else NumpyArrays()
        self.channels = channels
        self.band_height = band_height
        self.width = width
        self.col0 = col0  # raster column of the band's first column
        self.top = 0  # raster row of the band's first row
        self.values = self.arrays.zeros((channels, band_height, width))
        self.weights = self.arrays.zeros((band_height, width))
        self.nodata = self.arrays.zeros((band_height, width), 'bool')

    def add(self, tile: Tile, values: Any, weights: Any, nodata: Any | None) -> None:
        """Accumulate a tile's ``(K, h, w)`` values times its ``(h, w)`` weights, and OR its ``(h, w)`` nodata mask.

        The arrays are of the accumulator's ``arrays`` (numpy or torch).

        Raises:
            RuntimeError: the tile is outside the band.
        """
        r = tile.row - self.top
        if r < 0 or r + tile.height > self.band_height:
            raise RuntimeError(f'tile at row {tile.row} is outside the accumulated band starting at {self.top}')
        c = tile.col - self.col0
        if c < 0 or c + tile.width > self.width:
            raise RuntimeError(f'tile at column {tile.col} is outside the accumulated columns {self.col0}-'
                               f'{self.col0 + self.width - 1}')
        rows, cols = slice(r, r + tile.height), slice(c, c + tile.width)
        self.arrays.add_product(self.values[:, rows, cols], values, weights)
        self.weights[rows, cols] += weights
        if nodata is not None:
            self.nodata[rows, cols] |= nodata

    def _take(self, n: int) -> FinishedRows:
        """The first ``n`` rows as (top row, values / weights, nodata), then shift the band up by ``n``."""
        top = self.top
        weights = self.weights[:n]
        if n and bool((weights <= 0).any()):
            raise RuntimeError(f'rows {top}-{top + n - 1} received no tile')
        values = self.values[:, :n] / weights
        nodata = self.arrays.copy(self.nodata[:n])
        keep = self.band_height - n
        if keep > 0:  # the source and target rows overlap: copy out first
            self.values[:, :keep] = self.arrays.copy(self.values[:, n:])
            self.weights[:keep] = self.arrays.copy(self.weights[n:])
            self.nodata[:keep] = self.arrays.copy(self.nodata[n:])
        self.values[:, keep:] = 0
        self.weights[keep:] = 0
        self.nodata[keep:] = False
        self.top += n
        return top, values, nodata
