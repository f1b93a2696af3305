"""Streaming prediction over rasters of any size (used by tools/model_inference.py)."""
from .rolling_band import RollingBand, RowBandAccumulator
from .sources import Sample, find_frame_groups, find_pairs, find_single

__all__ = ['RollingBand', 'RowBandAccumulator', 'Sample', 'find_frame_groups', 'find_pairs', 'find_single']
