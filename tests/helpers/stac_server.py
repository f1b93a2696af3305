"""STAC for the tests: items over COGs, a static catalogue on disk, and a minimal STAC API on 127.0.0.1.

- ``ItemSpec`` / ``AssetSpec`` describe items; ``item_from_cogs`` builds one from COGs written by ``helpers.cogs``
  (one asset per band, each with its own ``proj:shape`` / ``proj:transform``, ``eo:bands`` and ``raster:bands``
  with scale, offset and nodata); ``write_sentinel2_like`` writes a few such items at once.
- ``write_static_catalog`` writes a STAC 1.0.0 catalogue (Catalog -> Collections -> Items) into a folder, with
  relative links, or absolute ones under a base URL.
- ``StacServer`` is a ``RangeServer`` that also answers a STAC API (landing page with conformance classes,
  ``/conformance``, ``/collections``, ``/collections/{id}``, ``/collections/{id}/items[/{item}]`` and
  ``/search`` by GET and POST with collections, ids, bbox, datetime, limit and query, paged by ``next`` links),
  and serves the COGs the items point at from the same folder, so faults and statistics cover both.
"""
from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

from .cogs import CogInfo, write_scene
from .range_server import RangeServer, Request, Response

STAC_VERSION = '1.0.0'
COG_MEDIA_TYPE = 'image/tiff; application=geotiff; profile=cloud-optimized'
GEOJSON = 'application/geo+json'
EXTENSIONS = {
    'eo': 'https://stac-extensions.github.io/eo/v1.1.0/schema.json',
    'raster': 'https://stac-extensions.github.io/raster/v1.1.0/schema.json',
    'proj': 'https://stac-extensions.github.io/projection/v1.1.0/schema.json',
}
CONFORMANCE = (
    'https://api.stacspec.org/v1.0.0/core',
    'https://api.stacspec.org/v1.0.0/collections',
    'https://api.stacspec.org/v1.0.0/ogcapi-features',
    'https://api.stacspec.org/v1.0.0/item-search',
    'https://api.stacspec.org/v1.0.0/item-search#query',
    'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
    'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
)
QUERY_OPS = ('eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in')
SEARCH_PARAMS = ('collections', 'ids', 'bbox', 'datetime', 'limit', 'query', 'token')

# Sentinel-2 names of the bands that write_sentinel2_like writes by default
COMMON_NAMES = {'B02': 'blue', 'B03': 'green', 'B04': 'red', 'B08': 'nir', 'B8A': 'nir08', 'B11': 'swir16',
                'B12': 'swir22'}


@dataclass
class AssetSpec:
    """An asset. ``href`` is a path relative to the served (or catalogue) folder, or an absolute URL."""

    href: str
    title: str | None = None
    media_type: str = COG_MEDIA_TYPE
    roles: tuple[str, ...] = ('data',)
    eo_bands: list[dict] | None = None
    raster_bands: list[dict] | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class ItemSpec:
    """An item: ``bbox`` is (west, south, east, north) in degrees; ``geometry`` defaults to the bbox's polygon;
    ``properties`` holds everything but ``datetime`` (e.g. ``proj:epsg``, ``eo:cloud_cover``)."""

    id: str
    collection: str
    datetime: datetime | str
    bbox: tuple[float, float, float, float]
    properties: dict = field(default_factory=dict)
    assets: dict[str, AssetSpec] = field(default_factory=dict)
    geometry: dict | None = None

    @property
    def instant(self) -> datetime:
        return parse_datetime(self.datetime) if isinstance(self.datetime, str) else _utc(self.datetime)


