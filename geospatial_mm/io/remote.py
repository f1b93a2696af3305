"""Remote rasters: http(s):// and s3:// URLs and GDAL's /vsi paths, read window by window over a flaky network.

Reads are GDAL's: ``rasterio.open`` hands a URL to /vsicurl/ (/vsis3/ for s3://), which fetches the header and then
only the byte ranges of the blocks a window touches. This module holds what the readers of
:mod:`geospatial_mm.io.raster` add around them:

* :func:`remote_options`: one GDAL environment for remote reads (no directory listing on open, raster extensions
  only, merged and multi-range requests, a bounded cache, connect and read timeouts, GDAL's own HTTP retries),
  entered wherever a remote raster is opened or read, in every thread; a variable set in the process environment
  wins over its value here.
* :func:`failure_kind`: whether a failed open or read may pass (5xx, 429, a dropped connection, a timeout: transient)
  or will not (404, 403, an answer that is not a raster: permanent), from GDAL's message.
* :func:`retry_delays`: the waits, with exponential backoff and jitter, between the bounded attempts at a transient
  failure, on top of GDAL's own retries; :func:`forget` drops what GDAL remembers of a failed URL so that the next
  attempt asks the server again.
"""
from __future__ import annotations

import ctypes
import functools
import glob
import os
import random
import re
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

URL_SCHEMES = ('http://', 'https://', 's3://', 'gs://', 'az://')
# GDAL's network file systems (local ones such as /vsimem/ and /vsizip/ of a local file are not remote)
NETWORK_VSI = ('/vsicurl', '/vsis3', '/vsigs', '/vsiaz', '/vsiadls', '/vsioss', '/vsiswift', '/vsiwebhdfs',
               '/vsihdfs')
RASTER_EXTENSIONS = '.tif,.tiff,.TIF,.TIFF,.vrt,.VRT,.jp2,.JP2,.img,.nc,.h5,.hdf,.ovr,.msk,.aux.xml'

# attempts at a transient failure above GDAL's own retries, and the first wait (doubled each time, with jitter); the
# variables GEOSPATIAL_MM_REMOTE_ATTEMPTS and GEOSPATIAL_MM_REMOTE_RETRY_DELAY change them
RETRY_ATTEMPTS = 5
RETRY_DELAY = 0.5
RETRY_MAX_DELAY = 16.0

