"""The four slices of a model-behaviour postmortem: prompt, retrieval, model, policy.

Each slice gathers its own change points, the failing / other counts of each of its values, its
suspects, and a few totals; the gateway is the envelope of every request and appears in all.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from timeline.analyze.load import collect
from timeline.analyze.quantiles import EXACT, Pct, Percentiles, grouped
from timeline.correlation.requests import docs_returned

SLICES: Final[dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]] = {
    "prompt": (
        "inference",
        ("prompt_template", "prompt_template_version"),
        ("inference", "inference_error_types"),
    ),
    "retrieval": ("retrieval", ("index_name", "index_version", "embedding_model"), ("retrieval",)),
    "model": (
        "inference",
        ("model", "model_revision", "provider"),
        ("inference", "inference_error_types", "finish_reasons"),
    ),
    "policy": ("policy", ("policy_name", "policy_version"), ("policy", "policy_block_categories")),
}


def _totals(timeline: pl.LazyFrame, name: str, how: Percentiles = EXACT) -> dict[str, Any]:
    inf = timeline.filter(pl.col("event_type").is_in(["inference.response", "inference.error"]))
    if name == "prompt":
        row = _row(
            inf,
            pl.len().alias("model_calls"),
            pl.col("input_tokens").max().alias("input_tokens_max"),
            pl.col("input_tokens").mean().alias("input_tokens_mean"),
            pl.col("error_type").fill_null("").str.contains("context").sum().alias("overflows"),
            (pl.col("finish_reason") == "length").sum().alias("finish_length"),
        )
        return {
            "model_calls": row["model_calls"],
            "input_tokens_max": row["input_tokens_max"],
            "input_tokens_mean": _r(row["input_tokens_mean"]),
            "context_overflows": int(row["overflows"]),
            "finish_length": int(row["finish_length"]),
        }
    if name == "retrieval":
        ret = timeline.filter(pl.col("event_type") == "retrieval.query").select(
            docs_returned().alias("docs"), "duration_ms"
        )
        row = _row(
            ret,
            pl.len().alias("queries"),
            (pl.col("docs") == 0).sum().alias("empty"),
            pl.col("docs").mean().alias("docs_mean"),
            *_percentiles(ret, [Pct("duration_ms", 0.95, "p95")], how),
        )
        return {
            "queries": row["queries"],
            "empty_results": int(row["empty"]),
            "docs_mean": _r(row["docs_mean"]),
            "latency_p95_ms": _r(row["p95"]),
            **_note(how),
        }
    if name == "model":
        wanted = [Pct("duration_ms", 0.95, "p95"), Pct("ttft_ms", 0.5, "ttft_p50")]
        row = _row(
            inf,
            pl.len().alias("model_calls"),
            pl.col("status").is_in(["error", "timeout"]).sum().alias("errors"),
            *_percentiles(inf, wanted, how),
        )
        return {
            "model_calls": row["model_calls"],
            "errors": int(row["errors"]),
            "finish_reasons": _value_counts(inf, "finish_reason"),
            "error_types": _value_counts(inf, "error_type"),
            "latency_p95_ms": _r(row["p95"]),
            "ttft_p50_ms": _r(row["ttft_p50"]),
            **_note(how),
        }
    pol = timeline.filter(pl.col("layer") == "policy")
    blocks = pol.filter(pl.col("verdict") == "block")
    return {
        "checks": _row(pol, pl.len().alias("checks"))["checks"],
        "verdicts": _value_counts(pol, "verdict"),
        "blocks_by_stage": _value_counts(blocks, "policy_stage"),
        "blocks_by_category": _value_counts(
            blocks.select("categories").explode("categories"), "categories"
        ),
    }


def _percentiles(frame: pl.LazyFrame, wanted: list[Pct], how: Percentiles) -> list[pl.Expr]:
    """The percentiles as aggregations of :func:`_row`: exact ones, or literals holding the
    values read off the sketch (computed here, in their own streaming pass)."""
    if not how.approximate:
        return [p.exact() for p in wanted]
    values = grouped(frame, [], wanted, how).row(0, named=True)
    return [pl.lit(values[p.name], dtype=pl.Float64).alias(p.name) for p in wanted]


def _note(how: Percentiles) -> dict[str, Any]:
    """The totals' ``percentiles`` note when their percentiles are approximate."""
    return {"percentiles": how.describe()} if how.approximate else {}


def _row(frame: pl.LazyFrame, *exprs: pl.Expr) -> dict[str, Any]:
    """One aggregating pass over ``frame``: the values of ``exprs`` by name."""
    return collect(frame.select(*exprs)).row(0, named=True)


def _r(value: Any) -> Any:
    return round(value, 1) if isinstance(value, float) else value


def _value_counts(frame: pl.LazyFrame, column: str) -> dict[str, int]:
    counts = collect(
        frame.filter(pl.col(column).is_not_null())
        .group_by(pl.col(column).cast(pl.String))
        .len()
        .sort("len", column, descending=[True, False])
        .head(20)
    )
    return {str(k): int(v) for k, v in counts.iter_rows()}


def slices(
    timeline: pl.LazyFrame,
    counts: pl.DataFrame,
    change_points: list[dict[str, Any]],
    suspects: list[dict[str, Any]],
    how: Percentiles = EXACT,
) -> list[dict[str, Any]]:
    """One entry per slice: fields, change points, per-value counts, suspects and totals
    (``how``: exact or approximate percentiles)."""
    out = []
    for name, (layer, fields, series) in SLICES.items():
        wanted = set(fields)
        if name == "model":
            wanted |= {"deploy.change", "server.start"}
        values = counts.filter(pl.col("field").is_in(list(fields))).sort(
            "field", "failing_with", "value", descending=[False, True, False]
        )
        out.append(
            {
                "name": name,
                "layer": layer,
                "fields": list(fields),
                "outcome_series": list(series),
                "change_points": [p for p in change_points if p["field"] in wanted],
                "values": [
                    {
                        "field": r["field"],
                        "value": r["value"],
                        "failing_with": r["failing_with"],
                        "rest_with": r["rest_with"],
                        "lift": None if r["lift"] is None else round(r["lift"], 4),
                    }
                    for r in values.head(30).iter_rows(named=True)
                ],
                "suspects": [s for s in suspects if s["field"] in fields],
                "totals": _totals(timeline, name, how),
            }
        )
    return out
