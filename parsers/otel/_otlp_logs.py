"""OTLP log records as canonical events, vectorized: the twin of ``otlp_json/logs.py`` (``log_row``).

The ``resourceLogs`` of the decoded documents (:data:`parsers.otel._otlp_values.RESOURCE_LOGS`)
are exploded to one row per log record; resource and scope attributes are computed per scope
(:func:`parsers.otel._otlp_spans._common`), the records' attributes walked once
(:func:`parsers.otel._otlp_attrs.long_attributes`). A key/value list body is written as
``json.dumps`` writes the dict the walker builds (one level deep; a deeper one fails the decode).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.otel._otlp_attrs import _quoted, long_attributes
from parsers.otel._otlp_spans import _common, _explode, _rest, concat_kv, resource_scopes
from parsers.otel._otlp_values import hex_id, int_value, nanos, odd_id
from parsers.otel.otlp_json.logs import _LEVELS, COMPLETION_EVENTS, PROMPT_EVENTS
from timeline.parserkit.wide import pairs_expr
from timeline.schema import ID_STRUCT

_ALWAYS_USED: Final = (
    "session.id",
    "gen_ai.conversation.id",
    "user.id",
    "enduser.id",
    "exception.type",
    "error.type",
)
_WANTED: Final = (*_ALWAYS_USED, "event.name")
_NUMBERED: Final = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


def _element_json(kind: pl.Expr, text: pl.Expr) -> pl.Expr:
    """``json.dumps`` of the walker's value of one key/value list element (kind and text as
    :func:`long_attributes` gives them)."""
    return (
        pl.when(kind.is_in(["s", "y"]))
        .then(_quoted(text))
        .when(kind.is_in(["b", "i", "d", "a"]))
        .then(text.fill_null("null"))
        .otherwise(pl.lit("null"))
    )


def _bodies(records: pl.DataFrame) -> pl.DataFrame:
    """Per record (``_l``): ``_body`` (``json_text(any_value(body))``) and ``_body_odd``."""
    body = pl.col("_rec").struct.field("body")
    wrapped = records.select(
        "_l",
        pl.concat_list(pl.struct(pl.lit("body").alias("key"), body.alias("value"))).alias("_b"),
    )
    scalar = long_attributes(wrapped, "_l", "_b").select(
        pl.col("owner").alias("_l"), pl.col("kind").alias("_bkind"), "text", "odd"
    )
    out = records.select("_l").join(scalar, on="_l", how="left", maintain_order="left")
    kv_rows = records.filter(body.struct.field("kvlistValue").is_not_null()).select(
        "_l", body.struct.field("kvlistValue").struct.field("values").alias("_kv")
    )
    if kv_rows.height == 0:
        return out.select("_l", pl.col("text").alias("_body"), pl.col("odd").alias("_body_odd"))
    elems = long_attributes(kv_rows, "_l", "_kv")
    member = pl.concat_str(
        _quoted(pl.col("key")), pl.lit(": "), _element_json(pl.col("kind"), pl.col("text"))
    )
    lists = elems.group_by("owner", maintain_order=True).agg(
        member.str.join(", ").alias("_members"),
        (pl.col("odd") | (pl.col("kind") == "k")).fill_null(False).any().alias("_kv_odd"),
    )
    kv_text = kv_rows.select("_l").join(
        lists.rename({"owner": "_l"}), on="_l", how="left", maintain_order="left"
    )
    kv_text = kv_text.select(
        "_l",
        pl.concat_str(pl.lit("{"), pl.col("_members").fill_null(""), pl.lit("}")).alias("_kv"),
        pl.col("_kv_odd").fill_null(False),
    )
    is_kv = pl.col("_bkind") == "k"
    return out.join(kv_text, on="_l", how="left", maintain_order="left").select(
        "_l",
        pl.when(is_kv).then(pl.col("_kv")).otherwise(pl.col("text")).alias("_body"),
        pl.when(is_kv).then(pl.col("_kv_odd")).otherwise(pl.col("odd")).alias("_body_odd"),
    )


def log_events(base: pl.DataFrame) -> tuple[pl.DataFrame, set[int]]:
    """Events of the log records of the decoded documents ``base`` (``_doc``, ``source_line``,
    ``resourceLogs``) with ``_doc`` and ``_seq`` (order among the document's log records), and
    the ``_doc`` values of documents whose values only the Python walker reproduces exactly."""
    resources, scopes = resource_scopes(base, "resourceLogs", "scopeLogs", "logRecords", "_rec")
    records = _explode(scopes.select("_s", "_doc", "source_line", "_rec"), "_rec", "_l")
    if records.height == 0:
        return pl.DataFrame(), set()
    rec = pl.col("_rec").struct.field
    records = records.join(_common(resources, scopes), on="_s", how="left", maintain_order="left")
    attrs = long_attributes(records.select("_l", rec("attributes").alias("_a")), "_l", "_a")
    wanted = (
        attrs.filter(pl.col("key").is_in(_WANTED))
        .pivot(on="key", index="owner", values="text", aggregate_function="first")
        .rename({"owner": "_l"})
    )
    missing = [key for key in _WANTED if key not in wanted.columns]
    wanted = wanted.with_columns(pl.lit(None, dtype=pl.String).alias(key) for key in missing)
    records = records.join(
        wanted.cast({"_l": pl.UInt32}), on="_l", how="left", maintain_order="left"
    )
    records = records.join(_bodies(records), on="_l", how="left", maintain_order="left")
    odd_attrs = attrs.filter(pl.col("odd")).get_column("owner").unique()
    records = records.with_columns(
        (
            pl.col("_body_odd").fill_null(False)
            | odd_id(rec("traceId"), 16)
            | odd_id(rec("spanId"), 8)
            | pl.col("_l").is_in(odd_attrs.implode())
        ).alias("_odd")
    )
    odd = set(records.filter(pl.col("_odd")).get_column("_doc").to_list())

    at, observed = nanos(rec("timeUnixNano")), nanos(rec("observedTimeUnixNano"))
    own_name = rec("eventName")
    named = own_name.is_not_null() & (own_name != "")
    records = records.with_columns(
        at.alias("_at"),
        observed.alias("_observed"),
        pl.when(named).then(own_name).otherwise(pl.col("event.name")).alias("_event"),
        named.alias("_named"),
    )
    event = pl.when(pl.col("_event") != "").then(pl.col("_event"))
    body = pl.col("_body")
    prompt = pl.when(event.is_in(list(PROMPT_EVENTS))).then(body)
    completion = pl.when(event.is_in(list(COMPLETION_EVENTS))).then(body)
    text = rec("severityText")
    by_text = text.str.strip_chars().str.to_lowercase().replace_strict(_LEVELS, default=None)
    number = int_value(rec("severityNumber"))
    by_number = (
        pl.when((number >= 1) & (number <= 24))
        .then((number - 1) // 4)
        .replace_strict(dict(enumerate(_NUMBERED)), default=None, return_dtype=pl.String)
    )
    extra = pairs_expr(
        {
            "log.event_name": event,
            "log.time_source": pl.when(
                pl.col("_at").is_null() & pl.col("_observed").is_not_null()
            ).then(pl.lit("observed")),
            "log.severity_text": pl.when(text != "").then(text),
        }
    )
    joined = attrs.join(
        records.select(pl.col("_l").alias("owner"), "_named"),
        on="owner",
        how="left",
        maintain_order="left",
    )
    used = pl.col("key").is_in(_ALWAYS_USED) | ((pl.col("key") == "event.name") & ~pl.col("_named"))
    records = pl.concat([records, _rest(joined, used, records, "_l")], how="horizontal")
    out = records.select(
        "_doc",
        pl.int_range(pl.len(), dtype=pl.Int64).over("_doc").alias("_seq"),
        "source_line",
        pl.coalesce("_at", "_observed").alias("_ns"),
        pl.when(pl.col("_at").is_not_null())
        .then(rec("timeUnixNano"))
        .when(pl.col("_observed").is_not_null())
        .then(rec("observedTimeUnixNano"))
        .alias("ts_raw"),
        pl.when(event.str.starts_with("gen_ai."))
        .then(pl.lit("inference"))
        .otherwise(pl.lit("other"))
        .alias("layer"),
        pl.lit("server.log").alias("event_type"),
        by_text.fill_null(by_number).alias("severity"),
        pl.when(prompt.is_not_null() | completion.is_not_null())
        .then(event)
        .otherwise(body)
        .alias("message"),
        prompt.alias("prompt_text"),
        completion.alias("completion_text"),
        hex_id(rec("traceId"), 16).alias("trace_id"),
        hex_id(rec("spanId"), 8).alias("span_id"),
        "host",
        pl.coalesce("session.id", "gen_ai.conversation.id").alias("session_id"),
        pl.coalesce("user.id", "enduser.id").alias("user_id"),
        pl.coalesce("exception.type", "error.type").alias("error_type"),
        pl.lit([], dtype=pl.List(ID_STRUCT)).alias("ids"),
        concat_kv(records, [extra, pl.col("_rest"), pl.col("common")]).alias("attributes"),
    )
    return out, odd
