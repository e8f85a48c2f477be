"""Map Azure resource log records (one row per record, fields read) onto canonical events."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.gateway.azure_openai_diagnostics import fields
from timeline.parserkit.frame import http_status
from timeline.parserkit.http import query, route
from timeline.parserkit.ids import is_openai_id
from timeline.parserkit.text import integer, number

# .NET ticks (100 ns since 0001-01-01) of the Unix epoch: ``requestTime`` / ``responseTime``.
EPOCH_TICKS: Final = 621_355_968_000_000_000
_UTC: Final = pl.Datetime("us", "UTC")
_CONTENT_FILTER: Final = ("content_filter", "ResponsibleAIPolicyViolation", "contentFilter")
# Fields of an OpenAI response or error body (a string property) read with patterns, not a decode.
_BODY_ERROR: Final = r'^\s*\{\s*"error"\s*:\s*\{.*?"code"\s*:\s*"([^"]+)"'
_BODY_ID: Final = r'"id"\s*:\s*"((?:chatcmpl|cmpl)-[^"]+)"'
_BODY_MODEL: Final = r'"model"\s*:\s*"([^"]+)"'
_BODY_FINISH: Final = r'"finish_reason"\s*:\s*"([^"]+)"'
_BODY_PROMPT: Final = r'"prompt_tokens"\s*:\s*(\d+)'
_BODY_COMPLETION: Final = r'"completion_tokens"\s*:\s*(\d+)'


def _ticks(text: pl.Expr) -> pl.Expr:
    """A UTC timestamp from .NET ticks; null when not a plausible tick count."""
    ticks = text.str.strip_chars().cast(pl.Int64, strict=False)  # exact: no float on the way
    micros = (ticks - EPOCH_TICKS) // 10
    return pl.when(ticks > EPOCH_TICKS).then(
        micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    )


def _host(url: pl.Expr) -> pl.Expr:
    return url.str.extract(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]+)", 1)


def event_columns(
    timezone: str,
) -> tuple[list[list[pl.Expr]], list[pl.Expr], dict[str, pl.Expr], dict[str, pl.Expr]]:
    """Canonical columns of one record row (see ``parser._with_fields`` for its columns), its
    ids by kind and its attributes by key (built into ``ids`` and ``attributes`` by
    :mod:`attrs`), and the stages before them: intermediate columns (``_e_*``) that several of
    them read, each computed once (``frame.with_columns(stage)`` for each stage, in order)."""
    del timezone  # the time was parsed with the source's zone already
    f = pl.col
    stages = [
        [
            f("t_category").str.to_lowercase().alias("_e_category"),
            _ticks(f("f_request_time")).alias("_e_requested"),
            _ticks(f("f_response_time")).alias("_e_responded"),
            integer(f("t_result_signature").str.extract(r"^\s*(\d{3})\s*$", 1)).alias(
                "_e_signature"
            ),
            pl.coalesce(f("c_response_body"), f("c_backend_response_body")).alias("_e_body"),
            _host(f("f_backend_url")).alias("_e_backend_host"),
            f("t_level")
            .str.to_lowercase()
            .replace_strict(fields.LEVELS, default=None, return_dtype=pl.String)
            .alias("_e_level"),
        ],
        [
            pl.coalesce(integer(f("f_response_code")), f("_e_signature")).alias("_e_code"),
            f("_e_body").str.extract(_BODY_ERROR, 1).alias("_e_body_error"),
        ],
        [pl.coalesce(f("f_last_error_reason"), f("_e_body_error")).alias("_e_error_type")],
    ]
    category = f("_e_category")
    is_rr = category.is_in(list(fields.REQUEST_RESPONSE))
    is_gateway = category.is_in(list(fields.GATEWAY))
    is_llm = category.is_in(list(fields.GATEWAY_LLM))

    requested = f("_e_requested")
    responded = f("_e_responded")
    by_ticks = requested.is_not_null()
    ts = pl.coalesce(requested, f("_ts"))
    ts_raw = pl.when(by_ticks).then(f("f_request_time")).otherwise(f("_time"))
    assumed = pl.when(by_ticks).then(False).otherwise(f("_assumed"))
    logged = number(f("t_duration"))
    tick_ms = (responded - requested).dt.total_microseconds().cast(pl.Float64) / 1000.0
    duration = pl.coalesce(
        pl.when(logged >= 0).then(logged),
        pl.when(tick_ms >= 0).then(tick_ms),
        number(f("f_total_time")),
    )

    signature = f("_e_signature")
    code = f("_e_code")
    body = f("_e_body")
    body_error = f("_e_body_error")
    error_type = f("_e_error_type")
    result = f("t_result_type").str.to_lowercase()
    success = f("t_is_success").str.to_lowercase()
    filtered = error_type.is_in(list(_CONTENT_FILTER))
    stages.append(
        [
            pl.when(filtered)
            .then(pl.lit("blocked"))
            .when(code.is_not_null())
            .then(http_status(code))
            .when(result.is_in(["succeeded", "success"]) | (success == "true"))
            .then(pl.lit("ok"))
            .when(result.is_in(["failed", "failure"]) | (success == "false"))
            .then(pl.lit("error"))
            .alias("_e_status")
        ]
    )
    status = f("_e_status")
    level = f("_e_level")
    severity = pl.coalesce(
        level,
        pl.when(status == "ok").then(pl.lit("INFO")),
        pl.when(status.is_not_null()).then(pl.lit("ERROR")),
        pl.lit("INFO"),
    )
    event_type = (
        pl.when(is_llm)
        .then(pl.lit("inference.response"))
        .when(by_ticks | is_rr | is_gateway)
        .then(pl.lit("http.request"))
        .otherwise(pl.lit("server.log"))
    )
    url = f("f_url")
    backend_host = f("_e_backend_host")
    azure_backend = backend_host.str.contains(r"(?i)\.(?:openai|cognitiveservices)\.azure\.com$")
    resource = f("t_resource_id").str.extract(r"/([^/]+)/?$", 1)
    model = pl.coalesce(f("f_model"), body.str.extract(_BODY_MODEL, 1))
    request_id = f("f_request_id")
    chatcmpl = pl.coalesce(
        pl.when(is_openai_id(request_id)).then(request_id), body.str.extract(_BODY_ID, 1)
    )
    correlation = pl.coalesce(f("t_correlation_id"), f("f_correlation_id"))
    completion = pl.coalesce(
        body.str.json_path_match("$.choices[0].message.content"),
        f("c_response_messages"),
        body,
    )
    columns = [
        f("source_line"),
        ts.alias("ts_source"),
        ts_raw.alias("ts_raw"),
        assumed.alias("ts_assumed_tz"),
        duration.round(6).alias("duration_ms"),
        event_type.alias("event_type"),
        severity.alias("severity"),
        status.alias("status"),
        code.alias("status_code"),
        error_type.alias("error_type"),
        pl.coalesce(
            f("f_last_error_message"),
            f("t_result_description"),
            f("f_message"),
            f("t_operation"),
        ).alias("message"),
        correlation.alias("request_id"),
        f("f_object_id").alias("user_id"),
        resource.alias("host"),
        pl.coalesce(f("f_method"), f("f_backend_method")).alias("http_method"),
        route(url).alias("http_route"),
        f("t_caller_ip").alias("client_address"),
        backend_host.alias("upstream"),
        model.alias("model"),
        f("f_model_version").alias("model_revision"),
        pl.when(is_rr | azure_backend.fill_null(False))
        .then(pl.lit("azure_openai"))
        .alias("provider"),
        pl.coalesce(
            integer(f("f_prompt_tokens")), integer(body.str.extract(_BODY_PROMPT, 1))
        ).alias("input_tokens"),
        pl.coalesce(
            integer(f("f_completion_tokens")), integer(body.str.extract(_BODY_COMPLETION, 1))
        ).alias("output_tokens"),
        body.str.extract(_BODY_FINISH, 1).alias("finish_reason"),
        pl.coalesce(
            f("c_request_messages"), f("c_request_body"), f("c_backend_request_body")
        ).alias("prompt_text"),
        completion.alias("completion_text"),
    ]
    attrs = {
        "category": f("t_category"),
        "operation": f("t_operation"),
        "operation_version": f("t_operation_version"),
        "result_type": f("t_result_type"),
        "result_signature": pl.when(signature.is_null()).then(f("t_result_signature")),
        "resource_id": f("t_resource_id"),
        "location": f("t_location"),
        "log_time": pl.when(by_ticks).then(f("_time")),
        "deployment": f("f_deployment"),
        "api_name": f("f_api_name"),
        "api_version": f("f_api_version"),
        "stream_type": f("f_stream_type"),
        "stream": f("f_stream"),
        "request_length": f("f_request_length"),
        "response_length": f("f_response_length"),
        "response_time": f("f_response_time"),
        "http_query": query(url),
        "url_host": _host(url),
        "backend_url": f("f_backend_url"),
        "backend_method": f("f_backend_method"),
        "backend_response_code": f("f_backend_code"),
        "backend_protocol": f("f_backend_protocol"),
        "backend_time_ms": f("f_backend_time"),
        "backend_id": f("f_backend_id"),
        "client_time_ms": f("f_client_time"),
        "client_protocol": f("f_client_protocol"),
        "client_tls_version": f("f_client_tls"),
        "total_time_ms": f("f_total_time"),
        "request_size": f("f_request_size"),
        "response_size": f("f_response_size"),
        "cache": f("f_cache"),
        "api_id": f("f_api_id"),
        "api_revision": f("f_api_revision"),
        "apim_operation_id": f("f_operation_id"),
        "product_id": f("f_product_id"),
        "apim_user_id": f("f_user"),
        "apim_subscription_id": f("f_subscription"),
        "is_request_success": f("t_is_success"),
        "azure_level": pl.when(level.is_null()).then(f("t_level")),
        "total_tokens": f("f_total_tokens"),
        "cached_tokens": f("f_cached_tokens"),
        "sequence_number": f("f_sequence"),
        "region": f("f_region"),
        "last_error_message": pl.when(f("t_result_description").is_not_null()).then(
            f("f_last_error_message")
        ),
        "last_error_source": f("f_last_error_source"),
        "last_error_section": f("f_last_error_section"),
        "last_error_scope": f("f_last_error_scope"),
        "last_error_elapsed_ms": f("f_last_error_elapsed"),
        "response_error_code": pl.when(f("f_last_error_reason").is_not_null()).then(body_error),
        # properties that are not a JSON object (a string that does not decode)
        "properties": pl.when(
            f("_props_from").is_not_null() & ~f("_props").str.starts_with("{")
        ).then(f("_props")),
    }
    ids = {
        "azure_correlation_id": correlation,
        "chatcmpl_id": chatcmpl,
        "llm_request_id": pl.when(~is_openai_id(request_id)).then(request_id),
    }
    return stages, columns, ids, attrs
