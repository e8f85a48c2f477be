"""One row per request: span, layers, outcome, versions, verdicts, and why it failed."""

from __future__ import annotations

import polars as pl

from timeline.correlation.order import request_start
from timeline.correlation.spans import ends_at_ts

# The longest duration an event may add to its request's end: about 100 years (longer is a bad value).
MAX_DURATION_US = 100 * 365 * 86_400 * 1_000_000

REQUEST_SCHEMA = pl.Schema(
    {
        "correlation_id": pl.String(),
        "start": pl.Datetime("us", "UTC"),
        "end": pl.Datetime("us", "UTC"),
        "duration_ms": pl.Float64(),
        "events": pl.UInt32(),
        "layers": pl.List(pl.String),
        "ids": pl.List(pl.String),
        "status": pl.String(),
        "status_code": pl.Int64(),
        "http_route": pl.String(),
        "client_address": pl.String(),
        "session_id": pl.String(),
        "model": pl.String(),
        "model_revision": pl.String(),
        "prompt_template": pl.String(),
        "prompt_template_version": pl.String(),
        "index_name": pl.String(),
        "index_version": pl.String(),
        "embedding_model": pl.String(),
        "docs_returned": pl.Int64(),
        "input_tokens": pl.Int64(),
        "output_tokens": pl.Int64(),
        "ttft_ms": pl.Float64(),
        "finish_reason": pl.String(),
        "policy_verdicts": pl.List(pl.String),
        "policy_versions": pl.List(pl.String),
        "blocked_by": pl.String(),
        "error_type": pl.String(),
        "failed": pl.Boolean(),
        "failure_reason": pl.String(),
        "heuristic_events": pl.UInt32(),
        "clock_corrected_events": pl.UInt32(),
    }
)

# The default definition of a failed request, in the order the reason is chosen.
FAILURE_RULES: tuple[tuple[str, str], ...] = (
    ("policy block", "verdict == 'block'"),
    ("gateway 5xx", "gateway status_code >= 500"),
    ("gateway 4xx", "gateway status_code in 400..499"),
    ("timeout", "status == 'timeout'"),
    ("error", "status == 'error'"),
    ("empty retrieval", "retrieval.query with 0 documents"),
)


# The timeline columns the requests table reads.
REQUEST_INPUT_COLUMNS: tuple[str, ...] = (
    "correlation_id",
    "ts",
    "ts_raw",
    "ts_precision_ms",
    "ts_inherited",
    "event_type",
    "ts_at_end",
    "duration_ms",
    "layer",
    "ids",
    "status",
    "status_code",
    "http_route",
    "client_address",
    "session_id",
    "model",
    "model_revision",
    "prompt_template",
    "prompt_template_version",
    "index_name",
    "index_version",
    "embedding_model",
    "docs_returned",
    "input_tokens",
    "output_tokens",
    "ttft_ms",
    "finish_reason",
    "policy_name",
    "policy_stage",
    "verdict",
    "policy_version",
    "error_type",
    "correlation_method",
    "clock_offset_ms",
)


def docs_returned() -> pl.Expr:
    """Documents a retrieval returned: the flat ``docs_returned`` column, filled at build time
    from ``doc_ids``, else the ``total_hits`` attribute
    (:func:`timeline.normalize.events.docs_from_source`), so no stage decodes ``attributes``."""
    return pl.col("docs_returned")


def _first(col: str, layer: str | None = None) -> pl.Expr:
    expr = pl.col(col)
    if layer is not None:
        expr = expr.filter(pl.col("layer") == layer)
    return expr.drop_nulls().first()


