"""Map vLLM log records (one row per record start) onto canonical events."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference.vllm import lines as shapes
from timeline.parserkit.frame import http_status
from timeline.parserkit.ids import id_list, is_openai_id
from timeline.parserkit.kv import dynamic_kv, empty_kv, kv_list, pairs_series
from timeline.parserkit.pyrepr import keyword_pairs, python_string
from timeline.parserkit.text import nullify

_ID_MESSAGE: Final = (
    r"^(?:Received request|Request|Added request|Finished request|Aborted request(?:\(s\))?|Generated response) "
    r"(\S+?)(?::| details:| \(|\.?$)"
)
_PROMPT: Final = r"""(?:^|, |: )prompt: ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_OUTPUT: Final = r"""output: ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_PARAMS: Final = (
    r"params: (?:SamplingParams|PoolingParams|BeamSearchParams)\((.*?)\)"
    r"(?:, prompt_token_ids:|, lora_request:|, prompt_embeds|\.?$)"
)
_METRIC_PAIR: Final = r"[A-Za-z][A-Za-z ]*?: -?\d+(?:\.\d+)?"
_SKIP_PARAM: Final = ("None", "", "[]", "{}", "set()")


def _token_count(text: pl.Expr) -> pl.Expr:
    """Number of ids in a printed list ``[1, 2, 3]``; null for ``None``."""
    inner = text.str.strip_chars("[] ")
    return (
        pl.when(text.is_null() | ~text.str.starts_with("["))
        .then(None)
        .when(inner == "")
        .then(0)
        .otherwise(inner.str.count_matches(",") + 1)
        .cast(pl.Int64)
    )


def _message_kind() -> pl.Expr:
    m = pl.col("message")
    cases: list[tuple[pl.Expr, str]] = [
        (pl.col("method").is_not_null(), "access"),
        (m.str.contains(shapes.RECEIVED), "received"),
        (m.str.contains(shapes.DETAILS), "details"),
        (m.str.contains(shapes.ADDED), "added"),
        (m.str.contains(shapes.FINISHED) | m.str.contains(shapes.STATS), "finished"),
        (m.str.contains(shapes.ABORTED), "aborted"),
        (m.str.contains(shapes.GENERATED), "generated"),
        (m.str.contains(shapes.METRICS), "metrics"),
        (m.str.contains(shapes.CONFIG), "config"),
        (m.str.contains(shapes.ARGS), "args"),
        (m.str.contains(shapes.VERSION), "version"),
        (
            (pl.col("kind") == "uvicorn") & m.str.starts_with("Application startup complete"),
            "startup",
        ),
        (pl.col("severity").is_in(["ERROR", "FATAL"]), "error"),
    ]
    expr: pl.Expr = pl.lit("log")
    for cond, name in reversed(cases):
        expr = pl.when(cond).then(pl.lit(name)).otherwise(expr)
    return expr


def request_columns(starts: pl.DataFrame) -> pl.DataFrame:
    """Classify each record and split `Aborted request(s) a,b` into one row per id."""
    df = starts.with_columns(_message_kind().alias("mkind"))
    rid = pl.coalesce(
        pl.col("message").str.extract(_ID_MESSAGE, 1),
        pl.col("message").str.extract(r"\brequest_id=([^\s,]+)", 1),
    )
    loose = pl.col("message").str.extract(r"\b((?:chatcmpl|cmpl)-[\w-]+)", 1)
    df = df.with_columns(
        pl.when(pl.col("mkind").is_in(["error", "log"]))
        .then(loose)
        .otherwise(rid)
        .str.split(",")
        .alias("rid")
    )
    return df.explode("rid").with_columns(nullify(pl.col("rid").str.strip_chars()).alias("rid"))


def _python_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Python-literal payloads (prompt / output reprs, SamplingParams): a loop over those rows only."""
    prompts = df.get_column("prompt_repr").to_list()
    outputs = df.get_column("output_repr").to_list()
    params = df.get_column("params_text").to_list()
    return df.with_columns(
        pl.Series("prompt_text", [python_string(p) for p in prompts], dtype=pl.String),
        pl.Series("completion_text", [python_string(o) for o in outputs], dtype=pl.String),
        pairs_series([keyword_pairs(p, skip=_SKIP_PARAM) for p in params], "sampling.").alias(
            "sampling_attrs"
        ),
    )


