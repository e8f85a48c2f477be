"""Total, deterministic order: time, then causal layer rank, then source position.

Causal rank of an event within a request: gateway request 0 < policy input 1 < retrieval 2 <
inference 3 < policy output 4 < gateway response 5 (other events rank with inference).
"""

from __future__ import annotations

import polars as pl

from timeline.correlation.spans import slack_ms

SORT_KEYS = [
    "_ts_key",
    "_rank",
    "correlation_id",
    "layer",
    "event_type",
    "source_file",
    "source_line",
    "_sub",
]


def causal_rank() -> pl.Expr:
    """The rank of each event in the causal chain of a request."""
    layer = pl.col("layer")
    stage = pl.col("policy_stage")
    etype = pl.col("event_type").fill_null("")
    return (
        pl.when((layer == "gateway") & etype.str.ends_with(".response"))
        .then(5)
        .when(layer == "gateway")
        .then(0)
        .when((layer == "policy") & (stage == "output"))
        .then(4)
        .when(layer == "policy")
        .then(1)
        .when(layer == "retrieval")
        .then(2)
        .otherwise(3)
        .cast(pl.Int8)
    )


RANKS = 6


def _lower_rank_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Per request: the latest precise time of each causal rank (``_m0`` .. ``_m5``).

    ``order`` sorts an event printed without fractions of a second (truly at ``ts`` .. ``ts`` + 1 s)
    no earlier than the latest precise event of lower rank, within its second, so truncation does
    not put an nginx response before the model call it waited for."""
    us = pl.col("ts").dt.epoch("us")
    slack = (slack_ms() * 1000).cast(pl.Int64)
    precise = frame.filter(pl.col("correlation_id").is_not_null() & (slack == 0) & us.is_not_null())
    return precise.group_by("correlation_id").agg(
        [us.filter(pl.col("_rank") == k).max().alias(f"_m{k}") for k in range(RANKS)]
    )


def _before() -> pl.Expr:
    expr: pl.Expr = pl.lit(None, dtype=pl.Int64)
    for k in range(1, RANKS):
        expr = (
            pl.when(pl.col("_rank") == k)
            .then(pl.max_horizontal([f"_m{j}" for j in range(k)]))
            .otherwise(expr)
        )
    return expr


def request_start() -> pl.Expr:
    """A request's start: its earliest precisely timed event, else its earliest event (a time
    printed to the second may lie up to a second before the truth)."""
    precise = pl.col("ts").filter(slack_ms() == 0).min()
    return pl.coalesce(precise, pl.col("ts").min())


KEY_COLUMNS = ("_ts_key", "_rank", "_sub")


def with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the computed sort keys (``KEY_COLUMNS``). Each request's keys depend only
    on its own events, so requests can be keyed in any grouping."""
    ranked = frame.with_columns(causal_rank().alias("_rank"))
    latest = _lower_rank_times(ranked)
    us = pl.col("ts").dt.epoch("us")
    slack = (slack_ms() * 1000).cast(pl.Int64)
    moved = pl.min_horizontal(us + slack, pl.max_horizontal(us, pl.col("_before")))
    joined = ranked.join(latest, on="correlation_id", how="left", maintain_order="left")
    return (
        joined.with_columns(_before().alias("_before"))
        .with_columns(
            pl.when((slack > 0) & pl.col("_before").is_not_null())
            .then(moved)
            .otherwise(us)
            .fill_null(pl.lit(NO_TIME))
            .alias("_ts_key"),
            pl.col("event_id").str.extract(r":(\d+)$", 1).cast(pl.Int64).alias("_sub"),
        )
        .drop("_before", *[f"_m{k}" for k in range(RANKS)])
    )


NO_TIME = 2**62  # the time key of events without a time: after every real one


def numbered(ordered: pl.DataFrame) -> pl.DataFrame:
    """Fill ``seq`` and ``offset_ms`` within each request of an ordered frame."""
    in_request = pl.col("correlation_id").is_not_null()
    return ordered.with_columns(
        pl.when(in_request).then(pl.int_range(pl.len()).over("correlation_id")).alias("seq"),
        pl.when(in_request)
        .then(
            (pl.col("ts") - request_start().over("correlation_id")).dt.total_microseconds() / 1000.0
        )
        .alias("offset_ms"),
    )


def order(frame: pl.DataFrame) -> pl.DataFrame:
    """Sort ``frame`` totally and fill ``seq`` and ``offset_ms`` within each request."""
    ordered = with_keys(frame).sort(SORT_KEYS, nulls_last=True, maintain_order=True)
    return numbered(ordered).drop(*KEY_COLUMNS)
