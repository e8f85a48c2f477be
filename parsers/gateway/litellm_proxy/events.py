"""Map LiteLLM proxy log records (one row per record start) onto canonical events."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.gateway.litellm_proxy import lines as shapes
from timeline.parserkit.frame import http_status, severity
from timeline.parserkit.http import query, route
from timeline.parserkit.text import clean, integer, nullify
from timeline.parserkit.timestamps import Parsed, parse_iso8601, parse_pattern
from timeline.parserkit.tracebacks import last_exception_type

_TRACE_ID: Final = r"^[0-9a-fA-F]{32}$"
_UTC: Final = pl.Datetime("us", "UTC")


def _timestamp(timezone: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """``ts_source``, ``ts_raw``, ``ts_assumed_tz``: a LiteLLM header's time has no date, so its
    event has no ``ts`` (the time stays in ``ts_raw``) unless a custom ``datefmt`` wrote one."""
    kind = pl.col("kind")
    time = pl.col("time").str.replace(",", ".")
    dated = parse_iso8601(pl.col("date") + pl.lit("T") + time, timezone)
    logged = parse_iso8601(pl.col("j_timestamp"), timezone)
    g_aware = parse_pattern(pl.col("gts"), "%Y-%m-%d %H:%M:%S %z", timezone)
    g_naive = parse_pattern(pl.col("gts"), "%Y-%m-%d %H:%M:%S", timezone)
    choices: list[tuple[str, Parsed]] = [
        ("litellm", dated),
        ("json", logged),
        (
            "gunicorn",
            Parsed(
                pl.coalesce(g_aware.ts, g_naive.ts),
                pl.coalesce(pl.when(g_aware.ts.is_not_null()).then(False), g_naive.assumed_tz),
            ),
        ),
    ]
    ts: pl.Expr = pl.lit(None, dtype=_UTC)
    assumed: pl.Expr = pl.lit(None, dtype=pl.Boolean)
    for name, parsed in reversed(choices):
        ts = pl.when(kind == name).then(parsed.ts).otherwise(ts)
        assumed = pl.when(kind == name).then(parsed.assumed_tz).otherwise(assumed)
    raw = (
        pl.when(kind == "litellm")
        .then(pl.concat_str([pl.col("date"), pl.col("time")], separator=" ", ignore_nulls=True))
        .when(kind == "json")
        .then(pl.col("j_timestamp"))
        .when(kind == "gunicorn")
        .then(pl.col("gts"))
    )
    return ts, raw, assumed


def _class_status(error_type: pl.Expr) -> pl.Expr:
    """The canonical status an exception class stands for."""
    short = error_type.str.extract(r"(\w+)$", 1)
    return (
        pl.when(short.str.contains("RateLimit"))
        .then(pl.lit("rate_limited"))
        .when(short.str.contains("Timeout"))
        .then(pl.lit("timeout"))
        .when(short.str.contains("ContentPolicyViolation"))
        .then(pl.lit("blocked"))
        .when(short.is_not_null())
        .then(pl.lit("error"))
    )


def _provider(model: pl.Expr) -> pl.Expr:
    """The LiteLLM provider prefix of a model string (``azure/gpt-4o`` -> ``azure``)."""
    prefix = model.str.extract(r"^([\w.-]+)/", 1)
    return pl.when(prefix.is_in(list(shapes.PROVIDERS))).then(prefix)


def _derive(starts: pl.DataFrame) -> pl.DataFrame:
    """Intermediate columns, each computed once (stage by stage), the costly patterns applied to
    the rows that can match only."""
    kind = pl.col("kind")
    m = pl.col("message")
    text_kind = kind.is_in(["litellm", "json"])
    cont = pl.col("cont_lines").fill_null(pl.lit([], dtype=pl.List(pl.String)))
    merged = pl.col("cont_count").is_not_null()
    has_tb = merged & cont.list.eval(pl.element().str.contains(shapes.TRACEBACK)).list.any()
    frame = starts.with_columns(
        pl.when(text_kind).then(m).alias("_text"),
        has_tb.alias("_has_tb"),
        severity(pl.coalesce("level", "ulevel", "glevel", "j_level")).alias("_level"),
        # The correlation suffix is on the record's last line (after a traceback, if any).
        pl.when(kind == "litellm")
        .then(pl.coalesce(pl.col("cont_last"), pl.col("clean")))
        .str.extract_groups(shapes.CORRELATION)
        .alias("_suffix"),
    )
    text = pl.col("_text")
    tb_lines = (
        pl.when(kind == "traceback")
        .then(pl.concat_list(pl.col("clean"), cont))
        .when(kind == "json")
        .then(pl.col("j_stacktrace").str.split("\n"))
        .when(pl.col("_has_tb"))
        .then(cont)
    )
    frame = frame.with_columns(
        tb_lines.alias("_tb_lines"),
        pl.when(text.str.starts_with("litellm."))
        .then(text)
        .str.extract_groups(shapes.ROUTER_CALL)
        .alias("_router"),
        pl.when(text.str.starts_with("litellm.proxy."))
        .then(text)
        .str.extract_groups(shapes.PROXY_EXCEPTION)
        .alias("_proxy"),
        pl.when(kind == "traceback")
        .then(pl.lit("ERROR"))
        .otherwise(pl.col("_level"))
        .alias("_sev"),
        text.str.contains(shapes.NO_DEPLOYMENT).fill_null(False).alias("_no_deployment"),
    )
    router_ok = pl.col("_router").struct.field("ok").is_not_null()
    router_exc = pl.col("_router").struct.field("call").is_not_null() & ~router_ok
    proxy_exc = pl.col("_proxy").struct.field("handler").is_not_null()
    erring = (
        pl.col("_sev").is_in(["WARN", "ERROR", "FATAL"]).fill_null(False)
        | router_exc
        | proxy_exc
        | pl.col("_has_tb")
        | (kind == "traceback")
        | pl.col("j_stacktrace").is_not_null()
    )
    frame = frame.with_columns(
        router_ok.alias("_router_ok"),
        router_exc.alias("_router_exc"),
        proxy_exc.alias("_proxy_exc"),
        erring.alias("_erring"),
    )
    err_text = pl.when(pl.col("_erring")).then(text)
    frame = frame.with_columns(
        pl.when(pl.col("_erring"))
        .then(
            pl.coalesce(
                err_text.str.extract(shapes.EXCEPTION_CLASS, 1),
                last_exception_type(pl.col("_tb_lines")),
            )
        )
        .alias("_error_type"),
        integer(
            pl.coalesce(
                err_text.str.extract(shapes.STATUS_IN_TEXT, 1),
                pl.col("_proxy").struct.field("pexc").str.extract(shapes.PROXY_STATUS, 1),
            )
        ).alias("_code_in_text"),
        integer(pl.coalesce(pl.col("status"), pl.col("wsstatus"))).alias("_access_code"),
        err_text.str.extract(shapes.PASSED_MODEL, 1).alias("_passed_model"),
        err_text.str.extract(shapes.MODEL_GROUP, 1).alias("_model_group"),
        err_text.str.extract(shapes.RETRY_IN, 1).alias("_retry_in"),
        pl.when(text.str.starts_with("get_available_deployment"))
        .then(text)
        .str.extract(shapes.SELECTED, 1)
        .alias("_selected"),
        pl.when(text.str.starts_with("Falling back"))
        .then(text)
        .str.extract(shapes.FALLBACK, 1)
        .alias("_fallback"),
        pl.when(text.str.starts_with("Attempting to add"))
        .then(text)
        .str.extract(shapes.COOLDOWN_ADD, 1)
        .alias("_cooldown"),
    )
    call_text = pl.when(text.str.contains("call[_-]id")).then(text)
    cont_text = pl.when((kind == "litellm") & merged).then(cont.list.join("\n"))
    return frame.with_columns(
        (pl.col("_router_exc") | pl.col("_proxy_exc") | pl.col("_no_deployment"))
        .or_(pl.col("_error_type").is_not_null())
        .alias("_failed"),
        pl.coalesce(
            clean(pl.col("j_litellm_call_id")),
            call_text.str.extract(shapes.CALL_ID, 1),
            pl.when(cont_text.str.contains("call[_-]id"))
            .then(cont_text)
            .str.extract(shapes.CALL_ID, 1),
        ).alias("_call_id"),
    )


def event_columns(
    starts: pl.DataFrame, timezone: str
) -> tuple[pl.DataFrame, list[pl.Expr], dict[str, pl.Expr], dict[str, pl.Expr]]:
    """The record start rows with intermediate columns, the canonical columns over them, the
    ids by kind and the attributes by key (built into ``ids`` and ``attributes`` by
    :mod:`attrs`)."""
    frame = _derive(starts)
    kind = pl.col("kind")
    text = pl.col("_text")
    ts, ts_raw, assumed = _timestamp(timezone)
    suffix = pl.col("_suffix")
    trace = nullify(pl.coalesce(pl.col("j_trace_id"), suffix.struct.field("trace")))
    session = nullify(pl.coalesce(pl.col("j_session_id"), suffix.struct.field("session")))
    message = (
        pl.when((kind == "litellm") & pl.col("cont_count").is_null())
        .then(pl.col("message").str.replace(shapes.CORRELATION, ""))
        .when(kind == "traceback")
        .then(pl.coalesce(pl.col("cont_last"), pl.col("clean")))
        .otherwise(pl.col("message"))
    )
    traceback = (
        pl.when(kind == "json")
        .then(pl.col("j_stacktrace"))
        .otherwise(pl.col("_tb_lines").list.join("\n").str.replace(shapes.CORRELATION, ""))
    )
    error_type = pl.col("_error_type")
    code_in_text = pl.col("_code_in_text")
    access_code = pl.col("_access_code")
    failed = pl.col("_failed")
    failed_code = pl.when(failed & (code_in_text >= 400)).then(code_in_text)
    no_deployment = pl.col("_no_deployment")
    status = (
        pl.when(access_code.is_not_null())
        .then(http_status(access_code))
        .when(pl.col("_router_ok"))
        .then(pl.lit("ok"))
        .when(text.str.contains(shapes.CLIENT_DISCONNECT).fill_null(False))
        .then(pl.lit("cancelled"))
        .when(failed)
        .then(
            pl.coalesce(
                http_status(failed_code),
                pl.when(no_deployment).then(pl.lit("rate_limited")),
                _class_status(error_type),
                pl.lit("error"),
            )
        )
    )
    startup = (kind != "json") & pl.col("message").str.contains(shapes.STARTUP)
    event_type = (
        pl.when(access_code.is_not_null())
        .then(pl.lit("http.response"))
        .when(pl.col("_router_ok"))
        .then(pl.lit("inference.response"))
        .when(pl.col("_router_exc"))
        .then(pl.lit("inference.error"))
        .when(startup)
        .then(pl.lit("server.start"))
        .otherwise(pl.lit("server.log"))
    )
    router = pl.col("_router")
    model = pl.coalesce(
        nullify(router.struct.field("rmodel").str.strip_chars()),
        pl.col("_selected"),
        pl.col("_passed_model"),
        pl.col("_model_group"),
        clean(pl.col("j_model")),
    )
    call_id = pl.col("_call_id")
    is_trace = trace.str.contains(_TRACE_ID).fill_null(False)
    target = pl.coalesce(pl.col("target"), pl.col("wstarget"))
    router_event = (
        pl.when(pl.col("_fallback").is_not_null())
        .then(pl.lit("fallback"))
        .when(text.str.contains(shapes.FALLBACK_DONE))
        .then(pl.lit("fallback_success"))
        .when(text.str.contains(shapes.FALLBACK_TRY))
        .then(pl.lit("fallback_attempt"))
        .when(pl.col("_cooldown").is_not_null())
        .then(pl.lit("cooldown"))
        .when(no_deployment)
        .then(pl.lit("no_deployments"))
    )
    code_site = (
        pl.when(kind == "json")
        .then(pl.col("j_logger"))
        .otherwise(pl.concat_str([pl.col("file"), pl.col("lineno")], separator=":"))
    )
    plain_cont = pl.when(~pl.col("_has_tb") & (kind != "traceback")).then(pl.col("cont_count"))
    columns = [
        pl.col("source_line"),
        ts.alias("ts_source"),
        ts_raw.alias("ts_raw"),
        assumed.alias("ts_assumed_tz"),
        event_type.alias("event_type"),
        pl.col("_sev").alias("severity"),
        status.alias("status"),
        pl.coalesce(access_code, failed_code).alias("status_code"),
        error_type.alias("error_type"),
        message.alias("message"),
        call_id.alias("request_id"),
        pl.when(is_trace).then(trace.str.to_lowercase()).alias("trace_id"),
        session.alias("session_id"),
        pl.col("method").alias("http_method"),
        route(target).alias("http_route"),
        nullify(pl.coalesce(pl.col("client"), pl.col("wsclient"))).alias("client_address"),
        model.alias("model"),
        _provider(model).alias("provider"),
    ]
    attrs = {
        "logger": pl.coalesce(pl.col("logger"), pl.col("j_component")),
        "code": code_site,
        "pid": pl.col("gpid"),
        "client_port": pl.coalesce(pl.col("port"), pl.col("wsport")),
        "http_query": query(target),
        "http_protocol": pl.when(pl.col("wstarget").is_not_null())
        .then(pl.lit("websocket"))
        .otherwise(pl.col("proto")),
        "http_reason": pl.col("reason"),
        "call_type": router.struct.field("call"),
        "router_event": router_event,
        "fallback_model_group": pl.col("_fallback"),
        "cooldown_deployment": pl.col("_cooldown"),
        "retry_after_s": pl.col("_retry_in"),
        "model_group": pl.col("_model_group"),
        "handler": pl.col("_proxy").struct.field("handler"),
        "traceback": traceback,
        "continuation_lines": plain_cont,
    }
    ids = {"litellm_call_id": call_id, "litellm_trace_id": pl.when(~is_trace).then(trace)}
    return frame, columns, ids, attrs
