"""Secrets kept out of what the package shows: the query strings and credentials of URLs, and authorisation values.

Signed URLs carry their secret in the query string (Planetary Computer's SAS tokens, S3 presigned URLs), some servers
take ``user:password@host``, and GDAL reads bearer tokens and keys from the environment (GDAL_HTTP_HEADERS,
GDAL_HTTP_AUTH, AWS_SECRET_ACCESS_KEY, ...), which its error messages may echo. Whatever the package writes where
others read it - log lines, progress bars, the summary JSON, error messages, the outputs' metadata tags - goes
through :func:`redact` first.
"""
from __future__ import annotations

import os
import re

REDACTED = '<redacted>'

_SCHEME = r'(?:https?|s3|gs|az|azure|abfss?|ftp|/vsi[a-z0-9_]+)'
# a URL's (or a GDAL /vsicurl? path's) query string: from '?' to the end of the URL
_QUERY = re.compile(r'((?<![A-Za-z0-9])' + _SCHEME + r'(?::/)?/?[^\s?#\'"<>]*)'
                    r'\?(?!<redacted>)[^\s#\'"<>]*[^\s#\'"<>:.,;)]',
                    re.IGNORECASE)  # the query string, less punctuation that ends a sentence
# credentials before a host: scheme://user:password@host
_USERINFO = re.compile(r'((?:https?|s3|gs|az|ftp)://)[^/\s@\'"<>]+@', re.IGNORECASE)
# "Authorization: Bearer x", "X-Api-Key=y", "token: z" (HTTP headers, GDAL_HTTP_HEADERS, key=value settings)
_HEADER = re.compile(r'\b((?:proxy-)?authorization|x-api-key|api[-_]?key|(?:access|auth|session|security)[-_]?token|'
                     r'x-amz-security-token|token|password|secret|sig|signature)(\s*[:=]\s*)("?)'
                     r'(?:(?:bearer|basic|token)\s+)?[^\s"\',;&]+', re.IGNORECASE)
# environment variables whose values are secrets wherever they appear
SECRET_VARIABLES = ('GDAL_HTTP_HEADERS', 'GDAL_HTTP_AUTH', 'GDAL_HTTP_BEARER', 'GDAL_HTTP_USERPWD',
                    'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID', 'GS_SECRET_ACCESS_KEY',
                    'GS_ACCESS_KEY_ID', 'AZURE_STORAGE_ACCESS_KEY', 'AZURE_STORAGE_SAS_TOKEN', 'AZURE_SAS',
                    'AZURE_STORAGE_CONNECTION_STRING', 'EARTHDATA_TOKEN', 'PC_SDK_SUBSCRIPTION_KEY')


def _secret_values() -> list[str]:
    values: list[str] = []
    for name in SECRET_VARIABLES:
        value = os.environ.get(name, '')
        values += [value] if len(value) >= 6 else []
        # the parts of a header list ("Authorization: Bearer x\r\nX-Key: y") are secrets too
        values += [v.strip() for line in value.splitlines() for v in line.split(':', 1)[1:] if len(v.strip()) >= 6]
    return sorted(set(values), key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with its secrets replaced by ``<redacted>``.

    Replaced are the query strings of URLs and GDAL paths (``https://h/a.tif?sig=x`` ->
    ``https://h/a.tif?<redacted>``), credentials in URLs (``https://user:pw@h`` -> ``https://<redacted>@h``),
    authorisation values (``Authorization: Bearer x``, ``token=x``, ...) and the values of the secret environment
    variables of :data:`SECRET_VARIABLES` wherever they appear.

    Args:
        text: any text that may hold a URL or a credential.

    Returns:
        The text without them (the same object when there is nothing to hide).
    """
    if not text:
        return text
    out = _QUERY.sub(lambda m: f'{m.group(1)}?{REDACTED}', text)
    out = _USERINFO.sub(lambda m: f'{m.group(1)}{REDACTED}@', out)
    out = _HEADER.sub(lambda m: f'{m.group(1)}{m.group(2)}{m.group(3)}{REDACTED}', out)
    for value in _secret_values():
        out = out.replace(value, REDACTED)
    return out