# ------------------------------------------------------------------------------------------------- items and COGs
def item_from_cogs(item_id: str, collection: str, when: datetime | str, cogs: Mapping[str, CogInfo],
                   root: str | Path, *, properties: Mapping[str, Any] | None = None, scale: float = 1e-4,
                   offset: float = 0.0, common_names: Mapping[str, str] | None = None) -> ItemSpec:
    """An item with one asset per COG (``cogs`` maps an asset key, the band name, to its file). Asset hrefs are the
    files' paths relative to ``root``. Each asset carries its own ``proj:shape`` and ``proj:transform`` (bands of
    different resolutions); the item carries ``proj:epsg`` and the finest band's shape and transform."""
    root = Path(root).resolve()
    if not cogs:
        raise ValueError(f'item_from_cogs({item_id!r}): expected at least one COG')
    names = dict(COMMON_NAMES, **(common_names or {}))
    epsgs = {cog.epsg for cog in cogs.values()}
    if len(epsgs) != 1:
        raise ValueError(f'item_from_cogs({item_id!r}): expected one CRS for all assets, found {sorted(epsgs)}')
    finest = min(cogs.values(), key=lambda c: abs(c.transform.a))
    bounds = [c.lonlat_bounds for c in cogs.values()]
    bbox = (min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds),
            max(b[3] for b in bounds))
    assets = {}
    for band, cog in cogs.items():
        eo = {'name': band}
        if band in names:
            eo['common_name'] = names[band]
        raster = {'data_type': cog.dtype, 'spatial_resolution': abs(cog.transform.a), 'scale': scale,
                  'offset': offset}
        if cog.nodata is not None:
            raster['nodata'] = cog.nodata
        assets[band] = AssetSpec(cog.path.resolve().relative_to(root).as_posix(), title=f'Band {band}',
                                 eo_bands=[eo], raster_bands=[raster],
                                 extra={'proj:shape': list(cog.shape), 'proj:transform': cog.stac_transform,
                                        'gsd': abs(cog.transform.a)})
    props = {'proj:epsg': epsgs.pop(), 'proj:shape': list(finest.shape), 'proj:transform': finest.stac_transform,
             **(properties or {})}
    return ItemSpec(item_id, collection, when, bbox, props, assets)


def write_sentinel2_like(folder: str | Path, count: int, *, collection: str = 's2-like',
                         start: str = '2023-06-01T18:30:00Z', days_apart: int = 5,
                         bands: Mapping[str, float] | None = None, extent: tuple[float, float] = (2560.0, 2560.0),
                         block: int = 128, cloud_cover: Sequence[float] | None = None, subfolder: str = 'cogs',
                         seed: int = 0, id_prefix: str = 'S2X') -> list[ItemSpec]:
    """Write ``count`` items' COGs under ``folder/subfolder`` and return their ItemSpecs (asset hrefs relative to
    ``folder``). Item ``i`` is dated ``start + i * days_apart`` days, lies ``i`` extents east of the first (so a bbox
    can select some), and has ``eo:cloud_cover`` ``cloud_cover[i]`` (default ``(i * 17) % 100``). The default bands
    are B04 and B08 at 10 m and B11 at 20 m."""
    bands = dict(bands or {'B04': 10.0, 'B08': 10.0, 'B11': 20.0})
    first = parse_datetime(start)
    items = []
    for i in range(count):
        item_id = f'{id_prefix}_{i:03d}'
        origin = (500000.0 + i * extent[0], 4200000.0)
        cogs = write_scene(Path(folder) / subfolder / item_id, item_id, bands, extent=extent, origin=origin,
                           block=block, seed=seed * 1000 + i)
        cover = float(cloud_cover[i]) if cloud_cover is not None else float((i * 17) % 100)
        when = first + timedelta(days=i * days_apart)
        items.append(item_from_cogs(item_id, collection, when, cogs, folder,
                                    properties={'eo:cloud_cover': cover, 'platform': 'test-sat',
                                                'constellation': 'test'}))
    return items


