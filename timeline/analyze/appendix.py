"""The postmortem appendix as one JSON-ready document (validated by docs/appendix-schema.json)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import polars as pl

from timeline.analyze.changes import change_log
from timeline.analyze.evidence import cite
from timeline.analyze.exemplars import exemplars
from timeline.analyze.failing import definition, with_failing
from timeline.analyze.features import feature_counts
from timeline.analyze.findings import findings
from timeline.analyze.impact import failure_modes, impact
from timeline.analyze.load import Outdir, collect, load_outdir
from timeline.analyze.outcomes import outcomes
from timeline.analyze.quality import data_quality, reproduce
from timeline.analyze.quantiles import APPROX_ROWS, percentiles_for
from timeline.analyze.ranking import RankContext, rank_values, rise_end, rise_start
from timeline.analyze.rise import assess_rise, failing_series, find_rise
from timeline.analyze.scope import Window, bucket_minutes, request_counts, scope, window
from timeline.analyze.series import candidate_series
from timeline.analyze.slices import slices
from timeline.analyze.suspects import (
    nearest_change_before,
    present_since,
    suspects,
    symptoms,
    value_counts,
)

APPENDIX_SCHEMA: Final = "ai-timeline-appendix/1"


@dataclass(frozen=True)
class AnalysisOptions:
    """Settings of one analysis."""

    failing: str | None = None
    # Timeline events above which percentiles come from the sketch (``analyze.quantiles``).
    approx_rows: int = APPROX_ROWS


def _rise_evidence(
    timeline: pl.LazyFrame, requests: pl.LazyFrame, rise: dict[str, Any] | None
) -> list[dict[str, str]]:
    if rise is None:
        return []
    after = (
        requests.filter(
            pl.col("failing")
            & (pl.col("start").dt.strftime("%Y-%m-%dT%H:%M:%SZ") >= rise["minute"])
        )
        .select("correlation_id", "start")
        .collect()
    )
    first = after.sort("start").head(3)["correlation_id"]
    events = (
        timeline.filter(
            pl.col("correlation_id").is_in(first.implode()) & (pl.col("layer") == "gateway")
        )
        .select("ts", "event_id", "source_file", "source_line")
        .collect()
        .sort("ts", "event_id")
    )
    return cite(events)


def analyze_outdir(outdir: Path, options: AnalysisOptions | None = None) -> dict[str, Any]:
    """Load ``outdir`` and analyze it."""
    return analyze(load_outdir(outdir), options or AnalysisOptions())


def _first_request(requests: pl.LazyFrame, extent: Window) -> Window:
    """The window from the first request's start (events before it, such as startup lines, stay
    in the timeline but do not open the window) to the last event."""
    first = collect(requests.select(pl.col("start").min())).item()
    if first is None or extent.start is None or first <= extent.start:
        return extent
    end = extent.end if extent.end is not None and extent.end >= first else first
    return Window(extent.events, first, end, (end - first).total_seconds())


def _rest_before(requests: pl.LazyFrame, rise_at: datetime | None) -> int:
    """Successful requests that started before the rise (every timed one without a rise)."""
    ok = ~pl.col("failing") & pl.col("start").is_not_null()
    if rise_at is not None:
        ok = ok & (pl.col("start") < pl.lit(rise_at, dtype=pl.Datetime("us", "UTC")))
    return int(collect(requests.select(ok.sum())).item() or 0)


def analyze(data: Outdir, options: AnalysisOptions) -> dict[str, Any]:
    """Every section of the appendix, as plain JSON-ready values.

    ``data.timeline`` and ``data.requests`` are read through lazy queries that aggregate in the
    scan; only the exemplar requests' events are materialized.
    """
    timeline, requests = data.timeline.lazy(), data.requests.lazy()
    requests = with_failing(requests, options.failing)
    extent = _first_request(requests, window(timeline))
    width = bucket_minutes(extent)
    how = percentiles_for(extent.events, options.approx_rows)
    n_requests, n_failing = request_counts(requests)
    series = failing_series(requests, width)
    tested = assess_rise(series)
    rise = find_rise(series)
    rise_at = rise_start(rise)
    spill = data.path if data.path.is_dir() else None
    features = feature_counts(timeline, requests, n_requests, spill_dir=spill, rise_at=rise_at)
    changes = change_log(timeline, width, extent, features)
    counts = value_counts(features, n_failing, n_requests)
    appeared = {
        (p["field"], p["value"]): p for p in changes["change_points"] if p["kind"] == "appeared"
    }
    context = RankContext(rise, rise_end(rise, width), _rest_before(requests, rise_at), appeared)
    ranked = rank_values(counts, n_failing, n_requests, context)
    tail = present_since(extent.end, extent.span_s, width)
    points = changes["change_points"]
    found = suspects(ranked, timeline, requests, points, rise, tail)
    logged = symptoms(ranked, timeline, requests, points, tail)
    modes = {(s["field"], s["value"]) for s in logged}
    for p in points:
        p["failure_mode"] = (p["field"], p["value"]) in modes
    nearest = nearest_change_before(points, rise, modes, width)
    candidates = [s for s in found if s["likely"]]
    section_scope = scope(timeline, extent, (n_requests, n_failing))
    quality = data_quality(data.manifest, data.correlation, data.rejects, timeline)
    top = candidates[0] if candidates else None
    chosen = exemplars(timeline, requests, top, rise)
    effects = impact(requests, rise, rise_at, extent.end, tail)
    failures = failure_modes(requests, logged)
    return {
        "schema": APPENDIX_SCHEMA,
        "outdir": str(data.path),
        "failing_definition": definition(options.failing),
        "findings": findings(
            section_scope,
            tested,
            nearest,
            found,
            quality,
            _rise_evidence(timeline, requests, rise),
            failures,
            tests=int((~ranked["symptom"]).sum()),
        ),
        "scope": section_scope,
        "rise": rise,
        "rise_test": tested,
        "nearest_change_before_rise": nearest,
        "changes": changes,
        "outcomes": outcomes(timeline, requests, series, width, how),
        "candidates_tested": int((~ranked["symptom"]).sum()),
        "likely_candidates": len(candidates),
        "suspects": found,
        "candidate_series": candidate_series(timeline, requests, candidates, width),
        "failure_modes": failures,
        "impact": effects,
        "exemplars": chosen,
        "slices": slices(timeline, counts, points, found, how),
        "data_quality": quality,
        "reproduce": reproduce(data.manifest, str(data.path)),
    }
