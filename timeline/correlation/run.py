"""The correlation stage: the events -> timeline.parquet, requests.parquet, correlation.json."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa

from timeline.correlation.budget import resolve_budget
from timeline.correlation.concurrent import default_workers
from timeline.correlation.config import CorrelationConfig
from timeline.correlation.pipeline import Correlator, layout_for
from timeline.correlation.report import GLOBAL_TYPES, CorrelationReport
from timeline.correlation.requests import REQUEST_SCHEMA
from timeline.io.atomic import write_text_atomic
from timeline.io.eventsfile import EventsFile
from timeline.io.parquet import (
    ROW_GROUP_ROWS,
    polars_schema_to_arrow,
    read_events,
    write_tables,
)
from timeline.layout import CORRELATE_PREFIX, CORRELATION, EVENTS, REQUESTS, TIMELINE
from timeline.schema import ARROW_SCHEMA, conform, to_arrow

__all__ = [
    "GLOBAL_TYPES",
    "CorrelationReport",
    "correlate",
    "correlate_outdir",
]


def correlate_outdir(
    outdir: Path,
    events_file: str | EventsFile,
    config: CorrelationConfig,
    buckets: int = 0,
    memory_budget: int | str | None = None,
    workers: int = 0,
    on_stage: Callable[[str], None] | None = None,
) -> CorrelationReport:
    """Correlate the events (``outdir/events_file``, a Parquet table: ``events.parquet`` or an
    earlier ``timeline.parquet``; or the build's scratch file) into the timeline, the requests and
    the report in ``outdir`` (atomically: the three replace any earlier ones together).

    In memory when the working set fits ``memory_budget`` (bytes, or a size such as ``2G``;
    default: half of the memory available, at most 2 GiB), else out of core (see
    ``timeline.correlation.pipeline``): memory then holds a few partitions of events at a time.
    ``buckets`` sets the number of partitions (0: chosen by the budget); ``workers`` how many
    partitions are worked on at once (0: one per core, at most 4). The result depends on none of
    them. ``on_stage(name)``, when given, is called as each stage begins (``benchmarks`` times the
    stages with it) and once with ``"done"`` at the end.
    """
    mark = on_stage or _quiet
    events = (
        events_file
        if isinstance(events_file, EventsFile)
        else EventsFile.parquet(outdir / events_file)
    )
    metadata = events.metadata
    workers = workers or default_workers()
    layout = layout_for(events, buckets, resolve_budget(memory_budget), workers)
    with tempfile.TemporaryDirectory(prefix=CORRELATE_PREFIX, dir=outdir) as tmp:
        run = Correlator(events, Path(tmp), config, layout, workers)
        mark("1 ids exploded")
        edges = run.edges()
        mark("2 ids judged and numbered")
        rows, nodes, count = run.nodes(edges)
        mark("3 components")
        label = run.labels(rows, count)
        mark("4 primary ids")
        cids, primary = run.primaries(nodes, label)
        del nodes
        mark("5-6 events to requests, heuristics")
        requests_in, evidence = run.assign(rows, label, primary)
        del label, primary
        mark("7 clock skew, order in requests")
        assigned = run.order(requests_in, cids, evidence)
        cids.drop()
        mark("8 full events scattered by time")
        cuts = run.boundaries()
        ranges, inputs = run.scatter(assigned, cuts)
        report = run.report
        report.requests = run.components  # every component holds the events its ids came from
        meta = {**metadata, "correlation": report.to_dict()}
        # The three outputs are written in the scratch folder, then renamed into place together:
        # a crash never leaves a new timeline beside old requests.
        staged = Path(tmp)
        mark("9a timeline sorted and written")
        timeline = _groups(run.timeline(ranges), to_arrow)
        write_tables(staged / TIMELINE, ARROW_SCHEMA, timeline, meta)
        mark("9b requests summarised and written")
        requests = _groups(run.requests(inputs, cuts), pl.DataFrame.to_arrow)
        schema = polars_schema_to_arrow(REQUEST_SCHEMA)
        written = write_tables(staged / REQUESTS, schema, requests, meta)
        if written != report.requests:
            raise RuntimeError(
                f"internal error: {written} requests written, {report.requests} components found"
            )
        write_text_atomic(
            staged / CORRELATION, json.dumps(report.to_dict(), indent=2, default=str) + "\n"
        )
        for name in (TIMELINE, REQUESTS, CORRELATION):
            (staged / name).replace(outdir / name)
    mark("done")
    return report


def _quiet(name: str) -> None:
    """No stage hook."""


def _groups(
    frames: Iterator[pl.DataFrame], convert: Callable[[pl.DataFrame], pa.Table]
) -> Iterator[pa.Table]:
    """``frames`` as Arrow tables of exactly ``ROW_GROUP_ROWS`` rows (the last one shorter), their
    nested columns in one piece: the writer then makes the same row groups and pages (it pages
    nested columns by chunk), and so the same bytes, however the rows arrived (one partition or
    many, in memory or spilled). Frames are converted a row group at most at a time."""
    pending: list[pa.Table] = []
    count = 0
    for frame in frames:
        for start in range(0, frame.height, ROW_GROUP_ROWS):
            pending.append(convert(frame.slice(start, ROW_GROUP_ROWS)))
            count += pending[-1].num_rows
            while count >= ROW_GROUP_ROWS:
                merged = pa.concat_tables(pending)
                pending = [merged.slice(ROW_GROUP_ROWS)]
                count = pending[0].num_rows
                group = _whole(merged.slice(0, ROW_GROUP_ROWS))
                del merged
                yield group
                del group
        del frame  # nothing but ``pending`` holds the rows while the next frame is made
    if count:
        yield _whole(pa.concat_tables(pending))


def _whole(table: pa.Table) -> pa.Table:
    """``table`` with its nested columns (lists, maps, structs) each in one chunk."""
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if pa.types.is_nested(field.type) and column.num_chunks > 1:
            table = table.set_column(index, field, column.combine_chunks())
    return table


def correlate(
    events: pl.DataFrame,
    config: CorrelationConfig,
    buckets: int = 0,
    memory_budget: int | str | None = None,
    workers: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame, CorrelationReport]:
    """Correlate canonical ``events``: the ordered timeline, the requests and the report.

    The same code as ``correlate_outdir`` (through a temporary directory), so that the two can
    never disagree."""
    with tempfile.TemporaryDirectory(prefix="timeline-correlate-") as tmp:
        outdir = Path(tmp)
        write_tables(outdir / EVENTS, ARROW_SCHEMA, [to_arrow(conform(events))], {})
        report = correlate_outdir(outdir, EVENTS, config, buckets, memory_budget, workers)
        timeline = read_events(outdir / TIMELINE)
        requests = pl.read_parquet(outdir / REQUESTS)
    return timeline, requests, report
