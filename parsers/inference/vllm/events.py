"""Map vLLM log records (one row per record start) onto canonical events."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference.vllm import lines as shapes
from parsers.inference.vllm.reprs import keyword_attrs, python_strings
from timeline.parserkit.frame import http_status
from timeline.parserkit.ids import id_list, is_openai_id
from timeline.parserkit.kv import dynamic_kv, kv_list
from timeline.parserkit.text import concat_lists, nullify, on_rows

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
    m = pl.col("message")
    loose_kind = pl.col("mkind").is_in(["error", "log"])
    # each regex on the rows that can match it (a literal it needs, or the kind that reads it)
    df = on_rows(df, ~loose_kind, {"_rid_a": m.str.extract(_ID_MESSAGE, 1)})
    df = on_rows(
        df,
        ~loose_kind & m.str.contains("request_id=", literal=True),
        {"_rid_b": m.str.extract(r"\brequest_id=([^\s,]+)", 1)},
    )
    df = on_rows(
        df,
        loose_kind & m.str.contains("cmpl-", literal=True),
        {"_loose": m.str.extract(r"\b((?:chatcmpl|cmpl)-[\w-]+)", 1)},
    )
    df = df.with_columns(
        pl.when(loose_kind)
        .then(pl.col("_loose"))
        .otherwise(pl.coalesce("_rid_a", "_rid_b"))
        .str.split(",")
        .alias("rid")
    ).drop("_rid_a", "_rid_b", "_loose")
    return df.explode("rid").with_columns(nullify(pl.col("rid").str.strip_chars()).alias("rid"))


def _python_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Python-literal payloads (prompt / output reprs, SamplingParams): read by polars when the
    literal has no escapes, else in Python once per distinct text (:mod:`.reprs`)."""
    return df.with_columns(
        python_strings(df.get_column("prompt_repr")).alias("prompt_text"),
        python_strings(df.get_column("output_repr")).alias("completion_text"),
        keyword_attrs(df.get_column("params_text"), "sampling.", skip=_SKIP_PARAM).alias(
            "sampling_attrs"
        ),
    )


