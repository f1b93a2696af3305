"""The tile grid (io/tiles.py): tiles that cover every pixel as mmseg's sliding window does, runs of a row read as one
strip, and vertical strips that bound a wide raster's memory."""
import numpy as np
import pytest

from geospatial_mm.io.tiles import TileGrid, tile_starts


@pytest.mark.parametrize('length', [1, 31, 32, 33, 47, 48, 49, 100, 257])
def test_tile_starts_cover_every_pixel_inside_the_raster(length):
    tile, stride = 32, 16
    starts = tile_starts(length, tile, stride)
    covered = np.zeros(length, bool)
    for s in starts:
        assert s >= 0 and (s + tile <= length or (s == 0 and length < tile))
        covered[s:s + tile] = True
    assert covered.all() and starts == sorted(set(starts))
    # the same grid as mmseg's sliding window: ceil((L - tile) / stride) + 1 tiles, the last one moved back
    if length >= tile:
        assert len(starts) == max(length - tile + stride - 1, 0) // stride + 1


def test_stride_larger_than_tile_is_refused():
    with pytest.raises(ValueError, match='larger than the tile'):
        tile_starts(100, 16, 32)


def test_strips_group_neighbouring_tiles_of_a_row_within_the_width():
    grid = TileGrid(70, 100, 32, 16)
    strips = list(grid.strips(64))
    assert [t for tiles, _ in strips for t in tiles] == list(grid)  # every tile once, in order
    for tiles, (row, col, h, w) in strips:
        assert len({t.row_index for t in tiles}) == 1 and w <= 64 and h == 32
        assert col == tiles[0].col and col + w == tiles[-1].col + tiles[-1].width
    assert max(len(tiles) for tiles, _ in strips) == 3  # 32 + 2 x 16 = 64


def test_column_strips_cover_each_column_once_with_every_tile_that_reaches_it():
    grid = TileGrid(40, 1000, 32, 16)
    strips = grid.column_strips(256, align=128)
    assert [s.columns for s in strips] == [(0, 256), (256, 512), (512, 768), (768, 1000)]
    for strip in strips:
        lo, hi = strip.columns
        reaching = [c for c in grid.col_starts if c < hi and c + 32 > lo]
        assert strip.col_starts == reaching and strip.span == (reaching[0], reaching[-1] + 32)
        assert strip.row_starts == grid.row_starts and len(strip) == len(grid.row_starts) * len(reaching)
    assert grid.column_strips(1000) == [grid]


def test_a_row_part_holds_every_tile_that_reaches_its_rows_in_the_grids_order():
    grid = TileGrid(600, 90, 32, 16)
    top, bottom = grid.row_part(0, 512), grid.row_part(512, 600)
    assert top.rows == (0, 512) and bottom.rows == (512, 600)
    for part in (top, bottom):
        lo, hi = part.rows
        assert part.row_starts == [r for r in grid.row_starts if r < hi and r + 32 > lo]
        assert [t.window for t in part] == [t.window for t in grid if lo - 32 < t.row < hi]
    assert set(top.row_starts) & set(bottom.row_starts) == {496}  # the tile across the border is in both
    assert top.row_part(0, 100).row_starts == grid.row_part(0, 100).row_starts
    with pytest.raises(ValueError, match='not a band of rows'):
        grid.row_part(512, 700)


def test_tile_rows_take_each_tile_once_with_its_place_in_the_whole_grid():
    grid = TileGrid(300, 160, 64, 48)
    parts = [grid.tile_rows(0, 3), grid.tile_rows(3, len(grid.row_starts))]
    tiles = [t for part in parts for t in part]
    assert [(t.row_index, t.window) for t in tiles] == [(t.row_index, t.window) for t in grid]
    assert parts[1].rows == (144, 300) and parts[0].rows == (0, 160)
    with pytest.raises(ValueError, match='tile rows'):
        grid.tile_rows(3, 9)
