"""A small threaded HTTP/1.1 file server on 127.0.0.1 for tests that read rasters over HTTP.

The standard library's ``http.server`` ignores ``Range`` headers; GDAL's ``/vsicurl/`` depends on them. This server
answers ``bytes=a-b``, ``bytes=a-``, ``bytes=-n`` and several ranges at once (as ``multipart/byteranges``), HEAD
requests, and keeps connections alive. It counts what it sends, records what it receives, can fail on purpose (503,
429, 404, 401/403, slow answers, connections dropped in the middle of a body) and is bounded in requests and in
lifetime. Extra routes (see ``add_route``) let other helpers, such as the STAC API, share the same machinery.

    with RangeServer(folder) as server:
        url = server.url('a/b.tif')         # http://127.0.0.1:PORT/<prefix>/a/b.tif
        ...
        assert server.stats().requests_for('a/b.tif') > 0

Every server gets its own random path prefix unless ``prefix=''`` is given: GDAL caches what it read by URL for
the whole process, and an ephemeral port can be handed out again to a later server, so a later test could otherwise
be answered from the cache of an earlier one.
"""
from __future__ import annotations

import fnmatch
import http.server
import json
import mimetypes
import random
import re
import secrets
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping
from urllib.parse import parse_qs, quote, unquote, urlsplit

LOOPBACK = '127.0.0.1'
CHUNK = 64 * 1024
SCRIPT_STEPS = ('503', '429', 'drop', 'ok')


class LimitReached(RuntimeError):
    """Raised by ``RangeServer.check_limits`` when the server stopped because of its request or time bound."""


@dataclass(frozen=True)
class Faults:
    """What the server does wrong on purpose. Rates are probabilities per request, drawn from a generator seeded
    with ``seed`` (the draws follow the order in which requests arrive).

    ``fault_paths`` are fnmatch patterns of the relative paths that the random faults (503, 429, drops, delay) apply
    to; ``missing`` are patterns answered 404 whatever is on disk. ``require_header`` is a (name, value) pair that
    every request to ``auth_paths`` must carry: 401 when the header is absent, 403 when its value differs.
    ``drop_fraction`` is how much of the body is sent before a dropped connection is closed. ``script`` plans the
    next requests to ``fault_paths`` one by one, before any random draw: each entry is '503', '429', 'drop' or
    'ok', and is used up by the request it applies to."""

    rate_503: float = 0.0
    rate_429: float = 0.0
    drop_rate: float = 0.0
    drop_fraction: float = 0.5
    delay: float = 0.0
    missing: tuple[str, ...] = ()
    require_header: tuple[str, str] | None = None
    auth_paths: tuple[str, ...] = ('*',)
    fault_paths: tuple[str, ...] = ('*',)
    retry_after: int | None = 0
    seed: int = 0
    script: tuple[str, ...] = ()

    def __post_init__(self):
        for name in ('rate_503', 'rate_429', 'drop_rate', 'drop_fraction'):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'Faults.{name}: expected a rate in [0, 1], found {value!r}')
        if self.rate_503 + self.rate_429 + self.drop_rate > 1.0:
            raise ValueError(f'Faults: rate_503 + rate_429 + drop_rate must not exceed 1, found '
                             f'{self.rate_503 + self.rate_429 + self.drop_rate}')
        if self.delay < 0:
            raise ValueError(f'Faults.delay: expected seconds >= 0, found {self.delay!r}')
        unknown = [s for s in self.script if s not in SCRIPT_STEPS]
        if unknown:
            raise ValueError(f'Faults.script: expected steps among {SCRIPT_STEPS}, found {unknown}')
        if self.require_header is not None and len(self.require_header) != 2:
            raise ValueError(f'Faults.require_header: expected (name, value), found {self.require_header!r}')


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server received it and what it did with it. ``status`` is None when the server closed
    the connection without answering (request bound reached); ``dropped`` is True when it closed the connection in
    the middle of the body. ``body_bytes`` counts the response body bytes actually written; ``client_port`` tells
    the client's connections apart (requests on one kept-alive connection share it)."""

    method: str
    request_line: str
    target: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    status: int | None
    body_bytes: int
    dropped: bool
    time: float
    client_port: int

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    @property
    def range(self) -> str | None:
        return self.header('Range')