def requests_table(timeline: pl.DataFrame) -> pl.DataFrame:
    """Aggregate a correlated, ordered timeline into requests."""
    ev = timeline.filter(pl.col("correlation_id").is_not_null())
    gw = pl.col("layer") == "gateway"
    retrieval_docs = pl.when(pl.col("event_type") == "retrieval.query").then(docs_returned())
    end = (
        pl.when(ends_at_ts())
        .then(pl.col("ts"))
        .otherwise(
            pl.col("ts")
            + pl.duration(
                # NaN, infinite or absurd durations (a bad value in the log) count as unknown / capped
                microseconds=(pl.col("duration_ms") * 1000)
                .clip(-MAX_DURATION_US, MAX_DURATION_US)
                .cast(pl.Int64, strict=False)
                .fill_null(0)
            )
        )
    )
    agg = (
        ev.with_columns(end.alias("_end"), retrieval_docs.alias("_docs"))
        .group_by("correlation_id")
        .agg(
            request_start().alias("start"),
            pl.col("_end").max().alias("end"),
            pl.len().alias("events"),
            pl.col("layer").unique().sort().alias("layers"),
            pl.col("ids").explode().struct.field("value").drop_nulls().unique().sort().alias("ids"),
            pl.col("status_code").filter(gw).drop_nulls().last().alias("gw_code"),
            pl.col("status").filter(gw).drop_nulls().last().alias("gw_status"),
            _first("http_route", "gateway"),
            _first("client_address", "gateway"),
            _first("session_id"),
            _first("model", "inference").alias("model_inf"),
            _first("model"),
            _first("model_revision"),
            _first("prompt_template"),
            _first("prompt_template_version"),
            _first("index_name"),
            _first("index_version"),
            _first("embedding_model"),
            pl.col("_docs").drop_nulls().min().alias("docs_returned"),
            pl.col("input_tokens").drop_nulls().max(),
            pl.col("output_tokens").drop_nulls().max(),
            pl.col("ttft_ms").drop_nulls().first(),
            _first("finish_reason"),
            pl.concat_str(
                [
                    pl.col("policy_name").fill_null("?"),
                    pl.lit(":"),
                    pl.col("policy_stage").fill_null("?"),
                    pl.lit("="),
                    pl.col("verdict"),
                ]
            )
            .drop_nulls()
            .alias("policy_verdicts"),
            pl.concat_str(
                [pl.col("policy_name").fill_null("?"), pl.lit("@"), pl.col("policy_version")]
            )
            .drop_nulls()
            .unique()
            .sort()
            .alias("policy_versions"),
            pl.col("policy_name").filter(pl.col("verdict") == "block").first().alias("blocked_by"),
            pl.col("error_type").drop_nulls().first(),
            (pl.col("verdict") == "block").any().alias("_blocked"),
            pl.col("status").is_in(["timeout"]).any().alias("_timeout"),
            pl.col("status").is_in(["error"]).any().alias("_error"),
            (pl.col("_docs") == 0).any().alias("_empty"),
            (pl.col("correlation_method") == "heuristic").sum().alias("heuristic_events"),
            (pl.col("clock_offset_ms").fill_null(0) != 0).sum().alias("clock_corrected_events"),
        )
    )
    reason = (
        pl.when(pl.col("_blocked"))
        .then(pl.lit("policy block"))
        .when(pl.col("gw_code") >= 500)
        .then(pl.lit("gateway 5xx"))
        .when(pl.col("gw_code").is_between(400, 499))
        .then(pl.lit("gateway 4xx"))
        .when(pl.col("_timeout"))
        .then(pl.lit("timeout"))
        .when(pl.col("_error"))
        .then(pl.lit("error"))
        .when(pl.col("_empty").fill_null(False))
        .then(pl.lit("empty retrieval"))
    )
    status = (
        pl.when(pl.col("_blocked"))
        .then(pl.lit("blocked"))
        .otherwise(
            pl.coalesce(
                pl.col("gw_status"),
                pl.when(pl.col("_timeout"))
                .then(pl.lit("timeout"))
                .when(pl.col("_error"))
                .then(pl.lit("error"))
                .otherwise(pl.lit("ok")),
            )
        )
    )
    out = agg.with_columns(
        ((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1000.0).alias("duration_ms"),
        status.alias("status"),
        pl.col("gw_code").alias("status_code"),
        pl.coalesce("model_inf", "model").alias("model"),
        reason.alias("failure_reason"),
        reason.is_not_null().alias("failed"),
    )
    return (
        out.select(REQUEST_SCHEMA.names())
        .cast(REQUEST_SCHEMA)
        .sort("start", "correlation_id", nulls_last=True)
    )
