"""Canonical events from TGI records, shared by the text and the JSON parser.

Both parsers first build a frame with these text columns: ``ts_text``, ``level``, ``target``,
``code``, ``msg``, ``span_name``, ``total_time``, ``validation_time``, ``queue_time``,
``inference_time``, ``time_per_token``, ``seed``, ``parameters``, plus ``source_line``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit.durations import go_duration_ms
from timeline.parserkit.frame import severity
from timeline.parserkit.kv import kv_column
from timeline.parserkit.text import nullify
from timeline.parserkit.timestamps import parse_iso8601

# InferError's Display texts (router/src/infer/mod.rs) -> the `err` label of tgi_request_failure.
_ERRORS: Final = (
    (r"^Request failed during generation", "generation"),
    (r"^Request failed during scheduling", "scheduling"),
    (r"^Model is overloaded", "overloaded"),
    (r"^Input validation error", "validation"),
    (r"^Incomplete generation", "incomplete_generation"),
    (r"^Template error", "template_error"),
    (r"^Tool error", "tool_error"),
    (r"^Entry response channel error", "dropped"),
)

TGI_TARGET: Final = r"^text_generation_"
TIMING: Final = ("total_time", "validation_time", "queue_time", "inference_time", "time_per_token")
EMPTY: Final = pl.Schema({"source_line": pl.Int64()})

# Request handlers whose span carries the timing fields.
HANDLERS: Final = (
    "compat_generate",
    "generate",
    "generate_stream",
    "chat_completions",
    "completions",
    "vertex_compatibility",
    "sagemaker_compatibility",
    "kserve_model_infer",
)


def _error_type(msg: pl.Expr) -> pl.Expr:
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for pattern, name in reversed(_ERRORS):
        expr = pl.when(msg.str.contains(pattern)).then(pl.lit(name)).otherwise(expr)
    return expr


def _kind() -> pl.Expr:
    msg = pl.col("msg")
    level = pl.col("severity")
    cases: list[tuple[pl.Expr, str]] = [
        (msg.str.starts_with("Args {"), "args"),
        (level.is_in(["ERROR", "FATAL"]), "error"),
        ((msg == "Success") & pl.col("total_time").is_not_null(), "success"),
        (msg.str.starts_with("Input: "), "input"),
        (msg.str.starts_with("Output: "), "output"),
        (msg == "Connected", "connected"),
    ]
    expr: pl.Expr = pl.lit("log")
    for cond, name in reversed(cases):
        expr = pl.when(cond).then(pl.lit(name)).otherwise(expr)
    return expr


_EVENT_TYPE: Final = {
    "args": "deploy.change",
    "error": "inference.error",
    "success": "inference.response",
    "input": "inference.request",
    "output": "server.log",
    "connected": "server.start",
    "log": "server.log",
}


def _rust_option(expr: pl.Expr) -> pl.Expr:
    """``Some("x")`` / ``Some(42)`` -> ``x`` / ``42``; ``None`` -> null."""
    text = expr.str.strip_chars()
    inner = text.str.extract(r'^Some\("?(.*?)"?\)$', 1)
    return nullify(pl.coalesce(inner, text))


def tgi_events(frame: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Map normalized TGI records onto canonical columns."""
    ts = parse_iso8601(pl.col("ts_text"), timezone)
    df = frame.with_columns(severity(pl.col("level")).alias("severity"))
    df = df.with_columns(_kind().alias("kind"))
    msg = pl.col("msg")
    kind = pl.col("kind")
    args = pl.when(kind == "args")
    model = args.then(msg.str.extract(r'\bmodel_id: "([^"]*)"', 1))
    revision = args.then(_rust_option(msg.str.extract(r"\brevision: (None|Some\([^)]*\))", 1)))
    body = pl.col("msg").str.replace(r"^(?:Input|Output): ", "")
    text = pl.concat_str([body, pl.col("cont_text")], separator="\n", ignore_nulls=True)
    params = pl.col("parameters")
    attrs = kv_column(
        df,
        {
            "target": pl.col("target"),
            "code": pl.col("code"),
            "span": pl.col("span_name"),
            "validation_time_ms": go_duration_ms(pl.col("validation_time")),
            "queue_time_ms": go_duration_ms(pl.col("queue_time")),
            "inference_time_ms": go_duration_ms(pl.col("inference_time")),
            "time_per_token_ms": go_duration_ms(pl.col("time_per_token")),
            "seed": _rust_option(pl.col("seed")),
            "max_new_tokens": _rust_option(params.str.extract(r"max_new_tokens: ([^,}]+)", 1)),
            "temperature": _rust_option(params.str.extract(r"\btemperature: ([^,}]+)", 1)),
            "top_p": _rust_option(params.str.extract(r"\btop_p: ([^,}]+)", 1)),
            "do_sample": params.str.extract(r"\bdo_sample: (\w+)", 1),
            "adapter_id": _rust_option(params.str.extract(r"\badapter_id: ([^,}]+)", 1)),
            "dtype": args.then(_rust_option(msg.str.extract(r"\bdtype: ([^,}]+)", 1))),
            "quantize": args.then(_rust_option(msg.str.extract(r"\bquantize: ([^,}]+)", 1))),
            "num_shard": args.then(_rust_option(msg.str.extract(r"\bnum_shard: ([^,}]+)", 1))),
            "max_input_tokens": args.then(
                _rust_option(msg.str.extract(r"\bmax_input_tokens: ([^,}]+)", 1))
            ),
            "max_total_tokens": args.then(
                _rust_option(msg.str.extract(r"\bmax_total_tokens: ([^,}]+)", 1))
            ),
        },
    )
    short_message = (
        pl.when(kind == "input")
        .then(pl.lit("Input"))
        .when(kind == "output")
        .then(pl.lit("Output"))
        .otherwise(pl.concat_str([msg, pl.col("cont_text")], separator="\n", ignore_nulls=True))
    )
    return df.select(
        "source_line",
        ts.ts.alias("ts_source"),
        pl.col("ts_text").alias("ts_raw"),
        ts.assumed_tz.alias("ts_assumed_tz"),
        pl.lit("inference").alias("layer"),
        kind.replace_strict(_EVENT_TYPE, default="server.log", return_dtype=pl.String).alias(
            "event_type"
        ),
        "severity",
        pl.when(kind == "success")
        .then(pl.lit("ok"))
        .when(kind == "error")
        .then(pl.lit("error"))
        .alias("status"),
        pl.when(kind == "error").then(_error_type(msg)).alias("error_type"),
        short_message.alias("message"),
        go_duration_ms(pl.col("total_time")).alias("duration_ms"),
        model.alias("model"),
        revision.alias("model_revision"),
        pl.lit("tgi").alias("provider"),
        pl.when(kind == "input").then(text).alias("prompt_text"),
        pl.when(kind == "output").then(text).alias("completion_text"),
        attrs.alias("attributes"),
    )