# ------------------------------------------------------------------------------------------------- JSON documents
def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (a naive datetime is taken as UTC); microseconds only when there are some."""
    value = _utc(value)
    return value.strftime('%Y-%m-%dT%H:%M:%S') + (f'.{value.microsecond:06d}Z' if value.microsecond else 'Z')


def parse_datetime(text: str) -> datetime:
    """An RFC 3339 date-time (``Z`` or an offset; a naive one is taken as UTC)."""
    try:
        return _utc(datetime.fromisoformat(text.strip().replace('z', 'Z')))
    except ValueError as err:
        raise ValueError(f'expected an RFC 3339 date-time, found {text!r}') from err


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _polygon(bbox) -> dict:
    w, s, e, n = bbox
    return {'type': 'Polygon', 'coordinates': [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _link(rel: str, href: str, media_type: str = 'application/json', **extra) -> dict:
    return {'rel': rel, 'href': href, 'type': media_type, **extra}


def item_document(item: ItemSpec, asset_href, links: list[dict]) -> dict:
    """The STAC Item JSON of ``item``; ``asset_href(href)`` maps each asset's relative href to the one written."""
    assets = {}
    used = set()
    for key, asset in item.assets.items():
        doc = {'href': asset_href(asset.href), 'type': asset.media_type, 'roles': list(asset.roles)}
        if asset.title:
            doc['title'] = asset.title
        if asset.eo_bands:
            doc['eo:bands'] = copy.deepcopy(asset.eo_bands)
            used.add('eo')
        if asset.raster_bands:
            doc['raster:bands'] = copy.deepcopy(asset.raster_bands)
            used.add('raster')
        doc.update(copy.deepcopy(asset.extra))
        assets[key] = doc
    properties = {'datetime': format_datetime(item.instant), **copy.deepcopy(item.properties)}
    for name in [*properties] + [k for a in assets.values() for k in a]:
        prefix = name.split(':', 1)[0] if ':' in name else None
        if prefix in EXTENSIONS:
            used.add(prefix)
    return {
        'type': 'Feature',
        'stac_version': STAC_VERSION,
        'stac_extensions': [EXTENSIONS[k] for k in sorted(used)],
        'id': item.id,
        'collection': item.collection,
        'geometry': item.geometry or _polygon(item.bbox),
        'bbox': list(item.bbox),
        'properties': properties,
        'links': links,
        'assets': assets,
    }


def collection_document(collection_id: str, items: Sequence[ItemSpec], links: list[dict],
                        extra: Mapping[str, Any] | None = None) -> dict:
    """A STAC Collection whose extent covers ``items``."""
    if items:
        bbox = [min(i.bbox[0] for i in items), min(i.bbox[1] for i in items), max(i.bbox[2] for i in items),
                max(i.bbox[3] for i in items)]
        interval = [format_datetime(min(i.instant for i in items)), format_datetime(max(i.instant for i in items))]
    else:
        bbox, interval = [-180.0, -90.0, 180.0, 90.0], [None, None]
    doc = {
        'type': 'Collection',
        'stac_version': STAC_VERSION,
        'stac_extensions': [],
        'id': collection_id,
        'title': collection_id,
        'description': f'Test collection {collection_id}',
        'license': 'proprietary',
        'extent': {'spatial': {'bbox': [bbox]}, 'temporal': {'interval': [interval]}},
        'links': links,
    }
    doc.update(copy.deepcopy(dict(extra or {})))
    return doc


def _group(items: Sequence[ItemSpec], collections: Mapping[str, Mapping] | None) -> dict[str, list[ItemSpec]]:
    groups: dict[str, list[ItemSpec]] = {c: [] for c in (collections or {})}
    seen = set()
    for item in items:
        if (item.collection, item.id) in seen:
            raise ValueError(f'item {item.id!r} appears twice in collection {item.collection!r}')
        seen.add((item.collection, item.id))
        groups.setdefault(item.collection, []).append(item)
    return groups


def _is_url(href: str) -> bool:
    return re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*://', href) is not None


# ------------------------------------------------------------------------------------------------- static catalogue
def write_static_catalog(folder: str | Path, items: Sequence[ItemSpec], *, catalog_id: str = 'test-catalog',
                         collections: Mapping[str, Mapping[str, Any]] | None = None,
                         base_url: str | None = None) -> Path:
    """Write ``folder/catalog.json``, ``folder/{collection}/collection.json`` and
    ``folder/{collection}/{item}/{item}.json`` and return the catalogue's path.

    Without ``base_url`` the catalogue is self-contained: every link and every relative asset href is relative to
    the file that holds it (asset hrefs of the specs are relative to ``folder``). With ``base_url`` (the URL at
    which ``folder`` is published, e.g. ``RangeServer.base_url``) links and asset hrefs are absolute and every
    document has a ``self`` link. ``collections`` maps collection ids to extra fields of their documents."""
    folder = Path(folder)
    if base_url is not None and not base_url.endswith('/'):
        base_url += '/'

    def href(target: str, source: str) -> str:
        """``target`` and ``source`` are paths relative to the folder; the href of target written in source."""
        if base_url is not None:
            return base_url + target
        rel = os.path.relpath(target, os.path.dirname(source) or '.')
        return rel if rel.startswith('..') else f'./{rel}'

    def self_link(path: str) -> list[dict]:
        return [_link('self', base_url + path)] if base_url is not None else []

    groups = _group(items, collections)
    catalog_path = 'catalog.json'
    catalog = {
        'type': 'Catalog', 'stac_version': STAC_VERSION, 'stac_extensions': [], 'id': catalog_id,
        'title': catalog_id, 'description': f'Test catalogue {catalog_id}',
        'links': [_link('root', href(catalog_path, catalog_path)), *self_link(catalog_path)]
                 + [_link('child', href(f'{c}/collection.json', catalog_path), title=c) for c in groups],
    }
    _write_json(folder / catalog_path, catalog)
    for cid, members in groups.items():
        cpath = f'{cid}/collection.json'
        links = [_link('root', href(catalog_path, cpath)), _link('parent', href(catalog_path, cpath)),
                 *self_link(cpath)]
        links += [_link('item', href(f'{cid}/{i.id}/{i.id}.json', cpath), GEOJSON) for i in members]
        _write_json(folder / cpath, collection_document(cid, members, links, (collections or {}).get(cid)))
        for item in members:
            ipath = f'{cid}/{item.id}/{item.id}.json'
            ilinks = [_link('root', href(catalog_path, ipath)), _link('parent', href(cpath, ipath)),
                      _link('collection', href(cpath, ipath)), *self_link(ipath)]
            doc = item_document(item, lambda h, ipath=ipath: h if _is_url(h) else href(h, ipath), ilinks)
            _write_json(folder / ipath, doc)
    return folder / catalog_path


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + '\n', encoding='utf-8')


