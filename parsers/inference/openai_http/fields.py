"""Field extraction for OpenAI-compatible request/response logs (JSON paths, vectorized)."""

from __future__ import annotations

import json
from typing import Any, Final

import polars as pl

from timeline.parserkit.jsonpaths import ROOT, PathSet, column_name
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


# A line that may log its response as a list of stream chunks (a hint: the decode decides).
_LISTED_HINT: Final = r'"response"\s*:\s*\['
_ORDER: Final = "__oa_order"


def extract(lines: pl.DataFrame) -> pl.DataFrame:
    """The normalized columns of every line (null where absent) plus ``shape``; the decoded
    ``$`` column (:func:`timeline.parserkit.jsonpaths.jp`) tells JSON lines from the rest (the
    other path columns are dropped once read).

    Lines that look like a response logged as a list of chunks are decoded apart from the others:
    a batch mixing ``"response": [...]`` with ``"response": {...}`` is one the strict decoder
    refuses, and the lenient reader costs several times more. Every line reads the same in either
    batch, so the split changes the speed only.
    """
    listed = lines.get_column("line").str.contains(_LISTED_HINT).fill_null(False)
    count = int(listed.sum())
    if count in (0, lines.height):
        return _extract(lines)
    indexed = lines.with_row_index(_ORDER)
    parts = [_extract(indexed.filter(listed)), _extract(indexed.filter(~listed))]
    return parts[0].merge_sorted(parts[1], key=_ORDER).drop(_ORDER)


def _extract(lines: pl.DataFrame) -> pl.DataFrame:
    """:func:`extract` on one batch: every path decoded once for all of them."""
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
    decoded = paths.decode(lines)
    scratch = [c for c in decoded.columns if c not in lines.columns and c != column_name(ROOT)]
    return decoded.with_columns(columns).drop(scratch)


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


# One stream chunk of a response logged as a list, every leaf read as text.
_CHUNK: Final = pl.Struct(
    {
        "id": pl.String(),
        "object": pl.String(),
        "model": pl.String(),
        "system_fingerprint": pl.String(),
        "created": pl.String(),
        "choices": pl.List(
            pl.Struct(
                {
                    "delta": pl.Struct({"content": pl.String()}),
                    "finish_reason": pl.String(),
                }
            )
        ),
        "usage": pl.Struct(
            {
                "prompt_tokens": pl.String(),
                "completion_tokens": pl.String(),
                "total_tokens": pl.String(),
            }
        ),
    }
)
_LISTED: Final = pl.Struct({"response": pl.List(_CHUNK)})
_SCALAR_KEYS: Final = (
    "id|object|model|system_fingerprint|created|finish_reason"
    "|prompt_tokens|completion_tokens|total_tokens"
)
# In the compact text of ``$``, values the decoder would read otherwise than ``json.loads`` and
# :func:`timeline.parserkit.values.json_text` (a float or an integer beyond 64 bits, an object or
# array where text belongs, content that is not text, usage that is not a non-empty object, a
# delta or choices of another kind). A line holding one anywhere (its envelope too) is read by
# :func:`chunk_list_rows`.
_ODD_CHUNK: Final = (
    rf'"(?:{_SCALAR_KEYS})":(?:-?\d+[.eE]|-?\d{{19}}|[\[{{]])'
    r'|"content":[^"n]'
    r'|"usage":(?:[^{n]|\{\})'
    r'|"delta":[^{n]'
    r'|"choices":[^\[n]'
)


