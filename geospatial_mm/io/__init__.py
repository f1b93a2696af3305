"""Rasters in and out: reading headers, bands and windows; writing GeoTIFFs and PNGs atomically.

With :mod:`geospatial_mm.compat`, the package's bottom layer: it imports nothing of the package above it.
"""
from .png import write_png
from .raster import (
    BACKENDS,
    SUPPORTED_DTYPES,
    RasterError,
    RasterMeta,
    check_bands,
    check_window,
    keep_open,
    read_bands,
    read_meta,
    read_raster,
)

__all__ = ['BACKENDS', 'SUPPORTED_DTYPES', 'RasterError', 'RasterMeta', 'check_bands', 'check_window', 'keep_open',
           'read_bands', 'read_meta', 'read_raster', 'write_png']