FailureKind = Literal['transient', 'permanent']
_STATUS = re.compile(r'HTTP (?:response )?code:? *(\d{3})', re.IGNORECASE)
_PERMANENT = ('not recognized as being in a supported file format', 'not recognized as a supported file format',
              'does not exist in the file system', 'no such file', 'not a tiff', 'access denied', 'forbidden',
              'invalid credentials', 'signature', 'accessdenied', 'nosuchkey', 'nosuchbucket')
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL of a scheme the package reads.

    Returns:
        True for http, https, s3, gs and az URLs.
    """
    return path.lower().startswith(URL_SCHEMES)


def is_remote(path: str) -> bool:
    """Whether ``path`` is read over the network.

    Returns:
        True for a URL of :data:`URL_SCHEMES`, or a path of GDAL's network file systems (:data:`NETWORK_VSI`, such
        as ``/vsicurl/https://...`` or ``/vsis3/bucket/key``).
    """
    return is_url(path) or path.startswith(tuple(p + '/' for p in NETWORK_VSI)) or path.startswith('/vsicurl?')


def is_gdal_path(path: str) -> bool:
    """Whether ``path`` is no local file, only GDAL can tell it exists.

    Returns:
        True for a URL or a GDAL virtual path (``/vsi...``).
    """
    return is_url(path) or path.startswith('/vsi')


def remote_stem(path: str) -> str:
    """The name of a remote raster without its folders, query string and extension.

    ``https://host/a/T10SEG_B04.tif?sig=x`` -> ``T10SEG_B04``; ``/vsis3/bucket/key/x.tif`` -> ``x``.

    Returns:
        The stem (the last part of the path when it has no extension).
    """
    name = remote_name(path)
    return PurePosixPath(name).stem if '.' in name else name


def remote_name(path: str) -> str:
    """The last part of a remote raster's path, without query string.

    Returns:
        The name: ``https://h/a/x.tif?s=1`` -> ``x.tif``.
    """
    if path.startswith('/vsicurl?'):  # /vsicurl?url=<quoted URL>&...
        query = dict(part.split('=', 1) for part in path[len('/vsicurl?'):].split('&') if '=' in part)
        path = unquote(query.get('url', ''))
    parsed = urlsplit(path) if is_url(path) else None
    route = parsed.path if parsed else path.split('?', 1)[0]
    return PurePosixPath(unquote(route)).name or (parsed.netloc if parsed else route)


def gdal_name(path: str) -> str:
    """The GDAL file name of a remote raster, as GDAL's caches know it.

    Returns:
        ``/vsicurl/<url>`` for http(s), ``/vsis3/<bucket>/<key>`` for s3 (``/vsigs/``, ``/vsiaz/`` likewise), a /vsi
        path as it is.
    """
    lower = path.lower()
    if lower.startswith(('http://', 'https://')):
        return '/vsicurl/' + path
    for scheme, vsi in (('s3://', '/vsis3/'), ('gs://', '/vsigs/'), ('az://', '/vsiaz/')):
        if lower.startswith(scheme):
            return vsi + path[len(scheme):]
    return path


def remote_options() -> dict[str, str]:
    """The GDAL configuration of remote reads, less what the process environment sets itself.

    Returns:
        GDAL configuration options and their values.
    """
    options = {
        'GDAL_DISABLE_READDIR_ON_OPEN': 'EMPTY_DIR',  # no listing of the folder (sidecar files) on open
        'CPL_VSIL_CURL_ALLOWED_EXTENSIONS': RASTER_EXTENSIONS,  # no probing for .aux, .ovr of other names
        'GDAL_HTTP_MERGE_CONSECUTIVE_RANGES': 'YES',  # neighbouring blocks in one request
        'GDAL_HTTP_MULTIRANGE': 'YES',  # several ranges in one request where the server allows it
        'VSI_CACHE': 'TRUE',  # a per-file cache of what was fetched ...
        'VSI_CACHE_SIZE': str(16 * 1024 * 1024),  # ... bounded to 16 MiB per open file
        'CPL_VSIL_CURL_CACHE_SIZE': str(64 * 1024 * 1024),  # /vsicurl/'s own cache of fetched ranges, all files
        'GDAL_HTTP_CONNECTTIMEOUT': '15',
        'GDAL_HTTP_TIMEOUT': '60',  # seconds without progress before a request is given up
        'GDAL_HTTP_MAX_RETRY': '3',  # GDAL's own retries of 429, 5xx and some network errors ...
        'GDAL_HTTP_RETRY_DELAY': '0.5',  # ... from this many seconds, doubled each time
        'GDAL_INGESTED_BYTES_AT_OPEN': '32768',  # one request for the header of a COG
    }
    return {k: v for k, v in options.items() if k not in os.environ}


def failure_kind(message: str) -> FailureKind:
    """Whether a failed open or read of a remote raster may pass.

    Args:
        message: GDAL's message (a rasterio error's text and that of its causes).

    Returns:
        ``'permanent'`` for an HTTP status other than 408, 425, 429 and 5xx, and for an answer that is not a
        raster, a missing file or refused credentials; ``'transient'`` otherwise (5xx, 429, a dropped or timed-out
        connection, a block that arrived short).
    """
    status = http_status(message)
    if status is not None:
        return 'transient' if status in _TRANSIENT_STATUS else 'permanent'
    text = message.lower()
    return 'permanent' if any(p in text for p in _PERMANENT) else 'transient'


def http_status(message: str) -> int | None:
    """The HTTP status code that GDAL's message names, if any.

    Args:
        message: GDAL's message.

    Returns:
        The status code, or None.
    """
    found = _STATUS.findall(message)
    return int(found[-1]) if found else None


def retry_delays(attempts: int | None = None, first: float | None = None) -> list[float]:
    """The waits before the 2nd, 3rd, ... attempt.

    ``first`` doubled each time up to 16 s, each with a jitter of up to half of it (so that threads and ranks that
    failed together do not come back together).

    Args:
        attempts: attempts in all, the first one included (default: GEOSPATIAL_MM_REMOTE_ATTEMPTS, else 5).
        first: the first wait, in seconds (default: GEOSPATIAL_MM_REMOTE_RETRY_DELAY, else 0.5).

    Returns:
        ``attempts - 1`` waits, in seconds.
    """
    if attempts is None:
        attempts = int(os.environ.get('GEOSPATIAL_MM_REMOTE_ATTEMPTS', RETRY_ATTEMPTS))
    if first is None:
        first = float(os.environ.get('GEOSPATIAL_MM_REMOTE_RETRY_DELAY', RETRY_DELAY))
    waits = [min(RETRY_MAX_DELAY, first * 2 ** i) for i in range(max(0, attempts - 1))]
    return [w * (1 + random.random() / 2) for w in waits]  # noqa: S311 - jitter, not security


@functools.cache
def _gdal_library() -> ctypes.CDLL | None:
    """GDAL's C library as the process loaded it for rasterio (None when it cannot be found)."""
    import rasterio  # noqa: F401 - loads GDAL
    candidates: list[str] = []
    try:
        with open('/proc/self/maps') as maps:
            candidates = sorted({line.split()[-1] for line in maps if '/libgdal' in line})
    except OSError:
        pass
    here = os.path.dirname(os.path.dirname(os.path.abspath(rasterio.__file__)))
    candidates += glob.glob(os.path.join(here, 'rasterio.libs', 'libgdal*'))
    candidates += glob.glob(os.path.join(here, 'rasterio', '.dylibs', 'libgdal*'))
    for candidate in candidates:
        try:
            lib = ctypes.CDLL(candidate)
            lib.VSICurlPartialClearCache.argtypes = [ctypes.c_char_p]
            lib.VSICurlPartialClearCache.restype = None
            lib.VSICurlClearCache.argtypes = []
            lib.VSICurlClearCache.restype = None
            return lib
        except (OSError, AttributeError):
            continue
    return None


def forget(path: str) -> bool:
    """Drop what GDAL's network file systems remember of ``path`` (its size, whether it exists, fetched ranges).

    For a local VRT, GDAL forgets every remote file (its sources are not known here).

    GDAL remembers a failed open of a URL for the rest of the process: without this, a second attempt fails at once
    without asking the server.

    Args:
        path: the remote raster.

    Returns:
        Whether GDAL's cache could be cleared (False where GDAL's library was not found).
    """
    lib = _gdal_library()
    if lib is None:
        return False
    if path.lower().endswith('.vrt') and not is_remote(path):  # a local VRT: its sources may be remote, all of them
        lib.VSICurlClearCache()
    else:
        lib.VSICurlPartialClearCache(gdal_name(path).encode())
    return True


def may_be_remote(path: str) -> bool:
    """Whether reading ``path`` may go over the network: a remote raster, or a VRT (whose sources may be remote).

    Args:
        path: a raster.

    Returns:
        True for a remote raster or a ``.vrt`` file.
    """
    return is_remote(path) or path.lower().split('?', 1)[0].endswith('.vrt')
