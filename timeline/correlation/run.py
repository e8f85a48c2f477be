"""The correlation stage: events.parquet -> timeline.parquet, requests.parquet, correlation.json."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import polars as pl
import pyarrow as pa

from timeline.correlation.config import CorrelationConfig
from timeline.correlation.pipeline import Correlator, layout_for
from timeline.correlation.report import GLOBAL_TYPES, CorrelationReport
from timeline.correlation.requests import REQUEST_SCHEMA
from timeline.io.atomic import write_text_atomic
from timeline.io.parquet import polars_schema_to_arrow, read_events, read_metadata, write_tables
from timeline.layout import CORRELATE_PREFIX, CORRELATION, EVENTS, REQUESTS, TIMELINE
from timeline.schema import ARROW_SCHEMA, conform, to_arrow

CHUNK_ROWS: Final = 256 * 1024

__all__ = [
    "GLOBAL_TYPES",
    "CorrelationReport",
    "correlate",
    "correlate_outdir",
]


def correlate_outdir(
    outdir: Path, events_file: str, config: CorrelationConfig, buckets: int = 0
) -> CorrelationReport:
    """Correlate ``outdir/events_file`` into the timeline, the requests and the report (atomically).

    Out of core (see ``timeline.correlation.pipeline``): memory holds one partition of events at a
    time; ``buckets`` sets the number of partitions (0: one per ~250k events). The result does not
    depend on it.
    """
    events_path = outdir / events_file
    metadata = read_metadata(events_path)
    layout = layout_for(events_path, buckets)
    with tempfile.TemporaryDirectory(prefix=CORRELATE_PREFIX, dir=outdir) as tmp:
        run = Correlator(events_path, Path(tmp), config, layout)
        edges = run.edges()
        rows, nodes, count = run.nodes(edges)
        label = run.labels(rows, count)
        cids, primary = run.primaries(nodes, label)
        del nodes
        requests_in = run.assign(rows, label, primary)
        del label, primary
        assigned = run.order(requests_in, cids)
        cids.drop()
        cuts = run.boundaries()
        ranges, inputs = run.scatter(assigned, cuts)
        report = run.report
        report.requests = run.components  # every component holds the events its ids came from
        meta = {**metadata, "correlation": report.to_dict()}
        # The three outputs are written in the scratch folder, then renamed into place together:
        # a crash never leaves a new timeline beside old requests.
        staged = Path(tmp)
        write_tables(staged / TIMELINE, ARROW_SCHEMA, _arrow(run.timeline(ranges)), meta)
        requests = (t.to_arrow() for t in run.requests(inputs, cuts))
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
    return report


def _arrow(frames: Iterator[pl.DataFrame]) -> Iterator[pa.Table]:
    for frame in frames:
        for start in range(0, frame.height, CHUNK_ROWS):
            yield to_arrow(frame.slice(start, CHUNK_ROWS))


def correlate(
    events: pl.DataFrame, config: CorrelationConfig, buckets: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame, CorrelationReport]:
    """Correlate canonical ``events``: the ordered timeline, the requests and the report.

    The same code as ``correlate_outdir`` (through a temporary directory), so that the two can
    never disagree."""
    with tempfile.TemporaryDirectory(prefix="timeline-correlate-") as tmp:
        outdir = Path(tmp)
        write_tables(outdir / EVENTS, ARROW_SCHEMA, [to_arrow(conform(events))], {})
        report = correlate_outdir(outdir, EVENTS, config, buckets)
        timeline = read_events(outdir / TIMELINE)
        requests = pl.read_parquet(outdir / REQUESTS)
    return timeline, requests, report