@dataclass(frozen=True)
class PathStats:
    requests: int = 0
    bytes_sent: int = 0


@dataclass(frozen=True)
class ServerStats:
    """Counters since the start or the last ``reset_stats``. ``bytes_sent`` counts response body bytes (multipart
    framing included), not headers; ``per_path`` is keyed by the path relative to the server's prefix."""

    requests: int
    bytes_sent: int
    per_path: Mapping[str, PathStats]
    statuses: Mapping[int, int]
    dropped: int
    refused: int

    def requests_for(self, path: str) -> int:
        return self.per_path.get(path.lstrip('/'), PathStats()).requests

    def bytes_for(self, path: str) -> int:
        return self.per_path.get(path.lstrip('/'), PathStats()).bytes_sent


@dataclass
class Request:
    """What a route handler gets: ``path`` relative to the prefix, ``params`` from the query string (lists of
    values), the headers and the raw body."""

    method: str
    path: str
    query: str
    params: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    match: re.Match | None = None

    def json(self):
        """The body parsed as JSON (an empty body is an empty object)."""
        return json.loads(self.body.decode('utf-8')) if self.body else {}


@dataclass
class Response:
    status: int
    body: bytes = b''
    content_type: str = 'application/octet-stream'
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj, status: int = 200, content_type: str = 'application/json') -> 'Response':
        return cls(status, json.dumps(obj, indent=1).encode('utf-8'), content_type)

    @classmethod
    def text(cls, status: int, message: str) -> 'Response':
        return cls(status, (message + '\n').encode('utf-8'), 'text/plain; charset=utf-8')


RouteHandler = Callable[[Request], Response]


def parse_range(header: str, size: int) -> list[tuple[int, int]] | None:
    """Parse a ``Range`` header against a resource of ``size`` bytes into inclusive (first, last) pairs.

    Returns None when the header is not a valid byte-range set (the whole resource is then served, as RFC 9110
    asks), and an empty list when it is valid but no range is satisfiable (answered 416)."""
    unit, sep, spec = header.partition('=')
    if not sep or unit.strip().lower() != 'bytes':
        return None
    ranges = []
    for part in spec.split(','):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r'(\d*)-(\d*)', part)
        if not m or (not m.group(1) and not m.group(2)):
            return None
        if m.group(1):
            first = int(m.group(1))
            last = int(m.group(2)) if m.group(2) else size - 1
            if m.group(2) and last < first:
                return None
            if first >= size:
                continue
            ranges.append((first, min(last, size - 1)))
        else:
            suffix = int(m.group(2))
            if suffix == 0 or size == 0:
                continue
            ranges.append((max(size - suffix, 0), size - 1))
    return ranges if ranges or spec.strip() else None


