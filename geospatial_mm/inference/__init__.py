"""Streaming inference over rasters of any size (used by tools/model_inference.py)."""
from .blending import ramp_1d, tile_weights
from .sources import Sample, find_frame_groups, find_pairs, find_single
from .tiling import RowBandAccumulator, TileGrid, tile_starts
from .writer import AtomicRasterWriter

__all__ = ['ramp_1d', 'tile_weights', 'Sample', 'find_frame_groups', 'find_pairs', 'find_single', 'RowBandAccumulator',
           'TileGrid', 'tile_starts', 'AtomicRasterWriter']