# ------------------------------------------------------------------------------------------------- the API
class SearchError(ValueError):
    """A search request the API rejects (answered 400 with the message)."""


@dataclass
class Search:
    """A parsed item search."""

    collections: list[str] | None = None
    ids: list[str] | None = None
    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[datetime | None, datetime | None] | None = None
    query: dict[str, dict[str, Any]] | None = None
    limit: int = 10
    offset: int = 0

    def matches(self, item: ItemSpec) -> bool:
        if self.collections is not None and item.collection not in self.collections:
            return False
        if self.ids is not None and item.id not in self.ids:
            return False
        if self.bbox is not None:
            w, s, e, n = self.bbox
            iw, is_, ie, in_ = item.bbox
            if iw > e or ie < w or is_ > n or in_ < s:
                return False
        if self.interval is not None:
            start, end = self.interval
            props = item.properties
            first = parse_datetime(props['start_datetime']) if 'start_datetime' in props else item.instant
            last = parse_datetime(props['end_datetime']) if 'end_datetime' in props else item.instant
            if (start is not None and last < start) or (end is not None and first > end):
                return False
        for name, ops in (self.query or {}).items():
            if name not in item.properties:
                return False
            value = item.properties[name]
            for op, operand in ops.items():
                if not _compare(value, op, operand):
                    return False
        return True


def _compare(value, op: str, operand) -> bool:
    try:
        if op == 'eq':
            return value == operand
        if op == 'neq':
            return value != operand
        if op == 'in':
            return value in operand
        return {'lt': value < operand, 'lte': value <= operand, 'gt': value > operand,
                'gte': value >= operand}[op]
    except TypeError as err:
        raise SearchError(f'query: cannot compare {value!r} {op} {operand!r}') from err


def parse_interval(text: str) -> tuple[datetime | None, datetime | None]:
    """``instant``, ``start/end``, ``../end``, ``start/..`` (an empty side is open too)."""
    parts = text.split('/')
    if len(parts) == 1:
        if parts[0] in ('', '..'):
            raise SearchError(f'datetime: expected an instant or an interval, found {text!r}')
        instant = _parse_search_datetime(parts[0])
        return instant, instant
    if len(parts) != 2:
        raise SearchError(f'datetime: expected an instant or start/end, found {text!r}')
    start, end = (None if p in ('', '..') else _parse_search_datetime(p) for p in parts)
    if start is None and end is None:
        raise SearchError(f'datetime: an interval open at both ends is not allowed, found {text!r}')
    if start is not None and end is not None and end < start:
        raise SearchError(f'datetime: the end precedes the start in {text!r}')
    return start, end


def _parse_search_datetime(text: str) -> datetime:
    try:
        return parse_datetime(text)
    except ValueError as err:
        raise SearchError(f'datetime: {err}') from err


