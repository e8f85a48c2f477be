"""Field extraction for OpenAI-compatible request/response logs (JSON paths, vectorized)."""

from __future__ import annotations

import json
from typing import Any, Final

import polars as pl

from timeline.parserkit.jsonpaths import PathSet
from timeline.parserkit.values import dig, json_text

# The normalized columns every record is reduced to before the canonical mapping.
NORMAL: Final = pl.Schema(
    {
        "source_line": pl.Int64(),
        "etype": pl.String(),
        "ts_text": pl.String(),
        "created": pl.String(),
        "caller_id": pl.String(),
        "resp_id": pl.String(),
        "object": pl.String(),
        "model": pl.String(),
        "fingerprint": pl.String(),
        "prompt_tokens": pl.String(),
        "completion_tokens": pl.String(),
        "total_tokens": pl.String(),
        "finish_reason": pl.String(),
        "completion": pl.String(),
        "prompt": pl.String(),
        "err_type": pl.String(),
        "err_code": pl.String(),
        "err_message": pl.String(),
        "status_code": pl.String(),
        "latency_ms": pl.String(),
        "ttft_ms": pl.String(),
        "endpoint": pl.String(),
        "stream": pl.String(),
        "temperature": pl.String(),
        "max_tokens": pl.String(),
        "user": pl.String(),
        "provider": pl.String(),
        "req_model": pl.String(),
    }
)


def extract(lines: pl.DataFrame) -> pl.DataFrame:
    """The normalized columns of every line (null where absent) plus ``shape``; the decoded
    ``$`` column (:func:`timeline.parserkit.jsonpaths.jp`) tells JSON lines from the rest."""
    paths = PathSet()  # every path read below, decoded once for all of them
    jp, head, first = paths.value, paths.head, paths.first

    def resp(field: str) -> pl.Expr:
        """A field of the response: enveloped (``$.response.x``) or bare (``$.x``)."""
        return first(f"$.response.{field}", f"$.{field}")

    whole = jp("$")
    is_object = whole.str.starts_with("{")
    obj = resp("object")
    error_type = first("$.response.error.type", "$.error.type")
    error_code = first("$.response.error.code", "$.error.code")
    response_head = head("$.response")
    has_choices = pl.coalesce(head("$.response.choices"), head("$.choices")).is_not_null() | (
        pl.coalesce(head("$.response.usage"), head("$.usage")).is_not_null()
    )
    shape = (
        pl.when(~is_object.fill_null(False))
        .then(pl.lit(None, dtype=pl.String))
        .when(error_type.is_not_null() | error_code.is_not_null())
        .then(pl.lit("error"))
        .when(response_head == "[")
        .then(pl.lit("chunk_list"))
        .when(obj.str.ends_with(".chunk"))
        .then(pl.lit("chunk"))
        .when(obj.is_in(["chat.completion", "text_completion"]) | (has_choices & obj.is_null()))
        .then(pl.lit("response"))
        .when((head("$.request") == "{") & response_head.is_null())
        .then(pl.lit("request"))
    )
    completion = pl.coalesce(
        resp("choices[0].message.content"),
        resp("choices[0].text"),
        resp("choices[0].delta.content"),
    )
    prompt = pl.coalesce(
        jp("$.request.messages[-1:].content"), jp("$.request.prompt"), jp("$.request.input")
    )
    columns = [
        shape.alias("shape"),
        pl.lit(None, dtype=pl.String).alias("etype"),
        first("$.ts", "$.timestamp", "$.time", "$.start_time").alias("ts_text"),
        resp("created").alias("created"),
        first(
            "$.request_id",
            "$.x_request_id",
            "$.headers['x-request-id']",
            "$.request_headers['x-request-id']",
            "$.metadata.request_id",
        ).alias("caller_id"),
        resp("id").alias("resp_id"),
        obj.alias("object"),
        pl.coalesce(resp("model"), jp("$.request.model")).alias("model"),
        resp("system_fingerprint").alias("fingerprint"),
        resp("usage.prompt_tokens").alias("prompt_tokens"),
        resp("usage.completion_tokens").alias("completion_tokens"),
        resp("usage.total_tokens").alias("total_tokens"),
        resp("choices[0].finish_reason").alias("finish_reason"),
        completion.alias("completion"),
        prompt.alias("prompt"),
        error_type.alias("err_type"),
        error_code.alias("err_code"),
        first("$.response.error.message", "$.error.message").alias("err_message"),
        first("$.status_code", "$.status").alias("status_code"),
        first("$.latency_ms", "$.duration_ms").alias("latency_ms"),
        first("$.ttft_ms", "$.time_to_first_token_ms").alias("ttft_ms"),
        first("$.endpoint", "$.path", "$.url").alias("endpoint"),
        jp("$.request.stream").alias("stream"),
        jp("$.request.temperature").alias("temperature"),
        first("$.request.max_tokens", "$.request.max_completion_tokens").alias("max_tokens"),
        first("$.user", "$.request.user").alias("user"),
        jp("$.provider").alias("provider"),
        jp("$.request.model").alias("req_model"),
    ]
    return paths.decode(lines).with_columns(columns)


def chunk_list_rows(base: dict[str, Any], line: str) -> list[dict[str, Any]]:
    """A response logged as a list of stream chunks: a first-token and a final event.

    ``base`` holds the envelope columns already extracted; the chunks are decoded here
    (the one layout the JSON-path extraction cannot fold).
    """
    try:
        chunks = json.loads(line).get("response")
    except (ValueError, AttributeError, RecursionError):
        return []
    if not isinstance(chunks, list) or not chunks:
        return []
    chunks = [c for c in chunks if isinstance(c, dict)]
    if not chunks:
        return []
    head = chunks[0]
    parts: list[str] = []
    finish: str | None = None
    usage: Any = None
    for chunk in chunks:
        content = dig(chunk, "choices", 0, "delta", "content")
        if isinstance(content, str):
            parts.append(content)
        finish = json_text(dig(chunk, "choices", 0, "finish_reason")) or finish
        usage = dig(chunk, "usage") or usage
    common = {
        **base,
        "resp_id": json_text(head.get("id")),
        "object": json_text(head.get("object")),
        "model": json_text(head.get("model")) or base.get("model"),
        "fingerprint": json_text(head.get("system_fingerprint")),
        "created": json_text(head.get("created")),
        "completion": None,
        "finish_reason": None,
        "prompt_tokens": None,
        "completion_tokens": None,
        "total_tokens": None,
    }
    rows = [{**common, "etype": "inference.first_token", "latency_ms": None}]
    if finish is not None or usage is not None:
        rows.append(
            {
                **common,
                "etype": "inference.response",
                "completion": "".join(parts),
                "finish_reason": finish,
                "prompt_tokens": json_text(dig(usage, "prompt_tokens")),
                "completion_tokens": json_text(dig(usage, "completion_tokens")),
                "total_tokens": json_text(dig(usage, "total_tokens")),
            }
        )
    return rows