def _deploy_columns() -> dict[str, pl.Expr]:
    m = pl.col("message")
    model = pl.coalesce(
        m.str.extract(r"(?:^|[\s,(])model='([^']*)'", 1),
        m.str.extract(r"'model': '([^']*)'", 1),
        m.str.extract(r"'model_tag': '([^']*)'", 1),
    )
    # ``revision='abc'`` (older engine configs), ``revision=abc`` (V1 prints it unquoted; ``None``
    # when unset), ``'revision': 'abc'`` in the non-default args dict.
    unquoted = m.str.extract(r"(?:^|[\s,(])revision=([^\s,')]+)", 1)
    revision = pl.coalesce(
        m.str.extract(r"(?:^|[\s,(])revision='([^']*)'", 1),
        pl.when(unquoted != "None").then(unquoted),
        m.str.extract(r"'revision': '([^']*)'", 1),
    )
    deploy = pl.col("mkind").is_in(["config", "args"])
    return {
        "model": pl.when(deploy).then(model),
        "model_revision": pl.when(deploy).then(revision),
        "vllm_version": pl.coalesce(
            m.str.extract(shapes.CONFIG, 1),
            m.str.extract(shapes.VERSION, 1).str.strip_chars_end("."),
        ),
        "served_model_name": pl.when(deploy).then(
            nullify(
                pl.coalesce(
                    m.str.extract(r"served_model_name=\[?'?([^,')\]]+)", 1),
                    m.str.extract(r"'served_model_name': \[?'([^']+)'", 1),
                )
            )
        ),
        "tokenizer": pl.when(deploy).then(m.str.extract(r"(?:^|[\s,(])tokenizer='([^']*)'", 1)),
        "dtype": pl.when(deploy).then(m.str.extract(r"(?:^|[\s,(])dtype=([\w.]+)", 1)),
        "max_seq_len": pl.when(deploy).then(m.str.extract(r"max_seq_len=(\d+)", 1)),
        "tensor_parallel_size": pl.when(deploy).then(
            m.str.extract(r"tensor_parallel_size['\"]?[=:] ?(\d+)", 1)
        ),
        "quantization": pl.when(deploy).then(
            nullify(m.str.extract(r"(?:^|[\s,(])quantization=(\w+)", 1))
        ),
    }


_EVENT_TYPE: Final = {
    "access": "http.response",
    "received": "inference.request",
    "details": "inference.request",
    "added": "inference.request",
    "finished": "inference.response",
    "aborted": "inference.response",
    "generated": "inference.response",
    "metrics": "server.metrics",
    "config": "deploy.change",
    "args": "deploy.change",
    "version": "server.start",
    "startup": "server.start",
    "error": "inference.error",
    "log": "server.log",
}