class _Httpd(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """The listening socket. Handler threads are tracked by the owning RangeServer, which joins them on close."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = False
    owner: 'RangeServer'

    def process_request(self, request, client_address):
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f'range-server-{self.server_address[1]}-conn', daemon=True)
        self.owner._track(thread, request)
        thread.start()

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.owner._untrack(request)

    def handle_error(self, request, client_address):
        # A client that goes away mid-answer (GDAL does when it has what it needs) is normal here; anything else is
        # a fault of the server, kept for errors() and raised by close().
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            self.owner._note_error(traceback.format_exc())


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'RangeServer/1'
    sys_version = ''
    timeout = 5.0  # an idle keep-alive connection is closed after this many seconds
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms delayed-ACK stalls

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        self._serve('GET')

    def do_HEAD(self):
        self._serve('HEAD')

    def do_POST(self):
        self._serve('POST')

    def do_PUT(self):
        self._serve('PUT')

    def do_DELETE(self):
        self._serve('DELETE')

    def _serve(self, method: str):
        owner: RangeServer = self.server.owner
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length > 0 else b''
        split = urlsplit(self.path)
        relative = owner._relative(unquote(split.path))
        # counted and recorded before anything is sent, so that a client that has its answer sees it counted
        entry = owner._begin(method, self.requestline, self.path, relative or '', split.query, self.headers.items(),
                             body, self.client_address[1])
        if not owner._admit():
            self.close_connection = True
            return
        plan = owner._plan(relative)
        if plan.delay and owner._stopping.wait(plan.delay):
            self.close_connection = True  # stopped while waiting: no answer
            return
        try:
            response = owner._respond(method, relative, split.query, self.headers, body, plan)
        except Exception:  # a broken route handler: answer 500 with the traceback, and close() raises it
            owner._note_error(traceback.format_exc())
            response = Response.text(500, traceback.format_exc())
        if response is None:  # a file, streamed from disk
            self._send_file(method, relative, plan, entry)
        else:
            self._send_response(method, response, plan, entry)

    def _start(self, status: int, headers: Iterable[tuple[str, str]], entry: '_Entry'):
        self.server.owner._count_status(entry, status)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def _write(self, data: bytes, entry: '_Entry') -> None:
        owner: RangeServer = self.server.owner
        owner._count_bytes(entry, len(data))
        try:
            self.wfile.write(data)
        except OSError:
            owner._count_bytes(entry, -len(data))  # not sent after all (the client went away)
            raise

    def _drop(self, entry: '_Entry'):
        self.server.owner._count_drop(entry)
        self.close_connection = True
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client already went away

    def _send_response(self, method: str, response: Response, plan: '_Plan', entry):
        headers = [('Content-Type', response.content_type), ('Content-Length', str(len(response.body))),
                   *response.headers.items()]
        self._start(response.status, headers, entry)
        if method == 'HEAD' or not response.body:
            return
        if plan.drop and len(response.body) > 1:
            cut = max(1, min(len(response.body) - 1, int(len(response.body) * plan.drop_fraction)))
            self._write(response.body[:cut], entry)
            self._drop(entry)
            return
        self._write(response.body, entry)

    def _send_file(self, method: str, relative: str, plan: '_Plan', entry):
        owner: RangeServer = self.server.owner
        path = owner._file(relative)
        stat = path.stat()
        size = stat.st_size
        ctype = owner.content_type(path)
        header = self.headers.get('Range')
        ranges = parse_range(header, size) if header else None
        common = [('Accept-Ranges', 'bytes'), ('Last-Modified', self.date_time_string(int(stat.st_mtime)))]
        if ranges is not None and not ranges:
            body = b'requested range not satisfiable\n'
            self._start(416, [('Content-Type', 'text/plain'), ('Content-Length', str(len(body))),
                              ('Content-Range', f'bytes */{size}'), *common], entry)
            if method != 'HEAD':
                self._write(body, entry)
            return
        # the body as segments: bytes to send as they are, or (first, last) byte ranges of the file
        segments: list[bytes | tuple[int, int]]
        if ranges is None:
            status, segments, extra = 200, [(0, size - 1)] if size else [], [('Content-Type', ctype)]
        elif len(ranges) == 1:
            (first, last), status = ranges[0], 206
            segments = [(first, last)]
            extra = [('Content-Type', ctype), ('Content-Range', f'bytes {first}-{last}/{size}')]
        else:
            status, boundary, segments = 206, secrets.token_hex(12), []
            for i, (first, last) in enumerate(ranges):
                segments.append((b'\r\n' if i else b'') + f'--{boundary}\r\nContent-Type: {ctype}\r\n'
                                f'Content-Range: bytes {first}-{last}/{size}\r\n\r\n'.encode())
                segments.append((first, last))
            segments.append(f'\r\n--{boundary}--\r\n'.encode())
            extra = [('Content-Type', f'multipart/byteranges; boundary={boundary}')]
        length = sum(len(s) if isinstance(s, bytes) else s[1] - s[0] + 1 for s in segments)
        self._start(status, [*extra, ('Content-Length', str(length)), *common], entry)
        if method == 'HEAD':
            return
        budget = max(1, int(length * plan.drop_fraction)) if plan.drop and length > 1 else None
        with path.open('rb') as f:
            for segment in segments:
                for data in _chunks(f, segment, path):
                    if budget is not None and entry.body_bytes + len(data) >= budget:
                        self._write(data[:budget - entry.body_bytes], entry)
                        self._drop(entry)
                        return
                    self._write(data, entry)


def _chunks(f, segment: bytes | tuple[int, int], path: Path):
    """The bytes of one body segment, a file range read in chunks."""
    if isinstance(segment, bytes):
        yield segment
        return
    first, last = segment
    f.seek(first)
    left = last - first + 1
    while left:
        data = f.read(min(CHUNK, left))
        if not data:
            raise OSError(f'{path}: the file shrank while being served')
        left -= len(data)
        yield data


@dataclass
class _Entry:
    """A request being answered; its counters are updated before each write (under the server's lock)."""

    method: str
    request_line: str
    target: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client_port: int
    time: float
    status: int | None = None
    body_bytes: int = 0
    dropped: bool = False

    def snapshot(self) -> RequestRecord:
        return RequestRecord(self.method, self.request_line, self.target, self.path, self.query, self.headers,
                             self.body, self.status, self.body_bytes, self.dropped, self.time, self.client_port)


@dataclass(frozen=True)
class _Plan:
    fail: int | None = None      # 503 or 429
    drop: bool = False
    drop_fraction: float = 0.5
    delay: float = 0.0


class RangeServer:
    """Serves the files under ``folder`` on ``http://127.0.0.1:PORT/<prefix>/``, with Range support.

    ``max_requests`` and ``max_lifetime`` (seconds) bound the server: past either it stops answering (connections
    are closed without an answer) and shuts down; ``stop_reason`` says which. Use it as a context manager, which
    starts it and always stops it and joins every thread on exit. ``faults`` sets the initial ``Faults``;
    ``configure`` changes them at any time."""

    def __init__(self, folder: str | Path | None = None, *, host: str = LOOPBACK, prefix: str | None = None,
                 max_requests: int = 2000, max_lifetime: float = 60.0, faults: Faults | None = None,
                 idle_timeout: float = 5.0):
        if host != LOOPBACK:
            raise ValueError(f'RangeServer: expected to listen on {LOOPBACK} only, found host={host!r}')
        if max_requests < 1 or max_lifetime <= 0:
            raise ValueError(f'RangeServer: expected max_requests >= 1 and max_lifetime > 0, found '
                             f'{max_requests!r} and {max_lifetime!r}')
        self.folder = Path(folder).resolve() if folder is not None else None
        if self.folder is not None and not self.folder.is_dir():
            raise ValueError(f'RangeServer: expected a folder to serve, found {folder!r}')
        self.prefix = (secrets.token_hex(4) if prefix is None else prefix).strip('/')
        self.max_requests = max_requests
        self.max_lifetime = max_lifetime
        self.idle_timeout = idle_timeout
        self.stop_reason: str | None = None
        self._faults = faults or Faults()
        self._rng = random.Random(self._faults.seed)
        self._lock = threading.Lock()
        self._routes: list[tuple[frozenset[str], re.Pattern, RouteHandler]] = []
        self._threads: dict[socket.socket, threading.Thread] = {}
        self._all_threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._listener_closed = threading.Event()
        self._httpd: _Httpd | None = None
        self._serve_thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._stopper: threading.Thread | None = None
        self._port: int | None = None
        self._admitted = 0
        self._errors: list[str] = []
        self.reset_stats()
        self.clear_records()

    # ----------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> 'RangeServer':
        if self._httpd is not None:
            raise RuntimeError('RangeServer: already started')
        handler = type('Handler', (_Handler,), {'timeout': self.idle_timeout})
        httpd = _Httpd((LOOPBACK, 0), handler, bind_and_activate=False)
        httpd.owner = self
        try:
            httpd.server_bind()
            bound = httpd.socket.getsockname()[0]
            if bound != LOOPBACK:
                raise RuntimeError(f'RangeServer: bound to {bound}, expected {LOOPBACK}')
            httpd.server_activate()
        except BaseException:
            httpd.server_close()
            raise
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._serve_thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05},
                                              name=f'range-server-{self.port}', daemon=True)
        self._serve_thread.start()
        self._watchdog = threading.Thread(target=self._watch, name=f'range-server-{self.port}-watchdog',
                                          daemon=True)
        self._watchdog.start()
        return self

    def _watch(self):
        if not self._stopping.wait(self.max_lifetime):
            self._stop_answering('lifetime')

    def _stop_answering(self, reason: str):
        with self._lock:
            if self.stop_reason is not None:
                return
            self.stop_reason = reason
            self._stopping.set()
            # shutdown() waits for serve_forever to return, so a handler thread must not wait for it itself; a
            # helper thread does (joined in close()).
            self._stopper = threading.Thread(target=self._shutdown_listener, name='range-server-stop', daemon=True)
            self._stopper.start()

    def _shutdown_listener(self):
        httpd = self._httpd
        if httpd is not None:
            httpd.shutdown()
            httpd.socket.close()  # new connections are refused from now on
            self._close_connections()
        self._listener_closed.set()

    def _close_connections(self):
        with self._lock:
            connections = list(self._threads)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler

    def wait_stopped(self, timeout: float) -> bool:
        """Wait until the server has stopped listening (after a bound was reached, or close()); False on timeout."""
        return self._listener_closed.wait(timeout)

    def close(self, join_timeout: float = 5.0, raise_errors: bool = True) -> None:
        """Stop listening, close every open connection and join every thread. Raises RuntimeError when a thread
        does not end, or (with ``raise_errors``) when answering a request raised an exception."""
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        self._close_connections()
        httpd.server_close()
        self._listener_closed.set()
        deadline = time.monotonic() + join_timeout
        with self._lock:
            threads = list(self._all_threads)
            threads += [t for t in (self._serve_thread, self._watchdog, self._stopper) if t is not None]
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads if t.is_alive()]
        self._httpd = None
        if alive:
            raise RuntimeError(f'RangeServer on port {self.port}: threads still running after {join_timeout} s: '
                               f'{alive}')
        errors = self.errors()
        if errors and raise_errors:
            raise RuntimeError(f'RangeServer on port {self.port}: {len(errors)} request(s) raised while being '
                               f'answered; the first:\n{errors[0]}')

    def __enter__(self) -> 'RangeServer':
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(raise_errors=exc_type is None)  # a failing test keeps its own error

    @property
    def running(self) -> bool:
        """Started, answering and listening."""
        return self._httpd is not None and not self._stopping.is_set() and not self._listener_closed.is_set()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError('RangeServer: not started')
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the listening socket is bound to."""
        if self._httpd is None:
            raise RuntimeError('RangeServer: not listening')
        return self._httpd.socket.getsockname()[:2]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/<prefix>/`` (ends with a slash)."""
        prefix = f'{self.prefix}/' if self.prefix else ''
        return f'http://{LOOPBACK}:{self.port}/{prefix}'

    def url(self, path: str = '', query: str | Mapping[str, str] | None = None) -> str:
        """The URL of ``path`` (relative to the served folder), with an optional query string."""
        url = self.base_url + quote(str(path).lstrip('/'))
        if query:
            if not isinstance(query, str):
                query = '&'.join(f'{quote(str(k))}={quote(str(v))}' for k, v in query.items())
            url += '?' + query
        return url

    def vsicurl(self, path: str = '', query: str | Mapping[str, str] | None = None) -> str:
        """The GDAL ``/vsicurl/`` name of ``path``."""
        return '/vsicurl/' + self.url(path, query)

    # ----------------------------------------------------------------------------------------------- behaviour
    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def configure(self, **changes) -> Faults:
        """Change some fields of the current ``Faults`` (the others keep their values); a new ``seed`` restarts
        the random draws. Returns the faults now in force."""
        with self._lock:
            self._faults = replace(self._faults, **changes)
            if 'seed' in changes:
                self._rng = random.Random(self._faults.seed)
            return self._faults

    def set_faults(self, faults: Faults | None = None) -> None:
        """Replace the faults (None: none) and restart the random draws from their seed."""
        with self._lock:
            self._faults = faults or Faults()
            self._rng = random.Random(self._faults.seed)

    def add_route(self, methods: str | Iterable[str], pattern: str, handler: RouteHandler) -> None:
        """Answer requests whose relative path fully matches the regular expression ``pattern`` with ``handler``.
        Routes are tried in the order they were added, before the files."""
        methods = frozenset([methods] if isinstance(methods, str) else methods)
        self._routes.append((frozenset(m.upper() for m in methods), re.compile(pattern), handler))

    @staticmethod
    def content_type(path: Path) -> str:
        if path.suffix.lower() in ('.tif', '.tiff'):
            return 'image/tiff'
        if path.suffix.lower() == '.json':
            return 'application/json'
        return mimetypes.guess_type(path.name)[0] or 'application/octet-stream'

    # ----------------------------------------------------------------------------------------------- statistics
    def stats(self) -> ServerStats:
        """The counters now. A request is counted when it arrives, its bytes before they are written: whatever a
        client has received is already counted when it looks."""
        with self._lock:
            per_path = {k: PathStats(*v) for k, v in self._per_path.items()}
            return ServerStats(self._requests, self._bytes, per_path, dict(self._statuses), self._dropped,
                               self._refused)

    def reset_stats(self) -> None:
        with self._lock:
            self._requests = 0
            self._bytes = 0
            self._per_path: dict[str, list[int]] = {}
            self._statuses: Counter = Counter()
            self._dropped = 0
            self._refused = 0

    def records(self) -> list[RequestRecord]:
        """The requests received since the start or the last ``clear_records``, in order of arrival, as they stand
        now (a request still being answered shows what was sent so far)."""
        with self._lock:
            return [e.snapshot() for e in self._records]

    def clear_records(self) -> None:
        with self._lock:
            self._records: list[_Entry] = []

    def errors(self) -> list[str]:
        """Tracebacks of exceptions raised while answering (a client going away is not one)."""
        with self._lock:
            return list(self._errors)

    def check_limits(self) -> None:
        """Raise ``LimitReached`` when the server stopped because of its request or time bound."""
        if self.stop_reason is not None:
            raise LimitReached(f'RangeServer on port {self.port} stopped: {self.stop_reason} bound reached '
                               f'(max_requests={self.max_requests}, max_lifetime={self.max_lifetime} s)')

    # ----------------------------------------------------------------------------------------------- internals
    def _track(self, thread: threading.Thread, conn: socket.socket) -> None:
        with self._lock:
            self._threads[conn] = thread
            self._all_threads = [t for t in self._all_threads if t.is_alive()] + [thread]

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._threads.pop(conn, None)

    def _note_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _relative(self, path: str) -> str | None:
        """The path relative to the prefix, or None when it is outside it."""
        path = path.lstrip('/')
        if not self.prefix:
            return path
        if path == self.prefix:
            return ''
        if path.startswith(self.prefix + '/'):
            return path[len(self.prefix) + 1:]
        return None

    def _admit(self) -> bool:
        with self._lock:
            if self._stopping.is_set():
                self._refused += 1
                return False
            self._admitted += 1
            over = self._admitted > self.max_requests
            if over:
                self._refused += 1
        if over:
            self._stop_answering('requests')
            return False
        return True

    def _plan(self, relative: str | None) -> _Plan:
        with self._lock:
            f = self._faults
            if relative is None or not any(fnmatch.fnmatchcase(relative, p) for p in f.fault_paths):
                return _Plan()
            if f.script:
                step, self._faults = f.script[0], replace(f, script=f.script[1:])
                if step == 'drop':
                    return _Plan(drop=True, drop_fraction=f.drop_fraction, delay=f.delay)
                return _Plan(fail=None if step == 'ok' else int(step), delay=f.delay)
            draw = self._rng.random() if (f.rate_503 or f.rate_429 or f.drop_rate) else 1.0
        if draw < f.rate_503:
            return _Plan(fail=503, delay=f.delay)
        if draw < f.rate_503 + f.rate_429:
            return _Plan(fail=429, delay=f.delay)
        if draw < f.rate_503 + f.rate_429 + f.drop_rate:
            return _Plan(drop=True, drop_fraction=f.drop_fraction, delay=f.delay)
        return _Plan(delay=f.delay)

    def _respond(self, method: str, relative: str | None, query: str, headers, body: bytes,
                 plan: _Plan) -> Response | None:
        """The answer to a request, or None when the file ``relative`` is to be streamed."""
        if relative is None:
            return Response.text(404, 'not found')
        f = self.faults
        if f.require_header and any(fnmatch.fnmatchcase(relative, p) for p in f.auth_paths):
            name, expected = f.require_header
            given = headers.get(name)
            if given is None:
                return Response(401, b'credentials required\n', 'text/plain',
                                {'WWW-Authenticate': 'Bearer realm="range-server"'})
            if given != expected:
                return Response.text(403, 'forbidden')
        if plan.fail == 503:
            return Response(503, b'service unavailable\n', 'text/plain', self._retry_after(f))
        if plan.fail == 429:
            return Response(429, b'too many requests\n', 'text/plain', self._retry_after(f))
        if any(fnmatch.fnmatchcase(relative, p) for p in f.missing):
            return Response.text(404, f'not found: {relative}')
        for methods, pattern, handler in self._routes:
            m = pattern.fullmatch(relative)
            if m is None:
                continue
            if method not in methods and not (method == 'HEAD' and 'GET' in methods):
                return Response(405, b'method not allowed\n', 'text/plain', {'Allow': ', '.join(sorted(methods))})
            request = Request(method, relative, query, parse_qs(query, keep_blank_values=True),
                              dict(headers.items()), body, m)
            return handler(request)
        if method not in ('GET', 'HEAD'):
            return Response(405, b'method not allowed\n', 'text/plain', {'Allow': 'GET, HEAD'})
        if self._file(relative) is None:
            return Response.text(404, f'not found: {relative}')
        return None

    @staticmethod
    def _retry_after(f: Faults) -> dict[str, str]:
        return {} if f.retry_after is None else {'Retry-After': str(f.retry_after)}

    def _file(self, relative: str) -> Path | None:
        if self.folder is None or not relative:
            return None
        path = (self.folder / relative).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            return None
        return path

    def _begin(self, method, request_line, target, relative, query, headers, body, client_port) -> _Entry:
        entry = _Entry(method, request_line, target, relative, query, tuple(headers), body, client_port,
                       time.monotonic())
        with self._lock:
            self._records.append(entry)
            self._requests += 1
            self._per_path.setdefault(relative, [0, 0])[0] += 1
        return entry

    def _count_status(self, entry: _Entry, status: int) -> None:
        with self._lock:
            entry.status = status
            self._statuses[status] += 1

    def _count_bytes(self, entry: _Entry, n: int) -> None:
        with self._lock:
            entry.body_bytes += n
            self._bytes += n
            self._per_path.setdefault(entry.path, [0, 0])[1] += n

    def _count_drop(self, entry: _Entry) -> None:
        with self._lock:
            entry.dropped = True
            self._dropped += 1
