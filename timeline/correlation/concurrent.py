"""Partitions worked on side by side: a bounded, ordered map over threads.

Correlation works on one partition at a time; most of each partition's work runs inside polars
and pyarrow, which release the GIL, so partitions can run in threads. ``ordered_map`` keeps at
most ``workers`` partitions in flight (memory holds that many partitions' working sets, which the
budget accounts for) and yields their results in partition order, so the caller writes them in
the same order as a serial loop would: the output does not depend on the number of workers.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def default_workers() -> int:
    """Partitions in flight by default: the cores this process may use, at most 4 (beyond that
    polars' own threads already fill the machine and memory grows with no gain)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def ordered_map(
    work: Callable[[Item], Result], items: Iterable[Item], workers: int = 1
) -> Generator[Result, None, None]:
    """``work`` of every item, in the items' order, with up to ``workers`` running at once.

    With one worker it is a plain loop in the calling thread. An exception in ``work`` is raised
    when its result is reached; the items after it are not started."""
    if workers <= 1:
        for item in items:
            yield work(item)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="timeline-part") as pool:
        pending: deque[Future[Result]] = deque()
        source = iter(items)
        try:
            for item in source:
                pending.append(pool.submit(work, item))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
