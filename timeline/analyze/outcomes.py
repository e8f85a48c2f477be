"""Outcomes per time bucket and layer: errors, blocks by category, empty retrievals, latency, tokens."""

from __future__ import annotations

from typing import Any

import polars as pl

from timeline.analyze.evidence import iso
from timeline.analyze.load import collect
from timeline.analyze.quantiles import EXACT, Pct, Percentiles, aggregate
from timeline.analyze.scope import bucket
from timeline.correlation.requests import docs_returned


def _latency(col: str = "duration_ms") -> list[Pct]:
    return [Pct(col, 0.5, "p50_ms"), Pct(col, 0.95, "p95_ms"), Pct(col, 0.99, "p99_ms")]


def _records(query: pl.LazyFrame | pl.DataFrame) -> list[dict[str, Any]]:
    frame = collect(query) if isinstance(query, pl.LazyFrame) else query
    out = []
    for row in frame.sort("minute").iter_rows(named=True):
        row["minute"] = iso(row["minute"])
        out.append(row)
    return out


def _layer(timeline: pl.LazyFrame, layer: str, width: int) -> pl.LazyFrame:
    return timeline.filter((pl.col("layer") == layer) & pl.col("ts").is_not_null()).with_columns(
        bucket("ts", width)
    )


def requests_series(
    series: pl.DataFrame, requests: pl.LazyFrame, width: int, how: Percentiles = EXACT
) -> list[dict[str, Any]]:
    """Requests, failing requests and their share, request latency, per bucket."""
    timed = requests.drop_nulls("start").with_columns(bucket("start", width))
    lat = collect(aggregate(timed, ["minute"], _latency(), how))
    joined = series.join(lat, on="minute", how="left").with_columns(
        pl.col("failing_share").round(4)
    )
    return _records(joined)


def failure_reasons(requests: pl.LazyFrame, width: int) -> list[dict[str, Any]]:
    """Failing requests per bucket and failure reason (``requests`` carries ``failing``); like
    the requests series, a request without a time is in no bucket."""
    frame = (
        requests.filter(pl.col("failing") & pl.col("start").is_not_null())
        .group_by(
            bucket("start", width),
            pl.col("failure_reason").fill_null("predicate"),
        )
        .agg(pl.len().alias("requests"))
        .sort("minute", "failure_reason")
    )
    return _records(frame)


def gateway(timeline: pl.LazyFrame, width: int, how: Percentiles = EXACT) -> list[dict[str, Any]]:
    """Gateway records, 4xx, 5xx and latency per bucket."""
    frame = aggregate(
        _layer(timeline, "gateway", width).select("minute", "status_code", "duration_ms"),
        ["minute"],
        [
            pl.len().alias("events"),
            pl.col("status_code").is_between(400, 499).sum().alias("status_4xx"),
            (pl.col("status_code") >= 500).sum().alias("status_5xx"),
            *_latency(),
        ],
        how,
    )
    return _records(frame)


def policy(timeline: pl.LazyFrame, width: int, how: Percentiles = EXACT) -> list[dict[str, Any]]:
    """Policy checks, blocks and flags per bucket, stage and policy."""
    frame = aggregate(
        _layer(timeline, "policy", width).select(
            "minute", pl.col("policy_stage").fill_null("?").alias("stage"), "verdict", "duration_ms"
        ),
        ["minute", "stage"],
        [
            pl.len().alias("checks"),
            (pl.col("verdict") == "block").sum().alias("blocks"),
            (pl.col("verdict") == "flag").sum().alias("flags"),
            *_latency(),
        ],
        how,
    )
    return _records(frame.sort("minute", "stage"))


def block_categories(timeline: pl.LazyFrame, width: int) -> list[dict[str, Any]]:
    """Policy blocks per bucket and category (a block without categories counts as 'none')."""
    blocks = _layer(timeline, "policy", width).filter(pl.col("verdict") == "block")
    frame = (
        blocks.with_columns(
            pl.when(pl.col("categories").list.len() > 0)
            .then(pl.col("categories"))
            .otherwise(pl.lit(["none"]))
            .alias("category")
        )
        .explode("category")
        .group_by("minute", "category")
        .agg(pl.len().alias("blocks"))
        .sort("minute", "category")
    )
    return _records(frame)


def retrieval(timeline: pl.LazyFrame, width: int, how: Percentiles = EXACT) -> list[dict[str, Any]]:
    """Retrieval queries, empty results, documents returned and latency per bucket."""
    frame = (
        _layer(timeline, "retrieval", width)
        .filter(pl.col("event_type") == "retrieval.query")
        .select("minute", docs_returned().alias("docs"), "duration_ms")
    )
    out = aggregate(
        frame,
        ["minute"],
        [
            pl.len().alias("queries"),
            (pl.col("docs") == 0).sum().alias("empty"),
            pl.col("docs").mean().round(2).alias("docs_mean"),
            *_latency(),
        ],
        how,
    )
    return _records(out)


def inference(timeline: pl.LazyFrame, width: int, how: Percentiles = EXACT) -> list[dict[str, Any]]:
    """Model calls, errors, time to first token, latency and tokens per bucket."""
    frame = (
        _layer(timeline, "inference", width)
        .filter(pl.col("event_type").is_in(["inference.response", "inference.error"]))
        .select("minute", "status", "ttft_ms", "duration_ms", "input_tokens", "output_tokens")
    )
    out = aggregate(
        frame,
        ["minute"],
        [
            pl.len().alias("calls"),
            pl.col("status").is_in(["error", "timeout"]).sum().alias("errors"),
            Pct("ttft_ms", 0.5, "ttft_p50_ms"),
            Pct("ttft_ms", 0.95, "ttft_p95_ms"),
            *_latency(),
            pl.col("input_tokens").sum().alias("input_tokens"),
            pl.col("output_tokens").sum().alias("output_tokens"),
            pl.col("input_tokens").max().alias("input_tokens_max"),
        ],
        how,
    )
    return _records(out)


def counted(timeline: pl.LazyFrame, layer: str, column: str, width: int) -> list[dict[str, Any]]:
    """Events of ``layer`` per bucket and value of ``column`` (e.g. error_type, finish_reason)."""
    frame = (
        _layer(timeline, layer, width)
        .filter(pl.col(column).is_not_null())
        .group_by("minute", pl.col(column).cast(pl.String).alias("value"))
        .agg(pl.len().alias("events"))
        .sort("minute", "value")
    )
    return _records(frame)


def outcomes(
    timeline: pl.LazyFrame,
    requests: pl.LazyFrame,
    series: pl.DataFrame,
    width: int,
    how: Percentiles = EXACT,
) -> dict[str, Any]:
    """The outcomes section: one list of per-bucket records per layer and measure. With
    approximate percentiles (``how``), ``percentiles`` says so and gives the error bound."""
    out: dict[str, Any] = {
        "bucket_minutes": width,
        "requests": requests_series(series, requests, width, how),
        "failure_reasons": failure_reasons(requests, width),
        "gateway": gateway(timeline, width, how),
        "policy": policy(timeline, width, how),
        "policy_block_categories": block_categories(timeline, width),
        "retrieval": retrieval(timeline, width, how),
        "inference": inference(timeline, width, how),
        "inference_error_types": counted(timeline, "inference", "error_type", width),
        "finish_reasons": counted(timeline, "inference", "finish_reason", width),
    }
    if how.approximate:
        out["percentiles"] = how.describe()
    return out