def semantic_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns for classified records."""
    m = pl.col("message")
    mkind = pl.col("mkind")
    df = df.with_columns(
        pl.when(mkind.is_in(["received", "details"]))
        .then(m.str.extract(_PROMPT, 1))
        .alias("prompt_repr"),
        pl.when(mkind == "generated").then(m.str.extract(_OUTPUT, 1)).alias("output_repr"),
        pl.when(mkind == "received").then(m.str.extract(_PARAMS, 1)).alias("params_text"),
    )
    df = _python_columns(df)
    ids = pl.col("rid").str.extract_groups(shapes.REQUEST_ID)
    base = pl.coalesce(ids.struct.field("base"), pl.col("rid"))
    core = ids.struct.field("core")
    # vLLM's own ids are 32 hex digits; anything else after the prefix came from X-Request-Id.
    forwarded = (
        pl.when(ids.struct.field("base").is_null())
        .then(pl.col("rid").str.extract(shapes.FORWARDED_ID, 1))
        .when(core.str.contains("-"))
        .then(core)
    )
    generated_stream = m.str.extract(shapes.GENERATED, 2)
    event_type = mkind.replace_strict(_EVENT_TYPE, default="server.log", return_dtype=pl.String)
    event_type = (
        pl.when(generated_stream == "streaming delta")
        .then(pl.lit("server.log"))
        .otherwise(event_type)
    )
    status = (
        pl.when(mkind == "access")
        .then(http_status(pl.col("status").cast(pl.Int64, strict=False)))
        .when(mkind.is_in(["finished", "generated"]))
        .then(pl.lit("ok"))
        .when(mkind == "aborted")
        .then(pl.lit("cancelled"))
        .when(mkind == "error")
        .then(pl.lit("error"))
    )
    short_message = (
        pl.when(mkind.is_in(["received", "details", "generated"]))
        .then(m.str.extract(r"^(.*?\S+?)(?::| details:)", 1))
        .when(mkind == "access")
        .then(pl.col("umsg"))
        .otherwise(m)
    )
    deploy = _deploy_columns()
    token_text = m.str.extract(r"prompt_token_ids: (\[[^\]]*\]|None)", 1)
    out_token_text = m.str.extract(r"output_token_ids: (\[[^\]]*\]|None)", 1)
    num_prompt = m.str.extract(r"num_prompt_tokens: (\d+)|\bprompt_tokens=(\d+)", 0)
    num_prompt = num_prompt.str.extract(r"(\d+)$", 1).cast(pl.Int64, strict=False)
    num_generated = m.str.extract(r"\bgenerated_tokens=(\d+)", 1).cast(pl.Int64, strict=False)
    code = pl.when(pl.col("code_file").is_not_null()).then(
        pl.concat_str(["code_file", "code_line"], separator=":")
    )
    traceback = pl.when(pl.col("cont_lines").list.len() > 0).then(
        pl.col("cont_lines").list.join("\n")
    )
    attrs = kv_list(
        {
            "process": pl.col("proc"),
            "pid": pl.coalesce("pid", "kpid", "apid"),
            "process_ip": pl.col("ip"),
            "logger": pl.col("klogger"),
            "code": pl.coalesce(code, pl.col("kcode")),
            "vllm_phase": pl.when(mkind.is_in(["received", "details", "added"])).then(mkind),
            "stream": generated_stream,
            "engine": pl.when(mkind == "metrics").then(m.str.extract(r"^Engine (\d+):", 1)),
            "client_port": pl.col("port"),
            "http_protocol": pl.col("proto"),
            "http_query": pl.col("query"),
            "params_type": m.str.extract(r"params: (\w+Params)\(", 1),
            "lora_name": m.str.extract(r"lora_name='([^']*)'", 1),
            "vllm_version": deploy["vllm_version"],
            "served_model_name": deploy["served_model_name"],
            "tokenizer": deploy["tokenizer"],
            "dtype": deploy["dtype"],
            "max_seq_len": deploy["max_seq_len"],
            "tensor_parallel_size": deploy["tensor_parallel_size"],
            "quantization": deploy["quantization"],
            "traceback": traceback,
        }
    )
    metrics = pl.when(mkind == "metrics").then(dynamic_kv(m.str.extract_all(_METRIC_PAIR)))
    all_attrs = pl.concat_list(
        attrs, pl.col("sampling_attrs").fill_null(empty_kv()), metrics.fill_null(empty_kv())
    )
    is_request = ~mkind.is_in(["access", "metrics", "config", "args", "version", "startup"])
    rid = pl.when(is_request).then(pl.col("rid"))
    return df.select(
        "source_line",
        "ts_source",
        "ts_raw",
        "ts_assumed_tz",
        pl.lit("inference").alias("layer"),
        event_type.alias("event_type"),
        pl.col("severity"),
        status.alias("status"),
        pl.when(mkind == "access")
        .then(pl.col("status").cast(pl.Int64, strict=False))
        .alias("status_code"),
        pl.when(mkind == "error").then(pl.col("tb_error")).alias("error_type"),
        short_message.alias("message"),
        pl.when(is_request).then(base).alias("request_id"),
        id_list(
            {
                "chatcmpl_id": pl.when(is_openai_id(base)).then(pl.when(is_request).then(base)),
                "x_request_id": pl.when(is_request).then(forwarded),
                "vllm_request_id": rid,
            }
        ).alias("ids"),
        pl.when(mkind == "access").then(pl.col("method")).alias("http_method"),
        pl.when(mkind == "access").then(pl.col("path")).alias("http_route"),
        pl.when(mkind == "access").then(pl.col("client")).alias("client_address"),
        deploy["model"].alias("model"),
        deploy["model_revision"].alias("model_revision"),
        pl.lit("vllm").alias("provider"),
        pl.coalesce(_token_count(token_text), num_prompt).alias("input_tokens"),
        pl.coalesce(_token_count(out_token_text), num_generated).alias("output_tokens"),
        pl.when(mkind == "generated")
        .then(nullify(m.str.extract(r"finish_reason: (\w+)", 1)))
        .alias("finish_reason"),
        pl.col("prompt_text"),
        pl.col("completion_text"),
        all_attrs.alias("attributes"),
    )