def _deploy_columns() -> dict[str, pl.Expr]:
    """Deployment fields of a config / args record (evaluated on those rows only)."""
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
    return {
        "model": model,
        "model_revision": revision,
        "served_model_name": nullify(
            pl.coalesce(
                m.str.extract(r"served_model_name=\[?'?([^,')\]]+)", 1),
                m.str.extract(r"'served_model_name': \[?'([^']+)'", 1),
            )
        ),
        "tokenizer": m.str.extract(r"(?:^|[\s,(])tokenizer='([^']*)'", 1),
        "dtype": m.str.extract(r"(?:^|[\s,(])dtype=([\w.]+)", 1),
        "max_seq_len": m.str.extract(r"max_seq_len=(\d+)", 1),
        "tensor_parallel_size": m.str.extract(r"tensor_parallel_size['\"]?[=:] ?(\d+)", 1),
        "quantization": nullify(m.str.extract(r"(?:^|[\s,(])quantization=(\w+)", 1)),
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
    """Canonical columns for classified records.

    The costly text reads run on the rows that can hold their field only
    (:func:`~timeline.parserkit.text.on_rows`): the kind that reads it, or a literal its regex
    needs; elsewhere the field is null, as the row-wide expression gave."""
    m = pl.col("message")
    mkind = pl.col("mkind")

    def has(text: str) -> pl.Expr:
        return m.str.contains(text, literal=True)

    df = on_rows(
        df,
        mkind.is_in(["received", "details"]) & has("prompt: "),
        {"prompt_repr": m.str.extract(_PROMPT, 1)},
    )
    df = on_rows(
        df, (mkind == "generated") & has("output: "), {"output_repr": m.str.extract(_OUTPUT, 1)}
    )
    df = on_rows(
        df, (mkind == "received") & has("params: "), {"params_text": m.str.extract(_PARAMS, 1)}
    )
    df = _python_columns(df)
    df = on_rows(
        df,
        m.str.starts_with("Generated response "),
        {"_stream": m.str.extract(shapes.GENERATED, 2)},
    )
    df = on_rows(
        df,
        mkind.is_in(["received", "details", "generated"]),
        {"_short": m.str.extract(r"^(.*?\S+?)(?::| details:)", 1)},
    )
    df = on_rows(df, mkind.is_in(["config", "args"]), _deploy_columns())
    df = on_rows(
        df,
        has("LLM engine ") | has("vLLM API server version "),
        {
            "vllm_version": pl.coalesce(
                m.str.extract(shapes.CONFIG, 1),
                m.str.extract(shapes.VERSION, 1).str.strip_chars_end("."),
            )
        },
    )
    token_text = m.str.extract(r"prompt_token_ids: (\[[^\]]*\]|None)", 1)
    out_token_text = m.str.extract(r"output_token_ids: (\[[^\]]*\]|None)", 1)
    num_prompt = m.str.extract(r"num_prompt_tokens: (\d+)|\bprompt_tokens=(\d+)", 0)
    num_prompt = num_prompt.str.extract(r"(\d+)$", 1).cast(pl.Int64, strict=False)
    num_generated = m.str.extract(r"\bgenerated_tokens=(\d+)", 1).cast(pl.Int64, strict=False)
    df = on_rows(
        df,
        has("_token"),
        {
            "input_tokens": pl.coalesce(_token_count(token_text), num_prompt),
            "output_tokens": pl.coalesce(_token_count(out_token_text), num_generated),
        },
    )
    df = on_rows(
        df,
        (mkind == "generated") & has("finish_reason: "),
        {"finish_reason": nullify(m.str.extract(r"finish_reason: (\w+)", 1))},
    )
    df = on_rows(
        df,
        mkind == "metrics",
        {
            "_engine": m.str.extract(r"^Engine (\d+):", 1),
            "_metrics": dynamic_kv(m.str.extract_all(_METRIC_PAIR)),
        },
    )
    df = on_rows(df, has("params: "), {"_params_type": m.str.extract(r"params: (\w+Params)\(", 1)})
    df = on_rows(df, has("lora_name='"), {"_lora": m.str.extract(r"lora_name='([^']*)'", 1)})
    ids = pl.col("rid").str.extract_groups(shapes.REQUEST_ID)
    # vLLM's own ids are 32 hex digits; anything else after the prefix came from X-Request-Id.
    is_request = ~mkind.is_in(["access", "metrics", "config", "args", "version", "startup"])
    df = on_rows(
        df,
        is_request & pl.col("rid").is_not_null(),
        {
            "_base": pl.coalesce(ids.struct.field("base"), pl.col("rid")),
            "_forwarded": pl.when(ids.struct.field("base").is_null())
            .then(pl.col("rid").str.extract(shapes.FORWARDED_ID, 1))
            .when(ids.struct.field("core").str.contains("-"))
            .then(ids.struct.field("core")),
        },
    )
    base = pl.col("_base")
    generated_stream = pl.col("_stream")
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
        .then(pl.col("_short"))
        .when(mkind == "access")
        .then(pl.col("umsg"))
        .otherwise(m)
    )
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
            "engine": pl.col("_engine"),
            "client_port": pl.col("port"),
            "http_protocol": pl.col("proto"),
            "http_query": pl.col("query"),
            "params_type": pl.col("_params_type"),
            "lora_name": pl.col("_lora"),
            "vllm_version": pl.col("vllm_version"),
            "served_model_name": pl.col("served_model_name"),
            "tokenizer": pl.col("tokenizer"),
            "dtype": pl.col("dtype"),
            "max_seq_len": pl.col("max_seq_len"),
            "tensor_parallel_size": pl.col("tensor_parallel_size"),
            "quantization": pl.col("quantization"),
            "traceback": traceback,
        }
    )
    df = df.with_columns(attrs.alias("_attrs"))
    all_attrs = concat_lists(df, ["_attrs", "sampling_attrs", "_metrics"], "attributes")
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
                "x_request_id": pl.when(is_request).then(pl.col("_forwarded")),
                "vllm_request_id": rid,
            }
        ).alias("ids"),
        pl.when(mkind == "access").then(pl.col("method")).alias("http_method"),
        pl.when(mkind == "access").then(pl.col("path")).alias("http_route"),
        pl.when(mkind == "access").then(pl.col("client")).alias("client_address"),
        pl.col("model"),
        pl.col("model_revision"),
        pl.lit("vllm").alias("provider"),
        pl.col("input_tokens"),
        pl.col("output_tokens"),
        pl.col("finish_reason"),
        pl.col("prompt_text"),
        pl.col("completion_text"),
        all_attrs,
    )
