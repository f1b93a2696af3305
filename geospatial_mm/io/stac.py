"""STAC inputs: items from a file, a catalogue or an API, their bands as VRT sources, and items grouped in time.

* :func:`is_stac_source` tells a STAC document (a local ``.json`` / ``.geojson`` file of a STAC type, or a URL of
  such a file) from a raster.
* :func:`load_items` reads the items of an Item, an ItemCollection or a Catalog / Collection (recursively) with
  pystac; :func:`search_items` asks a STAC API with pystac-client. Asset hrefs come back absolute.
* :func:`item_bands` turns the bands a model takes, by name, into :class:`~geospatial_mm.io.vrt.VrtBand` sources
  of a VRT (:func:`~geospatial_mm.io.vrt.stack_vrt`), with each asset's grid from the projection extension.
* :func:`group_items` groups the items of a multi-temporal sample (same tile, several dates).

Of the extensions' fields only the grid (``proj:*``), band names (``eo:bands``, STAC 1.1 ``bands``) and each band's
nodata and data type (``raster:bands``) are read (:func:`stac_extensions_read`); ``raster:bands`` scale and offset
are not applied (the model config's scaling applies). Errors are :class:`StacError` naming the item, the file or the
URL (without its secrets) and the problem.
"""
from __future__ import annotations

import json
import os
import posixpath
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import pystac

from .raster import RasterError
from .redaction import REDACTED, redact
from .remote import is_url
from .vrt import VrtBand

STAC_TYPES = ('Feature', 'FeatureCollection', 'Catalog', 'Collection')
"""The JSON ``type`` values of the STAC documents :func:`load_items` reads."""

STAC_SUFFIXES = ('.json', '.geojson')

RASTER_MEDIA_TYPES = ('image/tiff', 'image/jp2', 'image/vnd.stac.geotiff', 'image/x.geotiff')
"""Media types (prefixes) of the assets that :func:`item_bands` reads; an asset without a media type is read too."""

_STAC_READ = {
    'eo': ['eo:bands[].name', 'eo:bands[].common_name'],
    'raster': ['raster:bands[].nodata', 'raster:bands[].data_type'],
    'proj': ['proj:shape', 'proj:transform', 'proj:code', 'proj:epsg', 'proj:wkt2'],
    'core (STAC 1.1)': ['bands[].name', 'bands[].eo:common_name', 'bands[].nodata', 'bands[].data_type', 'nodata',
                        'data_type'],
}

# the operators of pystac-client's query strings, longest first (its own order)
_QUERY_OPS = {'>=': 'gte', '<=': 'lte', '=': 'eq', '<>': 'neq', '>': 'gt', '<': 'lt'}


class StacError(RasterError):
    """A STAC input could not be used: the message names the item (or the file or URL) and the problem."""


def stac_extensions_read() -> dict[str, list[str]]:
    """Which fields of which STAC extension this module reads (for documentation and ``--help`` texts).

    Returns:
        Extension prefix -> the fields read (``[]`` marks a list of band objects). Asset fields are read on the
        asset; ``proj:code`` / ``proj:epsg`` / ``proj:wkt2`` also on the item's properties.
    """
    return {k: list(v) for k, v in _STAC_READ.items()}


# ------------------------------------------------------------------------------------------------- reading items
def is_stac_source(path: str) -> bool:
    """Whether ``path`` is a STAC document rather than a raster.

    Args:
        path: a local path or a URL.

    Returns:
        True for a local ``.json`` / ``.geojson`` file whose JSON ``type`` is one of :data:`STAC_TYPES` (only the
        file is read), and for a URL whose path ends with ``.json`` or ``.geojson``; False otherwise (a local JSON
        file that cannot be read or parsed included).
    """
    if is_url(path):
        return urlsplit(path).path.lower().endswith(STAC_SUFFIXES)
    if path.startswith('/vsi') or not path.lower().endswith(STAC_SUFFIXES) or not os.path.isfile(path):
        return False
    try:
        with open(path, encoding='utf-8') as f:
            document = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(document, dict) and document.get('type') in STAC_TYPES


def _why(exc: BaseException) -> str:
    """An error's type and text, and those of the error it was raised from.

    pystac's "Could not read uri" keeps the HTTP status in its cause.

    Returns:
        ``Type: text`` of the error, then of its cause.
    """
    why = f'{type(exc).__name__}: {exc}'
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in why:
        why += f'; {type(cause).__name__}: {cause}'
    return why


