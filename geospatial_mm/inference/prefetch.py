"""Work in background threads.

:func:`parallel_map` has tiles read by several threads, a bounded number ahead of their consumer, in order;
:class:`BackgroundWriter` runs GDAL writes in a thread of their own, overlapping the model.
"""
from __future__ import annotations

import collections
import contextlib
import queue
import threading
from concurrent.futures import Future
from typing import Callable, ContextManager, Iterable, Iterator, TypeVar

T = TypeVar('T')
R = TypeVar('R')


def parallel_map(func: Callable[[T], R], items: Iterable[T], workers: int, ahead: int,
                 context: Callable[[], ContextManager[object]] | None = None) -> Iterator[R]:
    """``func(item)`` for every item, computed by ``workers`` threads, yielded in the items' order.

    At most ``ahead`` items are in flight (submitted and not yet taken by the consumer), which bounds the memory of
    results waiting for their turn. Each thread runs inside ``context()``, entered once per thread (a GDAL
    environment and files kept open, which belong to the thread that opened them).

    Args:
        func: what to compute for an item.
        items: the items (consumed lazily).
        workers: the number of threads.
        ahead: the most items in flight.
        context: what each thread runs in (None: nothing).

    Yields:
        ``func(item)``, in the items' order.

    Raises:
        BaseException: the first exception of ``func``, in the consumer, at that item's turn; the threads stop when
            the consumer does, whether it finished, raised or stopped early.
    """
    tasks: queue.Queue[tuple[Future[R], T] | None] = queue.Queue()
    threads = [threading.Thread(target=_work, args=(func, tasks, context), name=f'tile-reader-{i}', daemon=True)
               for i in range(max(1, workers))]
    for thread in threads:
        thread.start()
    pending: collections.deque[Future[R]] = collections.deque()
    items = iter(items)
    try:
        while True:
            while len(pending) < max(1, ahead):
                try:
                    item = next(items)
                except StopIteration:
                    break
                future: Future[R] = Future()
                pending.append(future)
                tasks.put((future, item))
            if not pending:
                return
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()  # those not started are skipped
        for _ in threads:
            tasks.put(None)
        for thread in threads:
            thread.join()



def _work(func: Callable[[T], R], tasks: queue.Queue[tuple[Future[R], T] | None],
          context: Callable[[], ContextManager[object]] | None) -> None:
    """A thread of :func:`parallel_map`: tasks until the ``None`` that ends them, inside the thread's context."""
    with context() if context is not None else contextlib.nullcontext():
        while (task := tasks.get()) is not None:
            future, item = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(func(item))
            except BaseException as exc:  # handed to the consumer, which re-raises it
                future.set_exception(exc)


class BackgroundWriter:
    """Calls run in order in a thread of its own, at most ``depth`` waiting (``submit``).

    ``close`` waits for them and raises the first exception one of them raised (also raised by the next ``submit``).
    """

    def __init__(self, depth: int = 4, context: Callable[[], ContextManager[object]] | None = None) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=max(1, depth))  # None: the end
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, args=(context,), name='raster-writer', daemon=True)
        self._thread.start()

    def _work(self, context: Callable[[], ContextManager[object]] | None) -> None:
        with (context() if context is not None else contextlib.nullcontext()):
            while True:
                call = self._queue.get()
                if call is None:
                    return
                if self._error is None:
                    try:
                        call()
                    except BaseException as exc:  # kept for the caller
                        self._error = exc

    def submit(self, call: Callable[[], None]) -> None:
        """Queue ``call`` (waiting while ``depth`` calls wait).

        Raises:
            BaseException: the first exception an earlier call raised.
        """
        if self._error is not None:
            raise self._error
        self._queue.put(call)

    def close(self) -> None:
        """Wait for the queued calls and end the thread.

        Raises:
            BaseException: the first exception a call raised.
        """
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
