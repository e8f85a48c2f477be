"""Window and scope: the time range, the requests, the failing share, the layers and sources."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl

from timeline.analyze.evidence import iso
from timeline.analyze.load import collect

MAX_BUCKETS: Final = 720
UTC_US: Final = pl.Datetime("us", "UTC")
# The earliest time a bucket may start at (the earliest Python datetime).
EARLIEST: Final = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The timeline's extent: events, first and last timestamp, and the span in seconds."""

    events: int
    start: datetime | None
    end: datetime | None
    span_s: float | None


def window(timeline: pl.LazyFrame) -> Window:
    """One aggregating pass over ``ts``: how many events, when they start and end."""
    row = collect(
        timeline.select(
            pl.len().alias("events"),
            pl.col("ts").min().alias("start"),
            pl.col("ts").max().alias("end"),
            (pl.col("ts").max() - pl.col("ts").min())
            .dt.total_seconds(fractional=True)
            .alias("span"),
        )
    ).row(0, named=True)
    return Window(int(row["events"]), row["start"], row["end"], row["span"])


def bucket_minutes(extent: Window) -> int:
    """Width of a time bucket: 1 minute, widened so that the window has at most 720 buckets."""
    if extent.span_s is None:
        return 1
    return max(1, math.ceil((float(extent.span_s) / 60.0 + 1) / MAX_BUCKETS))


def truncate(expr: pl.Expr, width: int) -> pl.Expr:
    """Truncate timestamps to buckets of ``width`` minutes (counted from the Unix epoch), never
    before year 1: a bucket of a far-past time would otherwise start where Python (and so the
    appendix) cannot follow."""
    return expr.dt.truncate(f"{width}m").clip(lower_bound=pl.lit(EARLIEST, dtype=UTC_US))


def bucket(column: str, width: int) -> pl.Expr:
    """Truncate a timestamp column to its bucket (named ``minute``); see :func:`truncate`."""
    return truncate(pl.col(column), width).alias("minute")


def request_counts(requests: pl.LazyFrame) -> tuple[int, int]:
    """Requests and failing requests (``requests`` carries ``failing``)."""
    row = collect(
        requests.select(pl.len().alias("n"), pl.col("failing").sum().alias("failing"))
    ).row(0)
    return int(row[0]), int(row[1] or 0)


def scope(timeline: pl.LazyFrame, extent: Window, counts: tuple[int, int]) -> dict[str, Any]:
    """The window and scope section."""
    n_requests, n_fail = counts
    layers = (
        collect(timeline.group_by("layer").agg(pl.len().alias("events"))).sort("layer").to_dicts()
        if extent.events
        else []
    )
    sources = (
        collect(timeline.group_by("source_file", "parser", "layer").agg(pl.len().alias("events")))
        .sort("source_file", "layer")
        .to_dicts()
    )
    return {
        "start": iso(extent.start),
        "end": iso(extent.end),
        "events": extent.events,
        "requests": n_requests,
        "failing_requests": n_fail,
        "failing_share": round(n_fail / n_requests, 4) if n_requests else 0.0,
        "layers": layers,
        "sources": sources,
    }
