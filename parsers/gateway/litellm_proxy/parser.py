"""LiteLLM proxy server logs: its loggers in text or JSON mode, with uvicorn, gunicorn and tracebacks.

A record starts on a LiteLLM header line (``12:51:05 - LiteLLM Proxy:DEBUG: proxy_server.py:3450 -
msg``), a uvicorn line (``INFO:     ...``), a gunicorn line or a ``JSON_LOGS`` object. The lines
after a text record that start no record of their own (the rest of a multi-line message, a
traceback) are merged into it. A one-line record (a JSON object, a uvicorn access line) takes no
continuation: a traceback after it starts a record of its own, any other text is rejected. The
proxy's startup banner is skipped. See ``README.md`` for the mapping.
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

from parsers.gateway.litellm_proxy import lines as shapes
from parsers.gateway.litellm_proxy.events import event_columns
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source, marks
from timeline.parserkit.jsonpaths import column_name, decode_paths, jp, key_path, object_from
from timeline.parserkit.text import strip_ansi
from timeline.parserkit.tracebacks import is_continuation
from timeline.parserkit.wide import attribute_frame, wide_attributes, wide_ids

# Keys of a JsonFormatter record that the parser reads (``message`` is the first key).
JSON_KEYS: Final = (
    "message",
    "level",
    "timestamp",
    "component",
    "logger",
    "stacktrace",
    "trace_id",
    "session_id",
    "litellm_call_id",
    "model",
)
# Record kinds that only ever span one line (nothing is merged into them).
_SINGLE: Final = ("json", "access")
_HARD: Final = ("litellm", "uvicorn", "gunicorn", "json")
NOT_LITELLM: Final = "not a LiteLLM proxy log line"
BANNER_REASON: Final = "LiteLLM startup banner"

_SNIFF_LITELLM: Final = re.compile(shapes.LITELLM)
_SNIFF_OTHER: Final = re.compile(
    f"{shapes.UVICORN}|{shapes.GUNICORN}|{shapes.BANNER}|{shapes.TRACEBACK}|^\\s+\\S"
)
_SNIFF_ANSI: Final = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SNIFF_JSON_HEAD: Final = re.compile(
    r'^\{"message": ".*", "level": "(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)", '
    r'"timestamp": "\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?"'
)
_SNIFF_JSON_MARK: Final = re.compile(
    r'"component": "(?:LiteLLM|uvicorn)|"litellm_call_id": |"logger": "\w+\.py:\d+"'
)


def _json_columns(clean: pl.Series) -> pl.DataFrame:
    """The JsonFormatter keys of every line (null where the line is no such object)."""
    paths = [key_path(k) for k in JSON_KEYS]
    decoded = decode_paths(clean, paths)
    return decoded.select(
        pl.col(column_name("$")).alias("_json"),
        *[jp(p).alias(f"j_{k}") for k, p in zip(JSON_KEYS, paths, strict=True)],
    )


def lines_frame(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per input line: its text without colours, its shape (``kind``) and header fields."""
    df = lines.with_columns(strip_ansi(pl.col("line")).str.strip_chars_end().alias("clean"))
    df = df.with_columns(
        pl.col("clean").str.extract_groups(shapes.LITELLM).alias("_l"),
        pl.col("clean").str.extract_groups(shapes.UVICORN).alias("_u"),
        pl.col("clean").str.extract_groups(shapes.GUNICORN).alias("_g"),
    ).unnest("_l", "_u", "_g")
    df = pl.concat([df, _json_columns(df.get_column("clean"))], how="horizontal")
    is_json = (
        object_from(pl.col("clean"), pl.col("_json"))
        & pl.col("j_message").is_not_null()
        & (pl.col("j_level").is_not_null() | pl.col("j_timestamp").is_not_null())
    )
    kind = (
        pl.when(pl.col("level").is_not_null())
        .then(pl.lit("litellm"))
        .when(pl.col("ulevel").is_not_null())
        .then(pl.lit("uvicorn"))
        .when(pl.col("gts").is_not_null())
        .then(pl.lit("gunicorn"))
        .when(is_json)
        .then(pl.lit("json"))
        .when(pl.col("clean").str.contains(shapes.BANNER))
        .then(pl.lit("banner"))
        .when(pl.col("clean").str.contains(shapes.TRACEBACK))
        .then(pl.lit("traceback"))
        .otherwise(pl.lit("other"))
    )
    df = df.with_columns(kind.alias("kind")).drop("_json")
    message = (
        pl.when(pl.col("kind") == "litellm")
        .then(pl.col("msg").fill_null(""))
        .when(pl.col("kind") == "uvicorn")
        .then(pl.col("umsg"))
        .when(pl.col("kind") == "gunicorn")
        .then(pl.col("gmsg"))
        .when(pl.col("kind") == "json")
        .then(pl.col("j_message"))
        .otherwise(pl.col("clean"))
    )
    df = df.with_columns(message.alias("message"))
    # uvicorn access lines (text, or a JSON record's message) and WebSocket handshakes.
    access_text = pl.when(pl.col("kind").is_in(["uvicorn", "json"])).then(pl.col("message"))
    df = df.with_columns(
        access_text.str.extract_groups(shapes.ACCESS).alias("_a"),
        access_text.str.extract_groups(shapes.WEBSOCKET).alias("_w"),
    ).unnest("_a", "_w")
    one_line = (
        (pl.col("kind") == "json")
        | pl.col("status").is_not_null()
        | pl.col("wsstatus").is_not_null()
    )
    return df.with_columns(
        pl.when(pl.col("kind").is_in(_HARD))
        .then(pl.when(one_line).then(pl.lit("single")).otherwise(pl.lit("multi")))
        .alias("mode")
    )


