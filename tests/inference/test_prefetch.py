"""parallel_map (tiles read by several threads, in order, a bounded number ahead) and BackgroundWriter."""
import threading
import time

import pytest

from geospatial_mm.inference.prefetch import BackgroundWriter, parallel_map


def test_results_come_in_the_items_order_whatever_order_the_threads_finish_in():
    def slow_for_small(i):
        time.sleep(0.002 * (10 - i % 10))
        return i * i

    assert list(parallel_map(slow_for_small, range(60), workers=4, ahead=8)) == [i * i for i in range(60)]
    assert list(parallel_map(slow_for_small, [], workers=3, ahead=2)) == []


def test_no_more_than_ahead_items_are_in_flight():
    lock = threading.Lock()
    started, consumed, most = [0], [0], [0]

    def work(i):
        with lock:
            started[0] += 1
            most[0] = max(most[0], started[0] - consumed[0])
        return i

    for _ in parallel_map(work, range(100), workers=4, ahead=3):
        time.sleep(0.001)
        with lock:
            consumed[0] += 1
    assert started[0] == 100 and most[0] <= 3


def test_an_exception_is_raised_at_its_items_turn_and_the_threads_stop():
    before = threading.active_count()

    def fail_at_5(i):
        if i == 5:
            raise KeyError('item 5')
        return i

    got = []
    with pytest.raises(KeyError, match='item 5'):
        for value in parallel_map(fail_at_5, range(50), workers=3, ahead=4):
            got.append(value)
    assert got == [0, 1, 2, 3, 4]
    assert threading.active_count() == before


def test_a_consumer_that_stops_early_stops_the_threads_and_leaves_the_rest_undone():
    before = threading.active_count()
    done = []
    results = parallel_map(lambda i: done.append(i) or i, range(1000), workers=2, ahead=4)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    results.close()
    assert threading.active_count() == before and len(done) <= 3 + 4


def test_each_thread_enters_its_context_once_and_leaves_it_at_the_end():
    entered, left = [], []

    class Context:
        def __enter__(self):
            entered.append(threading.get_ident())

        def __exit__(self, *exc):
            left.append(threading.get_ident())

    assert sum(parallel_map(lambda i: i, range(40), workers=3, ahead=6, context=Context)) == sum(range(40))
    assert len(entered) == 3 and sorted(entered) == sorted(left)


def test_background_writer_runs_calls_in_order_and_raises_the_first_error_on_close():
    calls = []
    writer = BackgroundWriter(depth=2)
    for i in range(20):
        writer.submit(lambda i=i: calls.append(i))
    writer.close()
    assert calls == list(range(20))
    writer = BackgroundWriter()
    writer.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        writer.close()
