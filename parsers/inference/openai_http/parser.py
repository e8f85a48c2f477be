"""OpenAI-compatible request/response logs (JSON lines) as a proxy or client writes them.

Accepted per line:

* an envelope ``{"ts", "request_id", "request": {...}, "response": {...} | [chunks], "latency_ms",
  "status_code"}`` (aliases: ``timestamp``/``time``, ``x_request_id``, ``headers['x-request-id']``,
  ``duration_ms``, ``status``, ``ttft_ms``);
* a bare response object (``chat.completion`` / ``text_completion``), a bare error
  ``{"error": {...}}``, or one stream chunk (``chat.completion.chunk``) per line.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference.openai_http.fields import NORMAL, chunk_list_events, extract
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source, marks
from timeline.parserkit.frame import http_status
from timeline.parserkit.http import route
from timeline.parserkit.ids import id_list, is_openai_id
from timeline.parserkit.jsonpaths import ROOT, jp
from timeline.parserkit.kv import kv_list
from timeline.parserkit.text import nullify
from timeline.parserkit.timestamps import parse_epoch, parse_guess

_SINGLE: Final = {
    "response": "inference.response",
    "error": "inference.error",
    "request": "inference.request",
}
_EMPTY: Final = pl.Schema({"source_line": pl.Int64()})
# A stream with a line among a chunk's last lines is carried whole to the next chunk.
STREAM_TAIL_LINES: Final = 64


def _chunk_events(chunks: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Stream chunks one per line, grouped by request: first chunk and the finishing chunk."""
    if chunks.height == 0:
        return pl.DataFrame(schema=NORMAL), 0
    key = pl.coalesce("caller_id", "resp_id", pl.col("source_line").cast(pl.String))
    chunks = chunks.with_columns(key.alias("_key"))
    finish_line = pl.col("source_line").filter(pl.col("finish_reason").is_not_null()).first()
    groups = chunks.group_by("_key", maintain_order=True).agg(
        pl.len().alias("_n"),
        pl.col("source_line").first().alias("_first"),
        finish_line.alias("_finish"),
        pl.col("completion").fill_null("").str.join("").alias("_content"),
        pl.col("finish_reason").drop_nulls().first().alias("_reason"),
        *[
            pl.col(c).drop_nulls().first().alias(f"_{c}")
            for c in ("prompt_tokens", "completion_tokens", "total_tokens")
        ],
    )
    base = chunks.join(groups, on="_key", how="inner")
    first = base.filter(pl.col("source_line") == pl.col("_first")).with_columns(
        pl.lit("inference.first_token").alias("etype"),
        pl.lit(None, dtype=pl.String).alias("completion"),
        pl.lit(None, dtype=pl.String).alias("finish_reason"),
        pl.lit(None, dtype=pl.String).alias("prompt_tokens"),
        pl.lit(None, dtype=pl.String).alias("completion_tokens"),
        pl.lit(None, dtype=pl.String).alias("total_tokens"),
    )
    last = base.filter(pl.col("source_line") == pl.col("_finish")).with_columns(
        pl.lit("inference.response").alias("etype"),
        pl.col("_content").alias("completion"),
        pl.col("_reason").alias("finish_reason"),
        pl.col("_prompt_tokens").alias("prompt_tokens"),
        pl.col("_completion_tokens").alias("completion_tokens"),
        pl.col("_total_tokens").alias("total_tokens"),
    )
    event_lines = pl.concat([first.get_column("source_line"), last.get_column("source_line")])
    merged = chunks.height - event_lines.n_unique()
    events = pl.concat([first.select(NORMAL.names()), last.select(NORMAL.names())])
    return events, merged