def parse_search(params: Mapping[str, Any], *, default_limit: int, max_limit: int) -> Search:
    """A Search from GET parameters (strings, lists comma-separated, ``query`` as JSON) or a POST body (JSON
    types). Unknown or unsupported parameters are rejected rather than ignored."""
    unknown = sorted(set(params) - set(SEARCH_PARAMS))
    if unknown:
        raise SearchError(f'unsupported search parameters {unknown}; this API knows {list(SEARCH_PARAMS)}')
    s = Search(limit=default_limit)

    def strings(name):
        value = params[name]
        items = value.split(',') if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
            raise SearchError(f'{name}: expected a list of strings, found {value!r}')
        return items

    if 'collections' in params:
        s.collections = strings('collections')
    if 'ids' in params:
        s.ids = strings('ids')
    if 'bbox' in params:
        raw = params['bbox']
        try:
            values = [float(v) for v in (raw.split(',') if isinstance(raw, str) else raw)]
        except (TypeError, ValueError) as err:
            raise SearchError(f'bbox: expected 4 or 6 numbers, found {raw!r}') from err
        if len(values) == 6:
            values = [values[0], values[1], values[3], values[4]]
        if len(values) != 4 or values[0] > values[2] or values[1] > values[3]:
            raise SearchError(f'bbox: expected west,south,east,north, found {raw!r}')
        s.bbox = tuple(values)
    if 'datetime' in params:
        if not isinstance(params['datetime'], str):
            raise SearchError(f'datetime: expected a string, found {params["datetime"]!r}')
        s.interval = parse_interval(params['datetime'])
    if 'limit' in params:
        try:
            s.limit = int(params['limit'])
        except (TypeError, ValueError) as err:
            raise SearchError(f'limit: expected an integer, found {params["limit"]!r}') from err
        if s.limit < 1:
            raise SearchError(f'limit: expected at least 1, found {s.limit}')
        s.limit = min(s.limit, max_limit)
    if 'query' in params:
        query = params['query']
        if isinstance(query, str):
            try:
                query = json.loads(query)
            except json.JSONDecodeError as err:
                raise SearchError(f'query: expected JSON, found {query!r}') from err
        if not isinstance(query, dict) or not all(isinstance(v, dict) for v in query.values()):
            raise SearchError(f'query: expected {{property: {{op: value}}}}, found {query!r}')
        bad = sorted({op for ops in query.values() for op in ops} - set(QUERY_OPS))
        if bad:
            raise SearchError(f'query: unsupported operators {bad}; expected some of {list(QUERY_OPS)}')
        s.query = query
    if 'token' in params:
        m = re.fullmatch(r'next:(\d+)', str(params['token']))
        if not m:
            raise SearchError(f'token: expected a token from a next link, found {params["token"]!r}')
        s.offset = int(m.group(1))
    return s


