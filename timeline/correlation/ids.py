"""Identifiers: normalize every id on an event to a node of the id graph; find degenerate ids.

A node is ``trace:<32 hex>`` for trace ids in any notation (W3C ``traceparent``, AWS
``X-Amzn-Trace-Id Root=``, GCP ``projects/P/traces/ID``, Jaeger ``uber-trace-id``, B3, bare hex),
or ``req:<value>`` for request-like ids (``x-request-id``, ``chatcmpl-...`` without the ``-N`` /
``-<8 hex>`` suffix vLLM appends, ``X-Opaque-Id``, ...). vLLM names a request ``chatcmpl-<X-Request-Id>``
when the header is forwarded, so ``chatcmpl-<uuid>`` is the node of ``<uuid>``. Session and user ids never link requests: a session spans many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

TRACE_KINDS: Final = frozenset(
    {
        "trace_id",
        "traceparent",
        "x_amzn_trace_id",
        "gcp_trace",
        "uber_trace_id",
        "x_b3_traceid",
        "b3",
        "x_cloud_trace_context",
        "otel_trace_id",
    }
)
NON_LINKING: Final = frozenset(
    {
        "session_id",
        "user_id",
        "span_id",
        "parent_span_id",
        "gcp_span_id",
        "tenant_id",
        "api_key",
        "team_id",
        "organization_id",
        "model_id",
    }
)
PLACEHOLDERS: Final = (
    "",
    "-",
    "null",
    "none",
    "nil",
    "0",
    "undefined",
    "unknown",
    "n/a",
    "na",
    "empty",
    "<nil>",
)


@dataclass(frozen=True)
class IdNodes:
    """Edges (row, node) of usable ids, and the ids left out with the reason."""

    edges: pl.DataFrame  # row, kind, value, node
    degenerate: pl.DataFrame  # node, kind, value, events, span_s, reason


def _hex32(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_lowercase().str.pad_start(32, "0")


def normalize(kind: pl.Expr, value: pl.Expr) -> pl.Expr:
    """The graph node for an id of ``kind`` with ``value`` (null when it cannot be read)."""
    v = value.str.strip_chars()
    low = v.str.to_lowercase()
    trace = (
        pl.when(kind == "traceparent")
        .then(low.str.extract(r"^[0-9a-f]{2}-([0-9a-f]{32})-", 1))
        .when(kind == "x_amzn_trace_id")
        .then(
            pl.concat_str(
                low.str.extract(r"root=1-([0-9a-f]{8})-", 1),
                low.str.extract(r"root=1-[0-9a-f]{8}-([0-9a-f]{24})", 1),
            )
        )
        .when(kind == "gcp_trace")
        .then(_hex32(low.str.extract(r"traces/([0-9a-f]{1,32})$", 1)))
        .when(kind.is_in(["uber_trace_id", "b3"]))
        .then(_hex32(low.str.extract(r"^([0-9a-f]{1,32})[:-]", 1)))
        .when(kind == "x_cloud_trace_context")
        .then(low.str.extract(r"^([0-9a-f]{32})", 1))
        .otherwise(_hex32(low.str.extract(r"^([0-9a-f]{1,32})$", 1)))
    )
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    suffix = r"(?:-(?:\d+|[0-9a-f]{8}))"
    request = pl.coalesce(
        # vLLM names a request chatcmpl-<X-Request-Id> when the header is forwarded
        low.str.extract(rf"^(?:chat)?cmpl-({uuid}){suffix}?$", 1),
        # ... and appends -<n> or -<8 hex> to the id in engine lines ("Added request ...")
        v.str.extract(rf"^((?:chat)?cmpl-[0-9A-Za-z]+){suffix}$", 1),
        v,
    )
    return (
        pl.when(kind.is_in(list(TRACE_KINDS)))
        .then(
            pl.when(trace.is_not_null())
            .then(pl.lit("trace:") + trace)
            .otherwise(pl.lit("trace:") + low)
        )
        .otherwise(pl.lit("req:") + request)
    )


def explode_ids(events: pl.DataFrame, exclude_kinds: tuple[str, ...]) -> pl.DataFrame:
    """One row per linking id of each event (``row``, ``ts``, ``ids`` and any other columns kept):
    ``kind``, ``value``, its graph ``node`` and the ``reason`` it can never link (null when usable)."""
    exploded = (
        events.explode("ids")
        .drop_nulls("ids")
        .unnest("ids")
        .filter(~pl.col("kind").is_in(list(NON_LINKING | set(exclude_kinds))))
        .with_columns(normalize(pl.col("kind"), pl.col("value")).alias("node"))
    )
    value = pl.col("value").str.strip_chars().str.to_lowercase()
    static = (
        pl.when(value.is_null() | value.is_in(list(PLACEHOLDERS)))
        .then(pl.lit("placeholder value"))
        .when(pl.col("node").str.contains(r"^trace:0+$"))
        .then(pl.lit("all-zero trace id"))
        .when(pl.col("value").str.strip_chars().str.len_chars() < 3)
        .then(pl.lit("too short to identify a request"))
    )
    return exploded.with_columns(static.alias("reason"))


def judge_nodes(exploded: pl.DataFrame, max_events: int, max_span_s: float) -> IdNodes:
    """Split exploded ids into usable edges and the degenerate ids (with the reason).

    ``exploded`` must hold every edge of each node it contains (the whole input, or one node
    partition of it): how many events carry an id, and over how long, decide whether it links."""
    stats = (
        exploded.filter(pl.col("reason").is_null())
        .group_by("node")
        .agg(
            pl.col("row").n_unique().alias("events"),
            ((pl.col("ts").max() - pl.col("ts").min()).dt.total_microseconds() / 1e6).alias(
                "span_s"
            ),
        )
        .with_columns(
            pl.when(pl.col("events") > max_events)
            .then(pl.lit(f"carried by more than {max_events} events (max_events_per_id)"))
            .when(pl.col("span_s") > max_span_s)
            .then(pl.lit(f"seen over more than {max_span_s:g} s (max_id_span_s)"))
            .alias("freq_reason")
        )
    )
    exploded = exploded.join(
        stats.select("node", "freq_reason"), on="node", how="left"
    ).with_columns(pl.coalesce("reason", "freq_reason").alias("reason"))
    bad = exploded.filter(pl.col("reason").is_not_null())
    degenerate = (
        bad.group_by("node", "reason")
        .agg(
            pl.col("kind").first(),
            pl.col("value").first(),
            pl.col("row").n_unique().alias("events"),
            ((pl.col("ts").max() - pl.col("ts").min()).dt.total_microseconds() / 1e6).alias(
                "span_s"
            ),
        )
        .sort("events", "node", descending=[True, False])
        .select("node", "kind", "value", "events", "span_s", "reason")
    )
    good = exploded.filter(pl.col("reason").is_null()).drop("reason", "freq_reason")
    edges = good.unique(["row", "node"], maintain_order=True)
    return IdNodes(edges, degenerate)


def id_nodes(
    events: pl.DataFrame, exclude_kinds: tuple[str, ...], max_events: int, max_span_s: float
) -> IdNodes:
    """Edges from ``events`` (columns ``row``, ``ts``, ``ids``); degenerate ids are left out and reported."""
    exploded = explode_ids(events.select("row", "ts", "ids"), exclude_kinds)
    nodes = judge_nodes(exploded, max_events, max_span_s)
    return IdNodes(nodes.edges.select("row", "kind", "value", "node"), nodes.degenerate)