def _timestamp(
    frame: pl.DataFrame, timezone: str
) -> tuple[pl.DataFrame, pl.Expr, pl.Expr, pl.Expr]:
    """The record's time (ISO 8601 or an epoch number), else the response's ``created``: the
    frame with both parsed once (``_logged_ts``, ``_logged_assumed``, ``_created_ts``) and the
    time, raw text and assumed-zone expressions over those columns."""
    text = pl.col("ts_text")
    logged = parse_guess(text, timezone)
    created = parse_epoch(pl.col("created"), "epoch_s")
    frame = frame.with_columns(
        logged.ts.alias("_logged_ts"),
        logged.assumed_tz.alias("_logged_assumed"),
        created.ts.alias("_created_ts"),
    )
    logged_ts, created_ts = pl.col("_logged_ts"), pl.col("_created_ts")
    ts = pl.coalesce(logged_ts, created_ts)
    assumed = (
        pl.when(logged_ts.is_not_null())
        .then(pl.col("_logged_assumed"))
        .when(created_ts.is_not_null())
        .then(False)
    )
    raw = pl.when(logged_ts.is_not_null()).then(text).otherwise(pl.col("created"))
    return frame, ts, raw, assumed


def _canonical(frame: pl.DataFrame, timezone: str) -> pl.DataFrame:
    frame, ts, raw, assumed = _timestamp(frame, timezone)
    etype = pl.col("etype")
    code = pl.col("status_code").cast(pl.Int64, strict=False)
    err_text = pl.concat_str(
        [pl.col("err_type"), pl.col("err_code")], separator=" ", ignore_nulls=True
    )
    error_status = (
        pl.when((code == 429) | err_text.str.contains(r"rate_limit|insufficient_quota"))
        .then(pl.lit("rate_limited"))
        .when(code.is_in([408, 504]) | err_text.str.contains("timeout"))
        .then(pl.lit("timeout"))
        .otherwise(pl.lit("error"))
    )
    status = (
        pl.when(etype == "inference.error")
        .then(error_status)
        .when(etype == "inference.response")
        .then(pl.coalesce(http_status(code), pl.lit("ok")))
    )
    resp_id = pl.col("resp_id")
    openai_id = is_openai_id(resp_id)
    not_first = etype != "inference.first_token"
    attrs = kv_list(
        {
            "object": pl.col("object"),
            "requested_model": pl.when(pl.col("req_model") != pl.col("model")).then(
                pl.col("req_model")
            ),
            "created": pl.col("created"),
            "total_tokens": pl.col("total_tokens"),
            "stream": pl.col("stream"),
            "temperature": pl.col("temperature"),
            "max_tokens": pl.col("max_tokens"),
            "openai_error_type": pl.when(pl.col("err_code").is_not_null()).then(pl.col("err_type")),
        }
    )
    return frame.select(
        "source_line",
        ts.alias("ts_source"),
        raw.alias("ts_raw"),
        assumed.alias("ts_assumed_tz"),
        pl.lit("inference").alias("layer"),
        etype.alias("event_type"),
        pl.when(etype == "inference.error")
        .then(pl.lit("ERROR"))
        .otherwise(pl.lit("INFO"))
        .alias("severity"),
        status.alias("status"),
        pl.when(not_first).then(code).alias("status_code"),
        nullify(pl.coalesce("err_code", "err_type")).alias("error_type"),
        pl.col("err_message").alias("message"),
        pl.coalesce("caller_id", resp_id).alias("request_id"),
        id_list(
            {
                "chatcmpl_id": pl.when(openai_id).then(resp_id),
                "response_id": pl.when(~openai_id).then(resp_id),
                "x_request_id": pl.col("caller_id"),
            }
        ).alias("ids"),
        nullify(pl.col("user")).alias("user_id"),
        pl.when(not_first)
        .then(pl.col("latency_ms").cast(pl.Float64, strict=False))
        .alias("duration_ms"),
        route(pl.col("endpoint")).alias("http_route"),
        pl.col("model"),
        pl.col("fingerprint").alias("model_revision"),
        pl.col("provider"),
        pl.col("prompt_tokens").cast(pl.Int64, strict=False).alias("input_tokens"),
        pl.col("completion_tokens").cast(pl.Int64, strict=False).alias("output_tokens"),
        pl.col("ttft_ms").cast(pl.Float64, strict=False).alias("ttft_ms"),
        nullify(pl.col("finish_reason")).alias("finish_reason"),
        pl.when(not_first).then(pl.col("prompt")).alias("prompt_text"),
        pl.col("completion").alias("completion_text"),
        attrs.alias("attributes"),
    )


