from .raster import BACKENDS, SUPPORTED_DTYPES, RasterError, RasterMeta, check_bands, check_window, read_bands, read_meta

__all__ = ['BACKENDS', 'SUPPORTED_DTYPES', 'RasterError', 'RasterMeta', 'check_bands', 'check_window', 'read_bands',
           'read_meta']
