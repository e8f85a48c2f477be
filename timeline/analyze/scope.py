"""Window and scope: the time range, the requests, the failing share, the layers and sources."""

from __future__ import annotations

import math
from typing import Any, Final

import polars as pl

from timeline.analyze.evidence import iso

MAX_BUCKETS: Final = 720


def bucket_minutes(timeline: pl.DataFrame) -> int:
    """Width of a time bucket: 1 minute, widened so that the window has at most 720 buckets."""
    span = timeline.select(
        (pl.col("ts").max() - pl.col("ts").min()).dt.total_seconds(fractional=True)
    ).item()
    if span is None:
        return 1
    return max(1, math.ceil((float(span) / 60.0 + 1) / MAX_BUCKETS))


def bucket(column: str, width: int) -> pl.Expr:
    """Truncate a timestamp column to its bucket (named ``minute``)."""
    return pl.col(column).dt.truncate(f"{width}m").alias("minute")


def scope(timeline: pl.DataFrame, requests: pl.DataFrame, failing: pl.Series) -> dict[str, Any]:
    """The window and scope section."""
    ts = timeline["ts"].drop_nulls()
    n_fail = int(failing.sum())
    layers = (
        timeline.group_by("layer").agg(pl.len().alias("events")).sort("layer").to_dicts()
        if timeline.height
        else []
    )
    sources = (
        timeline.group_by("source_file", "parser", "layer")
        .agg(pl.len().alias("events"))
        .sort("source_file", "layer")
        .to_dicts()
    )
    return {
        "start": iso(ts.min()) if len(ts) else None,
        "end": iso(ts.max()) if len(ts) else None,
        "events": timeline.height,
        "requests": requests.height,
        "failing_requests": n_fail,
        "failing_share": round(n_fail / requests.height, 4) if requests.height else 0.0,
        "layers": layers,
        "sources": sources,
    }
