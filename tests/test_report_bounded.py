"""Large inputs give a report of bounded size: sampled exemplars, capped lists, wide buckets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from timeline.analyze.appendix import AnalysisOptions, analyze
from timeline.analyze.load import Outdir
from timeline.correlation.requests import requests_table
from timeline.schema import conform

N = 40_000


def _timeline() -> pl.DataFrame:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    i = pl.int_range(0, N, eager=True)
    ts = pl.Series(
        [start + timedelta(seconds=5 * k) for k in range(N)], dtype=pl.Datetime("us", "UTC")
    )
    late = i >= N // 2
    frame = pl.DataFrame(
        {
            "event_id": "abc:" + i.cast(pl.String) + ":0",
            "source_file": "gw.log",
            "source_line": i + 1,
            "ts": ts,
            "ts_source": ts,
            "layer": "inference",
            "event_type": "inference.response",
            "status": pl.Series(["ok"] * N).zip_with((i % 7 == 0) & late, pl.Series(["error"] * N)),
            "model_revision": pl.Series(["fp_old"] * N).zip_with(late, pl.Series(["fp_new"] * N)),
            "http_route": "/v1/chat/" + (i % 5000).cast(pl.String),
            "correlation_id": "r-" + i.cast(pl.String),
            "correlation_method": "id",
            "correlation_confidence": 1.0,
            "seq": pl.Series([0] * N),
            "offset_ms": 0.0,
            "clock_offset_ms": 0.0,
        }
    )
    return conform(frame)


def test_report_size_is_bounded() -> None:
    timeline = _timeline()
    data = Outdir(Path("big"), timeline, requests_table(timeline), pl.DataFrame(), {}, {})
    doc = analyze(data, AnalysisOptions())
    assert doc["outcomes"]["bucket_minutes"] > 1
    assert len(doc["outcomes"]["requests"]) <= 720
    assert len(doc["exemplars"]) <= 4 and len(doc["suspects"]) <= 10
    assert doc["suspects"][0]["value"] == "fp_new"
    assert all(len(f["values"]) <= 10 for f in doc["changes"]["fields"])
    assert len(json.dumps(doc, default=str)) < 2_000_000
