"""Producing items in a background thread, a bounded number ahead of their consumer."""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator

from geospatial_mm.io.gdal import gdal_env


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def prefetch(make_items: Callable[[], Iterable], size: int, cachemax: int | None = None) -> Iterator:
    """Iterate ``make_items()`` in a background thread, at most ``size`` ahead; its exceptions are raised here.

    The items are produced inside a GDAL environment of that thread (rasterio environments are per thread; the block
    cache, ``cachemax`` bytes, is one per process), and the producer is closed in its own thread when the consumer
    stops early.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, size))
    stop = threading.Event()

    def put(obj) -> bool:
        while not stop.is_set():
            try:
                q.put(obj, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with gdal_env(cachemax):
                items = make_items()
                try:
                    for item in items:
                        if not put(item):
                            return
                finally:
                    close = getattr(items, 'close', None)
                    if close is not None:
                        close()
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
            return
        put(_DONE)

    thread = threading.Thread(target=work, name='tile-reader', daemon=True)
    thread.start()
    try:
        while True:
            obj = q.get()
            if obj is _DONE:
                return
            if isinstance(obj, _Failure):
                raise obj.exc
            yield obj
    finally:
        stop.set()
        thread.join()