def chunk_list_events(rows: pl.DataFrame) -> pl.DataFrame:
    """Responses logged as a list of stream chunks (``rows`` of :func:`extract`, shape
    ``chunk_list``): a first-token event and, when a chunk finished or carried usage, a final
    event per line, in the :data:`NORMAL` columns (``source_line`` order, first-token first).

    Vectorized: the chunks are decoded once from the compact text of ``$``. Lines whose values
    the decoder could read otherwise than :func:`chunk_list_rows` (see ``_ODD_CHUNK``) go through
    it, as does every line when the decoder refuses the batch (a chunk that is not an object).
    """
    if rows.height == 0:
        return pl.DataFrame(schema=NORMAL)
    whole = pl.col(column_name(ROOT))
    odd = rows.select(whole.str.contains(_ODD_CHUNK).fill_null(True)).to_series()
    plain = rows.filter(~odd)
    try:
        chunks = plain.get_column(column_name(ROOT)).str.json_decode(_LISTED)
    except pl.exceptions.PolarsError:
        return _python_chunk_lists(rows)
    events = _vector_chunk_lists(plain.with_columns(chunks.struct.field("response").alias("_c")))
    if bool(odd.any()):
        events = pl.concat([events, _python_chunk_lists(rows.filter(odd))])
    kind = pl.col("etype") == "inference.response"
    return events.sort([pl.col("source_line"), kind], maintain_order=True)


def _vector_chunk_lists(rows: pl.DataFrame) -> pl.DataFrame:
    """:func:`chunk_list_events` of lines whose chunks (list column ``_c``) decoded plainly."""
    row = "_row"
    chunk = pl.col("_c")
    choice = chunk.struct.field("choices").list.first()
    finish = choice.struct.field("finish_reason")
    usage = chunk.struct.field("usage")
    per_chunk = (
        rows.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(row), chunk)
        .explode("_c")
        .filter(chunk.is_not_null())
    )
    folded = per_chunk.group_by(row, maintain_order=True).agg(
        chunk.first().alias("_head"),
        choice.struct.field("delta")
        .struct.field("content")
        .fill_null("")
        .str.join("")
        .alias("_content"),
        finish.filter(finish.is_not_null() & (finish != "")).last().alias("_finish"),
        usage.filter(usage.is_not_null()).last().alias("_usage"),
    )
    base = (
        rows.with_row_index(row).join(folded, on=row, how="inner", maintain_order="left").drop(row)
    )
    head = pl.col("_head")
    model = head.struct.field("model")
    common = [
        head.struct.field("id").alias("resp_id"),
        head.struct.field("object").alias("object"),
        pl.when(model.is_not_null() & (model != ""))
        .then(model)
        .otherwise(pl.col("model"))
        .alias("model"),
        head.struct.field("system_fingerprint").alias("fingerprint"),
        head.struct.field("created").alias("created"),
    ]
    none = pl.lit(None, dtype=pl.String)
    first = base.with_columns(
        *common,
        pl.lit("inference.first_token").alias("etype"),
        none.alias("latency_ms"),
        *[none.alias(c) for c in _FOLDED],
    )
    usage_of = pl.col("_usage")
    last = base.filter(pl.col("_finish").is_not_null() | usage_of.is_not_null()).with_columns(
        *common,
        pl.lit("inference.response").alias("etype"),
        pl.col("_content").alias("completion"),
        pl.col("_finish").alias("finish_reason"),
        *[usage_of.struct.field(c).alias(c) for c in _TOKENS],
    )
    return pl.concat([first.select(NORMAL.names()), last.select(NORMAL.names())])


_TOKENS: Final = ("prompt_tokens", "completion_tokens", "total_tokens")
_FOLDED: Final = ("completion", "finish_reason", *_TOKENS)


def _python_chunk_lists(rows: pl.DataFrame) -> pl.DataFrame:
    """:func:`chunk_list_rows` over ``rows`` (the lines the vectorized reading leaves out)."""
    out: list[dict[str, object]] = []
    for row in rows.iter_rows(named=True):
        base = {k: row.get(k) for k in NORMAL.names()}
        out.extend(chunk_list_rows(base, str(row["line"])))
    return pl.DataFrame(out, schema=NORMAL) if out else pl.DataFrame(schema=NORMAL)