class StacServer(RangeServer):
    """A RangeServer over ``folder`` (where the items' COGs are) that also answers a STAC API at its base URL.

    ``items`` are served in the order given; ``collections`` maps collection ids to extra fields of their
    documents (collections named only by items get defaults). ``default_limit`` is the page size when a search
    gives none; ``max_limit`` caps it. Other keyword arguments go to RangeServer."""

    def __init__(self, folder: str | Path, items: Sequence[ItemSpec], *,
                 collections: Mapping[str, Mapping[str, Any]] | None = None, default_limit: int = 10,
                 max_limit: int = 1000, title: str = 'test STAC API', **kwargs):
        super().__init__(folder, **kwargs)
        self.items = list(items)
        self.collection_extra = dict(collections or {})
        self.groups = _group(self.items, collections)
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.title = title
        segment = '([^/]+)'
        self.add_route('GET', '', self._landing)
        self.add_route('GET', 'conformance', self._conformance)
        self.add_route('GET', 'collections', self._collections)
        self.add_route('GET', f'collections/{segment}', self._collection)
        self.add_route('GET', f'collections/{segment}/items', self._collection_items)
        self.add_route('GET', f'collections/{segment}/items/{segment}', self._item)
        self.add_route(('GET', 'POST'), 'search', self._search)

    # documents
    def asset_href(self, href: str) -> str:
        return href if _is_url(href) else self.url(href)

    def item_json(self, item: ItemSpec) -> dict:
        base = self.base_url
        links = [_link('self', f'{base}collections/{item.collection}/items/{item.id}', GEOJSON),
                 _link('parent', f'{base}collections/{item.collection}'),
                 _link('collection', f'{base}collections/{item.collection}'),
                 _link('root', base)]
        return item_document(item, self.asset_href, links)

    def collection_json(self, cid: str) -> dict:
        base = self.base_url
        links = [_link('self', f'{base}collections/{cid}'), _link('parent', base), _link('root', base),
                 _link('items', f'{base}collections/{cid}/items', GEOJSON)]
        return collection_document(cid, self.groups[cid], links, self.collection_extra.get(cid))

    # routes
    def _landing(self, request: Request) -> Response:
        base = self.base_url
        links = [_link('self', base), _link('root', base), _link('conformance', f'{base}conformance'),
                 _link('data', f'{base}collections'),
                 _link('search', f'{base}search', GEOJSON, method='GET'),
                 _link('search', f'{base}search', GEOJSON, method='POST')]
        links += [_link('child', f'{base}collections/{cid}', title=cid) for cid in self.groups]
        return Response.json({'type': 'Catalog', 'stac_version': STAC_VERSION, 'stac_extensions': [],
                              'id': 'test-api', 'title': self.title, 'description': 'A STAC API for tests',
                              'conformsTo': list(CONFORMANCE), 'links': links})

    def _conformance(self, request: Request) -> Response:
        return Response.json({'conformsTo': list(CONFORMANCE)})

    def _collections(self, request: Request) -> Response:
        base = self.base_url
        return Response.json({'collections': [self.collection_json(c) for c in self.groups],
                              'links': [_link('self', f'{base}collections'), _link('root', base)]})

    def _collection(self, request: Request) -> Response:
        cid = request.match.group(1)
        if cid not in self.groups:
            return _error(404, f'no collection {cid!r}; there are {sorted(self.groups)}')
        return Response.json(self.collection_json(cid))

    def _item(self, request: Request) -> Response:
        cid, iid = request.match.groups()
        for item in self.groups.get(cid, ()):
            if item.id == iid:
                return Response.json(self.item_json(item), content_type=GEOJSON)
        return _error(404, f'no item {iid!r} in collection {cid!r}')

    def _collection_items(self, request: Request) -> Response:
        cid = request.match.group(1)
        if cid not in self.groups:
            return _error(404, f'no collection {cid!r}; there are {sorted(self.groups)}')
        params = _get_params(request)
        if params.get('collections', cid) != cid:
            return _error(400, f'collections: this endpoint serves {cid!r} only, found {params["collections"]!r}')
        params['collections'] = cid
        return self._answer(request, params, f'collections/{cid}/items')

    def _search(self, request: Request) -> Response:
        if request.method == 'POST':
            try:
                params = request.json()
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                return _error(400, f'search: expected a JSON body, found {request.body[:200]!r} ({err})')
            if not isinstance(params, dict):
                return _error(400, f'search: expected a JSON object, found {params!r}')
        else:
            params = _get_params(request)
        return self._answer(request, params, 'search')

    def _answer(self, request: Request, params: dict, endpoint: str) -> Response:
        try:
            search = parse_search(params, default_limit=self.default_limit, max_limit=self.max_limit)
        except SearchError as err:
            return _error(400, str(err))
        matched = [i for i in self.items if search.matches(i)]
        page = matched[search.offset:search.offset + search.limit]
        base = self.base_url
        links = [_link('root', base)]
        following = search.offset + len(page)
        if following < len(matched):
            token = f'next:{following}'
            if request.method == 'POST':
                links.append(_link('next', f'{base}{endpoint}', GEOJSON, method='POST',
                                   body={**params, 'token': token}, merge=False))
            else:
                query = {k: v for k, v in params.items() if k != 'token'}
                query['token'] = token
                links.append(_link('next', f'{base}{endpoint}?{urlencode(query)}', GEOJSON, method='GET'))
        return Response.json({'type': 'FeatureCollection', 'features': [self.item_json(i) for i in page],
                              'links': links, 'numberMatched': len(matched), 'numberReturned': len(page),
                              'context': {'returned': len(page), 'limit': search.limit, 'matched': len(matched)}},
                             content_type=GEOJSON)


def _get_params(request: Request) -> dict[str, str]:
    """The query parameters, a repeated one joined by commas (``ids=a&ids=b`` is ``ids=a,b``)."""
    return {name: ','.join(values) for name, values in request.params.items()}


def _error(status: int, message: str) -> Response:
    return Response.json({'code': 'NotFound' if status == 404 else 'BadRequest', 'description': message}, status)
