"""The postmortem appendix as one JSON-ready document (validated by docs/appendix-schema.json)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

from timeline.analyze.changes import change_log
from timeline.analyze.evidence import cite
from timeline.analyze.exemplars import exemplars
from timeline.analyze.failing import definition, with_failing
from timeline.analyze.features import feature_counts
from timeline.analyze.findings import findings
from timeline.analyze.load import Outdir, load_outdir
from timeline.analyze.outcomes import outcomes
from timeline.analyze.quality import data_quality, reproduce
from timeline.analyze.rise import failing_series, find_rise
from timeline.analyze.scope import bucket_minutes, request_counts, scope, window
from timeline.analyze.slices import slices
from timeline.analyze.suspects import nearest_change_before, suspects, value_counts

APPENDIX_SCHEMA: Final = "ai-timeline-appendix/1"


@dataclass(frozen=True)
class AnalysisOptions:
    """Settings of one analysis."""

    failing: str | None = None


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


def analyze(data: Outdir, options: AnalysisOptions) -> dict[str, Any]:
    """Every section of the appendix, as plain JSON-ready values.

    ``data.timeline`` and ``data.requests`` are read through lazy queries that aggregate in the
    scan; only the exemplar requests' events are materialized.
    """
    timeline, requests = data.timeline.lazy(), data.requests.lazy()
    requests = with_failing(requests, options.failing)
    extent = window(timeline)
    width = bucket_minutes(extent)
    n_requests, n_failing = request_counts(requests)
    spill = data.path if data.path.is_dir() else None
    features = feature_counts(timeline, requests, n_requests, spill_dir=spill)
    changes = change_log(timeline, width, extent, features)
    series = failing_series(requests, width)
    rise = find_rise(series)
    counts = value_counts(features, n_failing, n_requests)
    found = suspects(counts, timeline, requests, changes["change_points"], rise)
    nearest = nearest_change_before(changes["change_points"], rise)
    section_scope = scope(timeline, extent, (n_requests, n_failing))
    quality = data_quality(data.manifest, data.correlation, data.rejects, timeline)
    top = found[0] if found else None
    return {
        "schema": APPENDIX_SCHEMA,
        "outdir": str(data.path),
        "failing_definition": definition(options.failing),
        "findings": findings(
            section_scope,
            rise,
            nearest,
            found,
            quality,
            _rise_evidence(timeline, requests, rise),
        ),
        "scope": section_scope,
        "rise": rise,
        "nearest_change_before_rise": nearest,
        "changes": changes,
        "outcomes": outcomes(timeline, requests, series, width),
        "suspects": found,
        "exemplars": exemplars(timeline, requests, top, rise),
        "slices": slices(timeline, counts, changes["change_points"], found),
        "data_quality": quality,
        "reproduce": reproduce(data.manifest, str(data.path)),
    }