def _location(source: str) -> str:
    """``source`` as pystac reads it: a URL as it is, a local path absolute and POSIX-style."""
    return source if is_url(source) else Path(source).absolute().as_posix()


def load_items(source: str) -> list[pystac.Item]:
    """The items of a STAC document.

    Args:
        source: a local JSON file or a URL of a STAC Item, an ItemCollection (GeoJSON FeatureCollection), or a
            Catalog or Collection (every item under it, recursively, in the order of the catalogue's links: its own
            items first, then those of each child in turn).

    Returns:
        The items, asset hrefs absolute (resolved against the item's own location, else the document's); an empty
        list when the document holds none.

    Raises:
        StacError: naming the source, when it cannot be read, is not JSON, is not one of the STAC types, or an item
            or catalogue under it cannot be read.
    """
    location = _location(source)
    try:
        document = pystac.StacIO.default().read_json(location)
    except Exception as exc:  # pystac's StacIO raises a plain Exception for a file or URL it cannot read
        raise StacError(redact(f'{source}: cannot read the STAC document ({_why(exc)})')) from None
    kind = document.get('type') if isinstance(document, dict) else None
    if kind not in STAC_TYPES:
        raise StacError(redact(f'{source}: expected a STAC Item, ItemCollection, Catalog or Collection, found '
                               f'{"JSON type " + repr(kind) if kind is not None else "JSON without a type"}'))
    try:
        if kind == 'Feature':
            items = [pystac.Item.from_dict(document, href=location, migrate=True, preserve_dict=False)]
        elif kind == 'FeatureCollection':
            items = list(pystac.ItemCollection.from_dict(document, preserve_dict=False))
        else:
            cls = pystac.Collection if kind == 'Collection' else pystac.Catalog
            catalog = cls.from_dict(document, href=location, migrate=True, preserve_dict=False)
            root = catalog.get_root_link()
            if root is not None and not root.is_resolved() and root.get_absolute_href() == location:
                catalog.set_root(catalog)
            items = list(catalog.get_items(recursive=True))
    except Exception as exc:  # pystac: a plain Exception for a linked document it cannot read, others when malformed
        raise StacError(redact(f'{source}: cannot read the {kind} or the STAC documents it links to '
                               f'({_why(exc)})')) from None
    for item in items:
        _absolute_hrefs(item, location)
    return items


def _absolute_hrefs(item: pystac.Item, location: str) -> None:
    """Make the asset hrefs of ``item`` absolute: against the item's self href, else the document's location."""
    for asset in item.assets.values():
        href = asset.get_absolute_href()
        if href is None:  # a relative href in an item without a location of its own (an ItemCollection's)
            href = (urljoin(location, asset.href) if is_url(location) else
                    posixpath.normpath(posixpath.join(posixpath.dirname(location), asset.href)))
        asset.href = href


def search_items(api_url: str, collections: Sequence[str] | None = None, bbox: Sequence[float] | None = None,
                 datetime: str | None = None, max_items: int | None = None,
                 query: Sequence[str] | Mapping[str, Any] | None = None, *, ids: Sequence[str] | None = None,
                 limit: int | None = None, headers: Mapping[str, str] | None = None) -> list[pystac.Item]:
    """The items a STAC API's ``/search`` finds, across all its pages.

    Args:
        api_url: the API's landing page.
        collections: collection ids.
        bbox: (west, south, east, north) in degrees.
        datetime: an instant or an interval (``2023-06-01/2023-06-30``, ``../2023-06-30``).
        max_items: at most this many items (None: all).
        query: the query extension, as pystac-client takes it: strings such as ``'eo:cloud_cover<20'`` or a dict
            ``{'eo:cloud_cover': {'lt': 20}}``.
        ids: item ids.
        limit: items per page (None: the API's default).
        headers: HTTP headers for every request (e.g. an ``Authorization`` header).

    Returns:
        The items in the API's order.

    Raises:
        StacError: naming the API's URL (without its query string or other secrets), when the API cannot be
            reached, does not support item search, rejects the search or answers something that is not STAC.
    """
    from pystac_client import Client

    def failure(what: str, exc: Exception) -> StacError:
        text = f'{api_url}: {what} ({_why(exc)})'
        secret = urlsplit(api_url).query
        if secret:  # also where a message quotes the URL without its scheme ('url: /v1/?token=...')
            text = text.replace(secret, REDACTED)
        return StacError(redact(text))

    try:
        client = Client.open(api_url, headers=dict(headers) if headers else None)
    except Exception as exc:  # pystac-client: APIError, requests' and pystac's errors and plain Exceptions
        raise failure('cannot open the STAC API', exc) from None
    try:
        search = client.search(collections=list(collections) if collections is not None else None,
                               bbox=list(bbox) if bbox is not None else None, datetime=datetime,
                               max_items=max_items, limit=limit, ids=list(ids) if ids is not None else None,
                               query=search_query(query))
        return list(search.items())
    except Exception as exc:  # as above, and NotImplementedError where the API cannot search
        raise failure('the item search failed', exc) from None


