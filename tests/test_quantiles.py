"""Approximate percentiles (``timeline.analyze.quantiles``): the sketch's error bound, odd values,
the switch at the row threshold and the appendix's labels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.analyze.appendix import AnalysisOptions, analyze
from timeline.analyze.load import Outdir
from timeline.analyze.quantiles import (
    APPROX_ROWS,
    EXACT,
    RELATIVE_ERROR,
    Pct,
    Percentiles,
    aggregate,
    grouped,
    percentiles_for,
)
from timeline.correlation.requests import requests_table
from timeline.export.html import render_html
from timeline.export.markdown import render_markdown
from timeline.export.text import approximate, percentile_note, shown_totals
from timeline.schema import conform

SKETCH = Percentiles(approximate=True)
QS = (0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 1.0)


def _both(
    values: list[float | None], qs: tuple[float, ...] = QS
) -> tuple[dict[str, Any], dict[str, Any]]:
    frame = pl.LazyFrame({"x": values}, schema={"x": pl.Float64})
    wanted = [Pct("x", q, f"q{i}") for i, q in enumerate(qs)]
    exact = grouped(frame, [], wanted, EXACT).row(0, named=True)
    approx = grouped(frame, [], wanted, SKETCH).row(0, named=True)
    return exact, approx


def _within(estimate: float, exact: float, alpha: float = RELATIVE_ERROR) -> bool:
    return abs(estimate - exact) <= alpha * abs(exact) * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=200,
    ),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_sketch_is_within_the_bound_of_the_exact_quantile(values: list[float], q: float) -> None:
    exact, approx = _both(list(values), (q,))
    assert _within(approx["q0"], exact["q0"]), (approx, exact)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.floats(min_value=0.001, max_value=1e6)),
        min_size=1,
        max_size=200,
    )
)
def test_per_group_percentiles_keep_the_bound(rows: list[tuple[int, float]]) -> None:
    frame = pl.LazyFrame(
        {"g": [g for g, _ in rows], "x": [x for _, x in rows]},
        schema={"g": pl.Int64, "x": pl.Float64},
    )
    parts: list[pl.Expr | Pct] = [pl.len().alias("n"), Pct("x", 0.5, "p50"), Pct("x", 0.95, "p95")]
    exact = aggregate(frame, ["g"], parts, EXACT, digits=None).collect().sort("g")
    approx = aggregate(frame, ["g"], parts, SKETCH, digits=None).collect().sort("g")
    assert exact.columns == approx.columns == ["g", "n", "p50", "p95"]
    assert exact["n"].to_list() == approx["n"].to_list()
    for name in ("p50", "p95"):
        for e, a in zip(exact[name], approx[name], strict=True):
            assert _within(a, e), (name, a, e)


def test_zero_negative_and_non_finite_values() -> None:
    values = [0.0, -1.0, float("nan"), float("inf"), None, 5.0, -250.0, 0.0]
    exact, approx = _both(values)
    for key, e in exact.items():
        a = approx[key]
        if e != e:  # NaN sorts last, as in polars' exact quantile
            assert a != a
        elif e in (float("inf"), float("-inf"), 0.0):
            assert a == e
        else:
            assert _within(a, e), (key, a, e)


def test_no_values_is_null_not_an_error() -> None:
    exact, approx = _both([None, None])
    assert set(exact.values()) == set(approx.values()) == {None}
    empty = pl.LazyFrame({"g": [1], "x": [None]}, schema={"g": pl.Int64, "x": pl.Float64})
    out = aggregate(empty, ["g"], [pl.len().alias("n"), Pct("x", 0.5, "p")], SKETCH).collect()
    assert out.rows() == [(1, 1, None)]


def test_the_threshold_switches_to_the_sketch() -> None:
    assert not percentiles_for(APPROX_ROWS).approximate
    assert percentiles_for(APPROX_ROWS + 1).approximate
    assert percentiles_for(10, threshold=5).describe() == {
        "method": "sketch",
        "relative_error": RELATIVE_ERROR,
        "threshold_events": APPROX_ROWS,
    }
    with pytest.raises(ValueError):
        grouped(pl.LazyFrame({"x": [1.0]}), [], [Pct("x", 0.5, "p")], Percentiles(True, 0.0))


def test_labels_of_approximate_figures() -> None:
    note = SKETCH.describe()
    assert approximate(812.3, 0.01) == "≈ 812.3 (±1 %)"
    assert approximate(812.3, 0.01, with_bound=False) == "≈ 812.3"
    assert approximate(812.3, None) == "812.3"
    assert percentile_note(EXACT.describe()) is None
    assert "±1 %" in (percentile_note(note) or "")
    totals = {"queries": 3, "latency_p95_ms": 57.4, "percentiles": note}
    assert shown_totals(totals) == {"queries": 3, "latency_p95_ms": "≈ 57.4 (±1 %)"}
    assert shown_totals({"latency_p95_ms": 57.4}) == {"latency_p95_ms": 57.4}


def _outdir(tmp_path: Path) -> Outdir:
    """A small correlated timeline in memory: 40 requests through gateway, retrieval and model."""
    rows = []
    start = datetime(2025, 3, 2, 10, 0, tzinfo=UTC)
    for r in range(40):
        at = start + timedelta(seconds=7 * r)
        for seq, (layer, kind, ms) in enumerate(
            (
                ("gateway", "http.request", 900.0 + 13 * r),
                ("retrieval", "retrieval.query", 20.0 + r),
                ("inference", "inference.response", 700.0 + 11 * r),
            )
        ):
            rows.append(
                {
                    "event_id": f"e:{r}:{seq}",
                    "source_file": f"{layer}.log",
                    "source_line": r + 1,
                    "parser": layer,
                    "ts": at + timedelta(milliseconds=seq),
                    "duration_ms": ms,
                    "layer": layer,
                    "event_type": kind,
                    "status": "error" if layer == "inference" and r % 9 == 0 else "ok",
                    "model": "m-1" if r < 20 else "m-2",
                    "docs_returned": 3 if layer == "retrieval" else None,
                    "ttft_ms": 50.0 + r if layer == "inference" else None,
                    "correlation_id": f"r{r:03d}",
                    "correlation_method": "id",
                    "seq": seq,
                    "offset_ms": float(seq),
                }
            )
    timeline = conform(pl.DataFrame(rows).with_columns(pl.col("ts").dt.cast_time_unit("us")))
    requests = requests_table(timeline)
    return Outdir(tmp_path, timeline, requests, pl.DataFrame(), {}, {})


def test_appendix_is_exact_below_the_threshold_and_labelled_above(tmp_path: Path) -> None:
    from tests.test_report_schema import SCHEMA, validate

    data = _outdir(tmp_path)
    exact = analyze(data, AnalysisOptions())
    approx = analyze(data, AnalysisOptions(approx_rows=100))
    assert exact == analyze(data, AnalysisOptions(approx_rows=120))  # 120 events: exact
    assert "percentiles" not in exact["outcomes"]
    assert all("percentiles" not in s["totals"] for s in exact["slices"])
    assert approx["outcomes"]["percentiles"]["method"] == "sketch"
    model = next(s for s in approx["slices"] if s["name"] == "model")
    assert model["totals"]["percentiles"]["relative_error"] == RELATIVE_ERROR
    # the same rows and counts; percentiles within the bound (plus rounding to 0.1 ms)
    for layer in ("requests", "gateway", "policy", "retrieval", "inference"):
        rows_e, rows_a = exact["outcomes"][layer], approx["outcomes"][layer]
        assert [list(r) for r in rows_e] == [list(r) for r in rows_a]
        for e, a in zip(rows_e, rows_a, strict=True):
            for key, value in e.items():
                if key.endswith("_ms") and value is not None:
                    assert abs(a[key] - value) <= RELATIVE_ERROR * abs(value) + 0.05 + 1e-9
                else:
                    assert a[key] == value, (layer, key)
    assert validate(json.loads(json.dumps(approx, default=str)), SCHEMA) == []
    md = render_markdown(approx)
    assert "are approximate" in md and "±1 %" in md and "≈ " in md
    assert "≈" not in render_markdown(exact)
    html = render_html(approx)
    assert "are approximate" in html and "approximate ±1 %" in html
    assert "are approximate" not in render_html(exact)
