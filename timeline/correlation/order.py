"""Total, deterministic order: time, then causal layer rank, then source position.

Causal rank of an event within a request: gateway request 0 < policy input 1 < retrieval 2 <
inference 3 < policy output 4 < gateway response 5 (other events rank with inference).

Imprecise stamps are intervals ``[ts, ts + ts_precision_ms)``: the time key of such an event may
move later within its interval (see ``with_keys``). An inherited time (``ts_inherited``) is the
time of an earlier line of its file: the event happened then or later, so its key is the end of
that stamp's interval and, on a tie, it sorts after every event with a time of its own, and
inherited events of equal key in line order (``_after``): never before the line it inherited from.
"""

from __future__ import annotations

import polars as pl

from timeline.correlation.spans import (
    coarse_slack_ms,
    gateway_bounds,
    inherited,
    interval_columns,
    precision_ms,
)

SORT_KEYS = [
    "_ts_key",
    "_after",
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
    slack = (coarse_slack_ms() * 1000).round(0).cast(pl.Int64)
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
    precise = pl.col("ts").filter(coarse_slack_ms() == 0).min()
    return pl.coalesce(precise, pl.col("ts").min())


KEY_COLUMNS = ("_ts_key", "_after", "_rank", "_sub")


def with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the computed sort keys (``KEY_COLUMNS``). Each request's keys depend only
    on its own events, so requests can be keyed in any grouping."""
    ranked = frame.with_columns(causal_rank().alias("_rank"))
    latest = _lower_rank_times(ranked)
    us = pl.col("ts").dt.epoch("us")
    slack = (coarse_slack_ms() * 1000).round(0).cast(pl.Int64)
    moved = pl.min_horizontal(us + slack, pl.max_horizontal(us, pl.col("_before")))
    # an inherited time: no earlier than the end of the inherited stamp's interval
    stamp_end = us + ((precision_ms().fill_null(0.0) * 1000).round(0).cast(pl.Int64) - 1).clip(0)
    joined = ranked.join(latest, on="correlation_id", how="left", maintain_order="left")
    return (
        joined.with_columns(_before().alias("_before"))
        .with_columns(
            pl.when(us.is_null())
            .then(pl.lit(NO_TIME))
            .when(inherited())
            .then(pl.max_horizontal(stamp_end, pl.col("_before")))
            .when((slack > 0) & pl.col("_before").is_not_null())
            .then(moved)
            .otherwise(us)
            .alias("_ts_key"),
            pl.when(inherited())
            .then(pl.col("source_line").fill_null(1).clip(1))
            .otherwise(0)
            .cast(pl.Int64)
            .alias("_after"),
            pl.col("event_id").str.extract(r":(\d+)$", 1).cast(pl.Int64).alias("_sub"),
        )
        .drop("_before", *[f"_m{k}" for k in range(RANKS)])
    )


def violation_mask(frame: pl.DataFrame, ts: str = "ts") -> pl.Series:
    """Per event of ``frame``: True when an id-linked (``id`` / ``alias``) inner-layer event lies
    outside its request's gateway span for every point of the stamps' intervals (an imprecise
    stamp is ``[ts, ts + ts_precision_ms)``, an inherited one ``[ts, ...)``), so the order is
    impossible, not merely printed that way. False for everything else (nulls included).

    ``frame`` needs ``correlation_id``, ``correlation_method``, ``layer``, ``event_type``,
    ``ts_at_end``, ``duration_ms``, ``ts`` (or the column named) and the precision columns
    (``spans.PRECISION_COLUMNS``)."""
    linked = (
        pl.col("correlation_method").is_in(["id", "alias"]) & pl.col(ts).is_not_null()
    ).fill_null(False)
    rows = frame.with_row_index("_row").with_columns(linked.alias("_linked"))
    spans = rows.filter(pl.col("_linked")).with_columns(interval_columns(ts))
    gw = spans.filter(pl.col("layer") == "gateway").group_by("correlation_id").agg(gateway_bounds())
    bad = (
        spans.filter(pl.col("layer") != "gateway")
        .join(gw, on="correlation_id")
        .filter((pl.col("inner_lo") < pl.col("g_lo")) | (pl.col("inner_hi") > pl.col("g_hi")))
    )
    mask = rows.select(pl.col("_row").is_in(bad["_row"].implode()).alias("violation"))
    return mask.get_column("violation")


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