class OpenAIHttpParser:
    """OpenAI-compatible request/response JSON lines (envelopes, bare responses, stream chunks)."""

    name = "openai_http"
    layer = "inference"
    description = (
        "OpenAI-compatible request/response JSON lines (proxy or client logs, stream chunks)"
    )
    multiline = True

    def sniff(self, sample: Sample) -> float:
        """High when JSON lines carry OpenAI response shapes (chat.completion, chatcmpl- ids)."""
        if not sample.lines:
            return 0.0
        df = extract(sample.frame())
        shaped = df.get_column("shape").is_not_null()
        typical = (
            df.get_column("object").str.contains(r"^(?:chat\.completion|text_completion)")
            | df.get_column("resp_id").str.contains(r"^(?:chatcmpl|cmpl)-")
            | df.get_column("shape").is_in(["chunk_list", "request", "error"])
        ).fill_null(False)
        hits = int((shaped & typical).sum())
        if hits == 0:
            return 0.0
        return min(0.55 + 0.4 * hits / df.height, 0.97)

    def cut(self, lines: pl.DataFrame) -> int | None:
        """Where a chunk of lines may end: before the first line of a stream of chunks (its lines
        are folded into one event) that has not finished inside it or was still active near its
        end (a usage-only chunk may follow the finishing one). None: no stream is open."""
        maybe = lines.filter(pl.col("line").str.contains("chunk", literal=True))
        if maybe.height == 0:
            return None
        chunks = extract(maybe).filter(pl.col("shape") == "chunk")
        lines_in = lines.get_column("source_line")
        tail = int(lines_in.max()) - max(STREAM_TAIL_LINES, lines.height // 20)  # type: ignore[arg-type]
        keyed = chunks.with_columns(pl.coalesce("caller_id", "resp_id").alias("_key")).filter(
            pl.col("_key").is_not_null()  # a chunk without an id is never folded with others
        )
        unfinished = (
            keyed.group_by("_key")
            .agg(
                pl.col("source_line").min().alias("_first"),
                pl.col("source_line").max().alias("_last"),
                pl.col("finish_reason").is_not_null().any().alias("_done"),
            )
            .filter(~pl.col("_done") | (pl.col("_last") >= tail))
        )
        first = unfinished.get_column("_first").min()
        return None if first is None else int(first)  # type: ignore[arg-type]

    def parse(self, source: Source) -> ParseResult:
        """Envelopes and bare objects map one line to one event; chunk streams are folded."""
        df = extract(source.lines)
        bad = df.filter(pl.col("shape").is_null())
        rejects = marks(
            bad,
            pl.when(jp(ROOT).is_null())
            .then(pl.lit("not JSON"))
            .otherwise(pl.lit("not an OpenAI request/response record")),
        )
        single = df.filter(pl.col("shape").is_in(list(_SINGLE))).with_columns(
            pl.col("shape").replace_strict(_SINGLE, return_dtype=pl.String).alias("etype")
        )
        chunk_events, merged = _chunk_events(df.filter(pl.col("shape") == "chunk"))
        listed = chunk_list_events(df.filter(pl.col("shape") == "chunk_list"))
        listed_bad = df.filter(
            (pl.col("shape") == "chunk_list")
            & ~pl.col("source_line").is_in(listed.get_column("source_line").implode())
        )
        rejects = pl.concat([rejects, marks(listed_bad, "empty chunk list")])
        normal = pl.concat([single.select(NORMAL.names()), chunk_events, listed])
        if normal.height == 0:
            return ParseResult(
                pl.DataFrame(schema=_EMPTY),
                rejects.select(MARK_SCHEMA.names()),
                merged_lines=merged,
            )
        events = _canonical(normal, source.settings.timezone)
        return ParseResult(events, rejects.select(MARK_SCHEMA.names()), merged_lines=merged)
