"""Work in background threads: :func:`parallel_map` (tiles read by several threads, a bounded number ahead of their
consumer, in order) and :class:`BackgroundWriter` (GDAL writes in a thread of their own, overlapping the model)."""
from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any, Callable, ContextManager, Iterable, Iterator


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def parallel_map(func: Callable[[Any], Any], items: Iterable, workers: int, ahead: int,
                 context: Callable[[], ContextManager] | None = None) -> Iterator:
    """``func(item)`` for every item, computed by ``workers`` threads at most ``ahead`` items ahead, yielded in the
    items' order; each thread runs inside ``context()`` (entered once per thread). An exception of ``func`` is
    raised here; the threads stop when the consumer does."""
    items = iter(items)
    lock = threading.Lock()
    done: dict[int, Any] = {}
    ready = threading.Condition(lock)
    slots = threading.Semaphore(max(1, ahead))
    stop = threading.Event()
    counter = [0]

    def next_item():
        with lock:
            index = counter[0]
            try:
                item = next(items)
            except StopIteration:
                return None
            counter[0] += 1
            return index, item

    def work() -> None:
        with (context() if context is not None else contextlib.nullcontext()):
            while not stop.is_set():
                while not slots.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                taken = next_item()
                if taken is None:
                    slots.release()
                    with ready:
                        done.setdefault('end', counter[0])
                        ready.notify_all()
                    return
                index, item = taken
                try:
                    result = func(item)
                except BaseException as exc:  # handed to the consumer, which re-raises it
                    result = _Failure(exc)
                with ready:
                    done[index] = result
                    ready.notify_all()

    threads = [threading.Thread(target=work, name=f'tile-reader-{i}', daemon=True) for i in range(max(1, workers))]
    for thread in threads:
        thread.start()
    try:
        index = 0
        while True:
            with ready:
                while index not in done and not ('end' in done and index >= done['end']):
                    ready.wait(0.1)
                if index not in done:
                    return
                result = done.pop(index)
            slots.release()
            if isinstance(result, _Failure):
                raise result.exc
            yield result
            index += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()


class BackgroundWriter:
    """Calls run in order in a thread of its own, at most ``depth`` waiting (``submit``); ``close`` waits for them
    and raises the first exception one of them raised (also raised by the next ``submit``)."""

    def __init__(self, depth: int = 4, context: Callable[[], ContextManager] | None = None) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, args=(context,), name='raster-writer', daemon=True)
        self._thread.start()

    def _work(self, context) -> None:
        with (context() if context is not None else contextlib.nullcontext()):
            while True:
                call = self._queue.get()
                if call is _DONE:
                    return
                if self._error is None:
                    try:
                        call()
                    except BaseException as exc:  # kept for the caller
                        self._error = exc

    def submit(self, call: Callable[[], None]) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(call)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
