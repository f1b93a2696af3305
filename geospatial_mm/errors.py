"""The base of every error the package raises on purpose.

Each error class of the package derives from :class:`GeospatialMMError` and from the built-in type it has always
been (``RasterError`` is a ``ValueError``, ``UntrustedFileError`` a ``RuntimeError``, ...), so that
``except GeospatialMMError`` catches any of them and code that caught the built-in type keeps working.
"""
from __future__ import annotations


class GeospatialMMError(Exception):
    """An error raised by geospatial_mm about its input, a file, a model or an option; its message names the file
    or the option and the problem."""
