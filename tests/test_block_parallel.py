"""Block-parallel parsing gives what serial parsing gives, on every golden pair.

The serial run is the golden run: one thread, 8 MiB blocks (every golden input is one block, one
chunk). The parallel run cuts every input into several blocks (small reads, so that even a file of
a few hundred bytes becomes several blocks), chunks multi-line input every few lines at its record
starts, and parses the blocks on two threads. Events (every column, in order, event ids
included), rejects (every column, in order) and the file's accounting must be identical:
inheritance of timestamps and model revisions across blocks, records cut at their starts and
merged lines all survive the cuts.

Both runs call the pipeline's own per-file driver (``run_file``) on a planned job; the plan is made
once per case, with the case's parser forced (detection is not what is tested here, and sniffing
every parser would cost more than both runs). The default suite runs one case per parser cut
into about four blocks; every case with blocks of a few dozen bytes runs in the slow step.
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import timeline.ingest.reader as reader_module
import timeline.pipeline.plan as plan_module
from timeline.ingest.discover import discover_inputs
from timeline.ingest.reader import InputReader
from timeline.normalize.content import finish
from timeline.parse import chunks
from timeline.parse.detect import Detection
from timeline.parse.registry import Registry, default_registry
from timeline.parserkit.api import Sample
from timeline.pipeline.blocks import BlockPool, Task
from timeline.pipeline.config import BuildConfig, load_config
from timeline.pipeline.files import FileJob, run_file
from timeline.pipeline.golden import GOLDEN_SALT, GoldenCase, registry_cases
from timeline.pipeline.plan import PlanOptions, plan
from timeline.schema import conform

REGISTRY = default_registry(plugins=False)
CASES = registry_cases(REGISTRY)


def _id(case: GoldenCase) -> str:
    return f"{case.parser}/{case.input.name}"


def _largest_per_parser(cases: list[GoldenCase]) -> list[GoldenCase]:
    best: dict[str, GoldenCase] = {}
    for case in cases:
        if (
            case.parser not in best
            or case.input.stat().st_size > best[case.parser].input.stat().st_size
        ):
            best[case.parser] = case
    return sorted(best.values(), key=lambda c: c.parser)


FAST = _largest_per_parser(CASES)

# Cases whose parser's result depends on records before the chunk: bugs of the parsers, not of
# the cuts (production chunks end at a record start every 200k lines / 8 MiB as well). Strict: a
# case passes once its parser is fixed, and must then leave this table.
_NEMO = (
    "nemo_guardrails joins an action's start to its finish and skips repeats of earlier records"
    " across the whole input: a cut between them changes durations and skips"
)
NOT_CHUNK_LOCAL = {
    "nemo_guardrails/basic.log": _NEMO,
    "nemo_guardrails/colang_v1.log": _NEMO,
}


def _params(cases: list[GoldenCase], strict: bool) -> list[Any]:
    """The cases, the parser bugs above expected to fail (only surely so in tiny blocks)."""
    return [
        pytest.param(
            case,
            id=_id(case),
            marks=[pytest.mark.xfail(reason=NOT_CHUNK_LOCAL[_id(case)], strict=strict)]
            if _id(case) in NOT_CHUNK_LOCAL
            else [],
        )
        for case in cases
    ]


def _forced_only(
    registry: Registry, sample: Sample, forced: tuple[str, str] | None = None
) -> Detection:
    assert forced is not None
    return Detection(registry.get(forced[0]), forced[1], None, ())


@dataclasses.dataclass
class Run:
    """One file through ``run_file``: events (with their ids), rejects, accounting, blocks read."""

    events: pl.DataFrame
    rejects: pl.DataFrame
    account: dict[str, Any]
    blocks: int


def _job(case: GoldenCase, parts: Path) -> FileJob:
    cfg = load_config(case.config) if case.config is not None else BuildConfig()
    files = discover_inputs([str(case.input)]).files
    options = PlanOptions(((case.input.name, case.parser),), cfg, keep_content=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plan_module, "detect", _forced_only)
        (job,) = plan(files, REGISTRY, options, parts)
    return job


def _run(job: FileJob, parts: Path, workers: int, block_bytes: int | None = None) -> Run:
    """Run ``job`` with a fresh reader (reading ``block_bytes`` blocks if given)."""
    old = job.reader
    reader = InputReader(old.path, old.name, old.max_line_bytes, None, old.max_file_bytes)
    reader.head()
    if block_bytes is not None:
        reader.block_bytes = block_bytes
    parts.mkdir()
    job = dataclasses.replace(job, reader=reader)
    blocks = 0
    original = InputReader.blocks

    def counting(self: InputReader) -> Iterator[reader_module.Block]:
        nonlocal blocks
        for block in original(self):
            blocks += 1
            yield block

    with pytest.MonkeyPatch.context() as patch, BlockPool(workers) as pool:
        patch.setattr(InputReader, "blocks", counting)
        outcome = run_file(job, parts, pool)
    account = outcome.account
    events = [
        finish(conform(pl.read_ipc(p)), account.sha256, GOLDEN_SALT, True)
        for p in outcome.event_parts
    ]
    rejects = [
        pl.read_ipc(p).sort("source_line", maintain_order=True) for p in outcome.reject_parts
    ]
    return Run(
        pl.concat(events) if events else pl.DataFrame(),
        pl.concat(rejects).sort("source_line", maintain_order=True) if rejects else pl.DataFrame(),
        account.to_dict(),
        blocks,
    )


def _check(case: GoldenCase, monkeypatch: pytest.MonkeyPatch, block_bytes: int | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parts = Path(tmp)
        job = _job(case, parts)
        serial = _run(job, parts / "serial", 1)
        size = case.input.stat().st_size
        block = block_bytes if block_bytes is not None else max(32, size // 4)
        monkeypatch.setattr(reader_module, "READ_BYTES", max(16, block // 2))
        chunk_lines = 2 if block_bytes is not None else serial.account["lines_read"] // 4
        monkeypatch.setattr(chunks, "CHUNK_LINES", max(2, chunk_lines))
        parallel = _run(job, parts / "parallel", 2, block)
    if serial.account["lines_read"] > 2 and size > 2 * block:
        assert parallel.blocks > 1, "the input was not cut into several blocks"
    assert parallel.account == serial.account
    assert_frame_equal(parallel.events, serial.events)
    assert_frame_equal(parallel.rejects, serial.rejects)


@pytest.mark.parametrize("case", _params(FAST, strict=False))
def test_block_parallel_equals_serial(case: GoldenCase, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(case, monkeypatch, None)


@pytest.mark.slow
@pytest.mark.parametrize("case", _params(CASES, strict=True))
def test_block_parallel_equals_serial_in_tiny_blocks(
    case: GoldenCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(case, monkeypatch, 48)


def test_ordered_keeps_the_order_of_tasks_whatever_their_speed() -> None:
    def slow(value: int) -> int:
        time.sleep(0.02 if value % 3 == 0 else 0.0)
        return value

    tasks = [Task(partial(slow, v), heavy=v % 4 != 0) for v in range(20)]
    with BlockPool(3) as pool:
        assert list(pool.ordered(tasks)) == list(range(20))
    with BlockPool(1) as pool:
        assert not pool.parallel
        assert list(pool.ordered(tasks)) == list(range(20))


def test_ordered_bounds_the_tasks_in_flight() -> None:
    running = 0
    most = 0
    made = 0
    lock = threading.Lock()

    def work() -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return 1

    def tasks() -> Iterator[Task[int]]:
        nonlocal made
        for _ in range(12):
            made += 1
            yield Task(work)

    with BlockPool(2, ahead=2) as pool:
        taken = 0
        for _ in pool.ordered(tasks()):
            taken += 1
            assert made - taken <= 2  # the reader never runs more than `ahead` blocks ahead
    assert taken == 12 and most <= 2


def test_ordered_raises_a_task_error_at_its_place() -> None:
    def boom() -> int:
        raise RuntimeError("parser bug")

    tasks = [Task(lambda: 1), Task(boom), Task(lambda: 3)]
    seen: list[int] = []
    with BlockPool(2) as pool, pytest.raises(RuntimeError, match="parser bug"):
        for value in pool.ordered(tasks):
            seen.append(value)
    assert seen == [1]
