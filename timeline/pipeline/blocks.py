"""Block-parallel parsing: the blocks of a file are parsed on a shared pool of threads and their
results are taken back in input order.

Files used to be the only unit of parallelism, so one large file kept one core busy. Now a file's
driver (:func:`timeline.pipeline.files.run_file`) reads its blocks one after the other (reading,
decompressing and hashing are sequential by nature) and hands each block, or each chunk of a
multi-line parser, to a :class:`BlockPool` as a *heavy* task: unwrap envelopes, parse, check the
line contract, normalize. Work that is already done when it is read (the reader's rejected lines)
travels as a *light* task, run inline. :meth:`BlockPool.ordered` gives the results back strictly in
the order the tasks were made, so the driver's in-order pass (timestamp and model-revision
inheritance across blocks, accounting, part files) sees exactly what a serial run sees: the output
does not depend on the number of threads.

Threads, not processes: the work of a block is almost entirely inside polars kernels, which release
the GIL; processes would have to pickle every parser (spec parsers, plugins) and ship every block
and its events across a pipe. The measurements are in ``docs/performance.md`` ("Block-parallel
parsing").

Memory stays bounded: each file keeps at most :attr:`BlockPool.ahead` heavy tasks in flight (the
driver stops reading until the oldest is taken back), and a result is taken back as soon as it is
the oldest and done.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Task(Generic[T]):
    """One piece of a file's work: ``run`` computes it; ``heavy`` tasks go to the pool, light ones
    run inline on the driver's thread (their result is already at hand)."""

    run: Callable[[], T]
    heavy: bool = True


class BlockPool:
    """Threads that parse the blocks of every file of a build.

    ``workers <= 1``: no thread at all, every task runs inline in order (the serial build, and
    what a profiler sees). ``ahead``: heavy tasks of one file in flight at most (default
    ``workers + 1``: one more than the pool can run, so that a worker never waits for the reader).
    """

    def __init__(self, workers: int, ahead: int | None = None) -> None:
        self.workers = max(1, workers)
        self.ahead = max(1, ahead if ahead is not None else self.workers + 1)
        self._executor: ThreadPoolExecutor | None = (
            ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="timeline-block")
            if self.workers > 1
            else None
        )

    def __enter__(self) -> BlockPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Wait for running tasks and stop the threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    @property
    def parallel(self) -> bool:
        """True when tasks run on threads of their own."""
        return self._executor is not None

    def ordered(self, tasks: Iterable[Task[T]]) -> Iterator[T]:
        """The results of ``tasks``, in their order.

        ``tasks`` is consumed lazily on the caller's thread (a file's reader): the next task is
        made only while fewer than :attr:`ahead` heavy tasks are in flight. An exception of a task
        is raised here, at its place in the order; tasks still in flight are then cancelled or
        waited for, so that none outlives the file's run.
        """
        executor = self._executor
        if executor is None:
            for task in tasks:
                yield task.run()
            return
        pending: deque[tuple[Future[T], bool]] = deque()
        in_flight = 0
        try:
            for task in tasks:
                if task.heavy:
                    future = executor.submit(task.run)
                    in_flight += 1
                else:
                    future = _done(task.run)
                pending.append((future, task.heavy))
                while pending and (pending[0][0].done() or in_flight >= self.ahead):
                    oldest, heavy = pending.popleft()
                    in_flight -= heavy
                    yield oldest.result()
            while pending:
                oldest, _ = pending.popleft()
                yield oldest.result()
        finally:
            left = [future for future, _ in pending]
            for future in left:
                future.cancel()
            wait(left)


def _done(run: Callable[[], T]) -> Future[T]:
    """A future that already holds ``run()`` (or its exception)."""
    future: Future[T] = Future()
    try:
        future.set_result(run())
    except Exception as exc:  # raised again, in order, by the caller of ``ordered``
        future.set_exception(exc)
    return future
