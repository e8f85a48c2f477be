"""The four slices of a model-behaviour postmortem: prompt, retrieval, model, policy.

Each slice gathers its own change points, the failing / other counts of each of its values, its
suspects, and a few totals; the gateway is the envelope of every request and appears in all.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from timeline.analyze.outcomes import docs_returned

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


def _totals(timeline: pl.DataFrame, name: str) -> dict[str, Any]:
    inf = timeline.filter(pl.col("event_type").is_in(["inference.response", "inference.error"]))
    if name == "prompt":
        return {
            "model_calls": inf.height,
            "input_tokens_max": inf["input_tokens"].max(),
            "input_tokens_mean": _r(inf["input_tokens"].mean()),
            "context_overflows": int(inf["error_type"].fill_null("").str.contains("context").sum()),
            "finish_length": int((inf["finish_reason"] == "length").sum()),
        }
    if name == "retrieval":
        ret = timeline.filter(pl.col("event_type") == "retrieval.query").with_columns(
            docs_returned().alias("docs")
        )
        return {
            "queries": ret.height,
            "empty_results": int((ret["docs"] == 0).sum()),
            "docs_mean": _r(ret["docs"].mean()),
            "latency_p95_ms": _r(ret["duration_ms"].quantile(0.95, "linear")),
        }
    if name == "model":
        return {
            "model_calls": inf.height,
            "errors": int(inf["status"].is_in(["error", "timeout"]).sum()),
            "finish_reasons": _value_counts(inf, "finish_reason"),
            "error_types": _value_counts(inf, "error_type"),
            "latency_p95_ms": _r(inf["duration_ms"].quantile(0.95, "linear")),
            "ttft_p50_ms": _r(inf["ttft_ms"].quantile(0.5, "linear")),
        }
    pol = timeline.filter(pl.col("layer") == "policy")
    blocks = pol.filter(pl.col("verdict") == "block")
    return {
        "checks": pol.height,
        "verdicts": _value_counts(pol, "verdict"),
        "blocks_by_stage": _value_counts(blocks, "policy_stage"),
        "blocks_by_category": _value_counts(blocks.explode("categories"), "categories"),
    }


def _r(value: Any) -> Any:
    return round(value, 1) if isinstance(value, float) else value


def _value_counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    counts = (
        frame.filter(pl.col(column).is_not_null())
        .group_by(pl.col(column).cast(pl.String))
        .len()
        .sort("len", column, descending=[True, False])
        .head(20)
    )
    return {str(k): int(v) for k, v in counts.iter_rows()}


def slices(
    timeline: pl.DataFrame,
    counts: pl.DataFrame,
    change_points: list[dict[str, Any]],
    suspects: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One entry per slice: fields, change points, per-value counts, suspects and totals."""
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
                "totals": _totals(timeline, name),
            }
        )
    return out
