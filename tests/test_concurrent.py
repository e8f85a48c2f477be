"""``ordered_map``: partitions worked on in threads, results in order, a bounded window."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.correlation.concurrent import default_workers, ordered_map


@settings(max_examples=30, deadline=None)
@given(
    delays=st.lists(st.integers(min_value=0, max_value=3), max_size=12),
    workers=st.integers(min_value=1, max_value=5),
)
def test_results_come_in_item_order_whatever_finishes_first(
    delays: list[int], workers: int
) -> None:
    def work(item: tuple[int, int]) -> int:
        index, delay = item
        time.sleep(delay / 1000)
        return index

    items = list(enumerate(delays))
    assert list(ordered_map(work, items, workers)) == list(range(len(delays)))


def test_no_more_than_the_workers_run_at_once() -> None:
    lock = threading.Lock()
    running = 0
    most = 0

    def work(item: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.005)
        with lock:
            running -= 1
        return item

    assert list(ordered_map(work, range(20), 3)) == list(range(20))
    assert 1 <= most <= 3


def test_items_are_not_all_started_ahead_of_the_consumer() -> None:
    """The window is bounded: a slow consumer holds at most ``workers`` results in memory."""
    started: list[int] = []

    def work(item: int) -> int:
        started.append(item)
        return item

    results = ordered_map(work, range(100), 2)
    assert next(results) == 0
    time.sleep(0.05)
    assert len(started) <= 3
    results.close()


def test_one_worker_runs_in_the_calling_thread() -> None:
    caller = threading.get_ident()
    seen = list(ordered_map(lambda _: threading.get_ident(), range(3), 1))
    assert seen == [caller] * 3


def test_an_error_reaches_the_caller_at_its_item() -> None:
    def work(item: int) -> int:
        if item == 4:
            raise ValueError("bad partition 4")
        return item

    got: list[int] = []
    with pytest.raises(ValueError, match="bad partition 4"):
        for value in ordered_map(work, range(10), 3):
            got.append(value)
    assert got == [0, 1, 2, 3]


def test_the_default_is_at_least_one_and_at_most_four() -> None:
    assert 1 <= default_workers() <= 4
