"""Total, deterministic order: time, then causal layer rank, then source position.

Causal rank of an event within a request: gateway request 0 < policy input 1 < retrieval 2 <
inference 3 < policy output 4 < gateway response 5 (other events rank with inference).
"""

from __future__ import annotations

import polars as pl

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


def order(frame: pl.DataFrame) -> pl.DataFrame:
    """Sort ``frame`` totally and fill ``seq`` and ``offset_ms`` within each request."""
    keyed = frame.with_columns(
        pl.col("ts").dt.epoch("us").fill_null(pl.lit(2**62)).alias("_ts_key"),
        causal_rank().alias("_rank"),
        pl.col("event_id").str.extract(r":(\d+)$", 1).cast(pl.Int64).alias("_sub"),
    )
    ordered = keyed.sort(SORT_KEYS, nulls_last=True, maintain_order=True)
    in_request = pl.col("correlation_id").is_not_null()
    return ordered.with_columns(
        pl.when(in_request).then(pl.int_range(pl.len()).over("correlation_id")).alias("seq"),
        pl.when(in_request)
        .then(
            (pl.col("ts") - pl.col("ts").min().over("correlation_id")).dt.total_microseconds()
            / 1000.0
        )
        .alias("offset_ms"),
    ).drop("_ts_key", "_rank", "_sub")
