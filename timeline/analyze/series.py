"""Failing share over time of the requests carrying each leading candidate value."""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from timeline.analyze.evidence import iso
from timeline.analyze.features import carriers
from timeline.analyze.load import collect
from timeline.analyze.scope import bucket

MAX_SERIES: Final = 4


def candidate_series(
    timeline: pl.LazyFrame,
    requests: pl.LazyFrame,
    candidates: list[dict[str, Any]],
    width: int,
    limit: int = MAX_SERIES,
) -> list[dict[str, Any]]:
    """Per leading candidate (field, value): requests carrying it and failing ones per bucket of
    request start. ``requests`` carries ``failing``; one lazy scan per candidate."""
    out = []
    for c in candidates[:limit]:
        ids = carriers(timeline, c["field"], str(c["value"])).select("correlation_id").unique()
        frame = collect(
            requests.join(ids, on="correlation_id", how="semi")
            .select(bucket("start", width), "failing")
            .drop_nulls("minute")
            .group_by("minute")
            .agg(pl.len().alias("requests"), pl.col("failing").sum().alias("failing"))
            .sort("minute")
        )
        points = [
            {"minute": iso(r["minute"]), "requests": r["requests"], "failing": r["failing"]}
            for r in frame.iter_rows(named=True)
        ]
        out.append({"field": c["field"], "value": c["value"], "points": points})
    return out