def search_query(query: Sequence[str] | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The query extension's JSON of a query as pystac-client takes it, with numbers as numbers.

    pystac-client sends the value of ``'eo:cloud_cover<20'`` as the string ``"20"``, which an API compares as a
    string (or refuses); here a value that reads as a JSON number, boolean or null is sent as that.

    Args:
        query: strings such as ``'eo:cloud_cover<20'`` or ``'{"platform": {"eq": "sentinel-2a"}}'`` (JSON, merged),
            or a dict ``{'eo:cloud_cover': {'lt': 20}}`` (sent as it is); None for none.

    Returns:
        ``{property: {operator: value}}``, or None.

    Raises:
        StacError: a string that is neither JSON nor ``<property><operator><value>``.
    """
    if query is None:
        return None
    if isinstance(query, Mapping):
        return dict(query)
    out: dict[str, dict[str, Any]] = {}
    for text in ([query] if isinstance(query, str) else query):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            for name, ops in parsed.items():
                out.setdefault(name, {}).update(ops if isinstance(ops, dict) else {'eq': ops})
            continue
        for op, name in _QUERY_OPS.items():
            left, sep, right = text.partition(op)
            if sep and left.strip() and right.strip():
                out.setdefault(left.strip(), {})[name] = _query_value(right.strip())
                break
        else:
            raise StacError(f'query: expected <property><operator><value> (operators {", ".join(_QUERY_OPS)}) or '
                            f'JSON, found {text!r}')
    return out


def _query_value(text: str) -> Any:
    """A query's value: a JSON number, boolean or null as that, anything else as the string."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if value is None or isinstance(value, (int, float, bool)) else text


# ------------------------------------------------------------------------------------------------- bands
def _is_raster_data(asset: pystac.Asset) -> str | None:
    """Why ``asset`` is not a data raster (None when it is one)."""
    roles = asset.roles or []
    if roles and 'data' not in roles:
        return f'roles {roles}, not \'data\''
    media = (asset.media_type or '').lower()
    if media and not media.startswith(RASTER_MEDIA_TYPES):
        return f'media type {asset.media_type!r}, not a raster'
    return None


def _band_lists(asset: pystac.Asset) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The asset's ``eo:bands``, ``raster:bands`` and STAC 1.1 ``bands`` (lists of dicts; empty when absent)."""
    def listed(key: str) -> list[dict[str, Any]]:
        value = asset.extra_fields.get(key)
        return [v if isinstance(v, dict) else {} for v in value] if isinstance(value, list) else []
    return listed('eo:bands'), listed('raster:bands'), listed('bands')


def _band_count(asset: pystac.Asset) -> int:
    return max(1, *(len(b) for b in _band_lists(asset)))


def _field(lists: Sequence[list[dict[str, Any]]], index: int, *keys: str) -> Any:
    """The first of ``keys`` found in band ``index`` of any of ``lists``."""
    for bands in lists:
        if index < len(bands):
            for key in keys:
                if bands[index].get(key) is not None:
                    return bands[index][key]
    return None


def _crs(fields: Mapping[str, Any]) -> str | None:
    """The CRS of an asset's or item's ``proj:*`` fields."""
    if isinstance(fields.get('proj:code'), str):
        return str(fields['proj:code'])
    epsg = fields.get('proj:epsg')
    if isinstance(epsg, int) and not isinstance(epsg, bool):
        return f'EPSG:{epsg}'
    if isinstance(fields.get('proj:wkt2'), str):
        return str(fields['proj:wkt2'])
    return None


def _float_or_none(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # also 'nan', 'inf', '-inf' as the raster extension writes them
    except (TypeError, ValueError):
        return None


_DTYPES = ('uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64', 'int64', 'uint64')


def _band(item: pystac.Item, key: str, asset: pystac.Asset, index: int, description: str) -> VrtBand:
    """Band ``index`` (0-based) of ``asset`` as a VRT source."""
    eo, raster, common = _band_lists(asset)
    nodata = _float_or_none(_field([raster, common], index, 'nodata'))
    if nodata is None:
        nodata = _float_or_none(asset.extra_fields.get('nodata'))  # STAC 1.1: the asset's, for all its bands
    dtype = _field([raster, common], index, 'data_type') or asset.extra_fields.get('data_type')
    fields = asset.extra_fields
    shape = fields.get('proj:shape')
    transform = fields.get('proj:transform')
    try:
        grid_shape = (int(shape[0]), int(shape[1])) if isinstance(shape, list) and len(shape) == 2 else None
        grid = tuple(float(v) for v in transform[:6]) if isinstance(transform, list) and len(transform) in (6, 9) \
            else None
    except (TypeError, ValueError):
        raise StacError(f'{item.id}: asset {key!r}: expected proj:shape [rows, cols] and proj:transform of 6 or 9 '
                        f'numbers, found {shape!r} and {transform!r}') from None
    href = asset.get_absolute_href() or asset.href
    return VrtBand(path=href, band=index + 1, nodata=nodata, description=description, shape=grid_shape,
                   transform=(grid[0], grid[1], grid[2], grid[3], grid[4], grid[5]) if grid else None,
                   crs=_crs(fields) or _crs(item.properties),
                   dtype=dtype if dtype in _DTYPES else None)


def item_bands(item: pystac.Item, names: Sequence[str]) -> list[VrtBand]:
    """The bands a model takes, in the order of ``names``, as VRT sources.

    A name is matched, in this order, to

    1. an asset key: the asset's band 1, or, when the asset describes several bands (``eo:bands``,
       ``raster:bands`` or ``bands``), all of them in order;
    2. the ``name`` of a band of an asset (``eo:bands`` or ``bands``): that band;
    3. the ``common_name`` of a band (``eo:bands``; ``eo:common_name`` of ``bands``), e.g. ``'red'``, ``'nir08'``:
       that band;

    each time in the first asset, in the item's order, that matches. Only data rasters are matched: assets whose
    roles include ``data`` or that have none, and whose media type is a raster (:data:`RASTER_MEDIA_TYPES`) or
    missing.

    Each band's nodata comes from ``raster:bands`` (else STAC 1.1 ``bands`` or the asset's ``nodata``), its data type
    likewise; its grid from the asset's ``proj:shape`` and ``proj:transform`` (the first 6 numbers), left None when
    the asset has none (:func:`~geospatial_mm.io.vrt.stack_vrt` then reads the file's header); its CRS from
    ``proj:code``, ``proj:epsg`` or ``proj:wkt2`` of the asset, else of the item. A band's description is its name
    in ``names``; the bands of a multi-band asset matched by its key are described by their ``eo:bands`` names
    (else ``<key>_<i>``, 1-based).

    Args:
        item: the item.
        names: asset keys or band names.

    Returns:
        The VRT sources, one per band (a multi-band asset gives several).

    Raises:
        StacError: a name matches nothing: ``"<item id>: no asset or band named '<name>' (assets: ...)"``.
    """
    data: dict[str, pystac.Asset] = {}
    skipped: dict[str, str] = {}
    for key, asset in item.assets.items():
        reason = _is_raster_data(asset)
        if reason is None:
            data[key] = asset
        else:
            skipped[key] = reason
    out: list[VrtBand] = []
    for name in names:
        if name in data:
            asset = data[name]
            count = _band_count(asset)
            if count == 1:
                out.append(_band(item, name, asset, 0, name))
            else:
                eo, _, common = _band_lists(asset)
                out += [_band(item, name, asset, i, str(_field([eo, common], i, 'name') or f'{name}_{i + 1}'))
                        for i in range(count)]
            continue
        found = _by_band_field(item, data, name, 'name', 'name') or \
            _by_band_field(item, data, name, 'common_name', 'eo:common_name')
        if found is None:
            note = f'; asset {name!r} is not read: {skipped[name]}' if name in skipped else ''
            raise StacError(f'{item.id}: no asset or band named {name!r} (assets: {", ".join(data) or "none"}'
                            f'{note})')
        out.append(found)
    return out


def _by_band_field(item: pystac.Item, data: Mapping[str, pystac.Asset], name: str, eo_key: str,
                   bands_key: str) -> VrtBand | None:
    """The first band of the data assets whose ``eo:bands`` ``eo_key`` (or ``bands`` ``bands_key``) is ``name``."""
    for key, asset in data.items():
        eo, _, common = _band_lists(asset)
        for i in range(_band_count(asset)):
            value = (eo[i].get(eo_key) if i < len(eo) else None) or \
                (common[i].get(bands_key) if i < len(common) else None)
            if value == name:
                return _band(item, key, asset, i, name)
    return None


# ------------------------------------------------------------------------------------------------- groups in time
def _when(item: pystac.Item) -> datetime:
    """The item's datetime (else its start_datetime), in UTC; the earliest instant when it has none."""
    value = item.datetime or item.common_metadata.start_datetime
    if value is None:
        return datetime.min.replace(tzinfo=timezone.utc)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def group_items(items: Sequence[pystac.Item], key: str, frames: int) -> dict[str, list[pystac.Item] | str]:
    """The items of multi-temporal samples: grouped by a property, each group in time order.

    Args:
        items: the items.
        key: the property whose value names an item's group (``'s2:mgrs_tile'``, ``'mgrs:grid_square'``,
            ``'grid:code'``, ...), or ``'collection'`` for the item's collection id.
        frames: the number of items (dates) a sample takes.

    Returns:
        Group name -> its items, sorted by datetime (then id); or, for a group that cannot make a sample, an error
        message naming the group, the expected and the found number of items and their ids. An item without the
        property is such an error, in a group named after the item's id. The dict is sorted by group name.
    """
    groups: dict[str, list[pystac.Item]] = {}
    errors: dict[str, str] = {}
    for item in items:
        value = item.collection_id if key == 'collection' else item.properties.get(key)
        if value is None or value == '':
            errors[item.id] = f'item {item.id}: no property {key!r} to group it by'
        else:
            groups.setdefault(str(value), []).append(item)
    out: dict[str, list[pystac.Item] | str] = {}
    for name, members in groups.items():
        members = sorted(members, key=lambda i: (_when(i), i.id))
        if len(members) != frames:
            ids = ', '.join(i.id for i in members)
            out[name] = f'group {key}={name}: expected {frames} items, found {len(members)} ({ids})'
        else:
            out[name] = members
    for name, message in errors.items():
        if name in out:  # an item named like a group: keep both problems visible
            taken = out[name]
            other = taken if isinstance(taken, str) else \
                f'group {key}={name}: ' + ', '.join(i.id for i in taken)
            message = f'{message}; {other}'
        out[name] = message
    return dict(sorted(out.items()))


SIGNERS = ('planetary-computer',)
"""The services whose asset URLs :func:`sign_items` can sign."""


def sign_items(items: Sequence[pystac.Item], signer: str) -> list[pystac.Item]:
    """The items with their asset URLs signed for ``signer`` (a token appended to each href).

    Args:
        items: the items.
        signer: one of :data:`SIGNERS`: ``'planetary-computer'`` signs with the ``planetary-computer`` package (the
            optional extra ``geospatial_mm[stac-pc]``), which asks Planetary Computer's token API.

    Returns:
        The signed items.

    Raises:
        ValueError: an unknown signer.
        StacError: the package that signs is not installed, or signing failed.
    """
    if signer not in SIGNERS:
        raise ValueError(f'--sign: expected one of {", ".join(SIGNERS)}, found {signer!r}')
    try:
        import planetary_computer  # type: ignore[import-not-found]  # optional extra geospatial_mm[stac-pc]
    except ImportError:
        raise StacError('--sign planetary-computer needs the planetary-computer package: '
                        'pip install "geospatial_mm[stac-pc]"') from None
    try:
        return [planetary_computer.sign(item) for item in items]
    except Exception as exc:  # noqa: BLE001 - the package's errors (network, token API) have no common base
        raise StacError(redact(f'signing {len(items)} item(s) for Planetary Computer failed: {exc}')) from None