def continues(clean: pl.Expr) -> pl.Expr:
    """True for a line that can continue a record: indented or traceback-shaped, a closing
    bracket, one of LiteLLM's multi-line message tails, or a line after one ending in ``\\``."""
    after_backslash = clean.shift(1).str.ends_with("\\").fill_null(False)
    return is_continuation(clean) | clean.str.contains(shapes.LITELLM_TAIL) | after_backslash


def records(df: pl.DataFrame) -> pl.DataFrame:
    """Mark record starts (``start``), the lines no record takes (``orphan``) and records (``rec``).

    Lines after a multi-line record (a LiteLLM text line, a uvicorn or gunicorn message) merge
    into it when they look like a continuation (:func:`continues`). After a one-line record, or
    before any record, the first traceback starts a record and the continuation lines after it
    merge into that. Every other line is an orphan (rejected), wherever it stands.
    """
    hard = pl.col("kind").is_in(_HARD)
    tb = pl.col("kind") == "traceback"
    work = df.with_columns(hard.cast(pl.Int64).cum_sum().alias("_seg"))
    work = work.with_columns(
        pl.col("mode").forward_fill().alias("_seg_mode"),
        tb.cast(pl.Int64).cum_sum().over("_seg").alias("_tbs"),
    )
    multi = (pl.col("_seg_mode") == "multi").fill_null(False)
    start = hard | (~multi & tb & (pl.col("_tbs") == 1))
    open_record = multi | (pl.col("_tbs") > 0)
    orphan = ~start & ~hard & (~open_record | ~continues(pl.col("clean")))
    work = work.with_columns(start.alias("start"), orphan.alias("orphan"))
    return work.with_columns(pl.col("start").cast(pl.Int64).cum_sum().alias("rec")).drop(
        "_seg", "_seg_mode", "_tbs"
    )


def _continuations(work: pl.DataFrame) -> pl.DataFrame:
    """Per record: its merged lines (text), their number, the last one."""
    cont = work.filter(~pl.col("start") & ~pl.col("orphan"))
    return cont.group_by("rec").agg(
        pl.col("clean").alias("cont_lines"),
        pl.len().cast(pl.Int64).alias("cont_count"),
        pl.col("clean").last().alias("cont_last"),
    )


def _score_line(line: str) -> tuple[bool, bool]:
    """(a LiteLLM text or JSON record line, a line a LiteLLM proxy's output also holds: uvicorn,
    gunicorn, its banner, a traceback line) for sniffing."""
    text = _SNIFF_ANSI.sub("", line).rstrip()
    if _SNIFF_LITELLM.match(text):
        return True, False
    if _SNIFF_JSON_HEAD.match(text) and _SNIFF_JSON_MARK.search(text):
        return True, False
    return False, _SNIFF_OTHER.match(text) is not None


class LiteLLMProxyParser:
    """LiteLLM proxy server log (text or JSON_LOGS) with its uvicorn, gunicorn and traceback lines."""

    name = "litellm_proxy"
    layer = "gateway"
    description = (
        "LiteLLM proxy server log (LiteLLM / Proxy / Router loggers, text or JSON_LOGS) "
        "with uvicorn access lines and tracebacks"
    )
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = (
        f"(?:{shapes.LITELLM_START}|{shapes.UVICORN_START}|{shapes.GUNICORN_START}"
        f"|{shapes.JSON_START})"
    )

    def sniff(self, sample: Sample) -> float:
        """High when LiteLLM's own header lines (or its JSON records) are in the sample."""
        if not sample.lines:
            return 0.0
        scored = [_score_line(line) for line in sample.lines]
        n = len(scored)
        own = sum(1 for hit, _ in scored if hit)
        if own == 0:
            return 0.0
        known = own + sum(1 for _, hit in scored if hit)
        return min(0.55 + 0.25 * min(1.0, 4 * own / n) + 0.18 * known / n, 0.98)

    def parse(self, source: Source) -> ParseResult:
        """Group lines into records, then map each record onto one canonical event."""
        df = lines_frame(source.lines)
        skipped = marks(df.filter(pl.col("kind") == "banner"), BANNER_REASON)
        work = records(df.filter(pl.col("kind") != "banner"))
        rejects = marks(work.filter(pl.col("orphan")), NOT_LITELLM)
        cont = _continuations(work)
        merged = int(cont.get_column("cont_count").sum()) if cont.height else 0
        starts = work.filter(pl.col("start")).join(cont, on="rec", how="left")
        frame, columns, ids, attrs = event_columns(starts, source.settings.timezone)
        events = frame.select(columns).with_columns(
            wide_ids(attribute_frame(frame, ids)),
            wide_attributes(attribute_frame(frame, attrs)),
        )
        return ParseResult(
            events=events,
            rejects=rejects.select(MARK_SCHEMA.names()),
            skipped=skipped.select(MARK_SCHEMA.names()),
            merged_lines=merged,
        )
