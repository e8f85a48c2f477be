"""SGLang server logs (``python -m sglang.launch_server``): scheduler, tokenizer, uvicorn and
request-logger lines, with tracebacks merged into the record they follow."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference.sglang import lines as shapes
from parsers.inference.sglang.events import semantic_columns
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason, severity
from timeline.parserkit.text import on_rows, split_head, strip_ansi

# Messages only SGLang writes (sniffing).
_SGLANG_TEXT: Final = (
    r"^(?:Prefill|Decode) batch[.,(]|^server_args=ServerArgs\(|fired up and ready to roll"
    r"|^Load weight (?:begin|end)\.|^(?:Receive|Finish): obj=(?:Generate|Embedding)ReqInput\("
    r"|^KV Cache is allocated\. #tokens|^max_total_num_tokens=|^Scheduler hit an exception"
)


def lines_frame(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per input line: Ray / time prefix, the shape of the rest, uvicorn and access fields."""
    clean = strip_ansi(pl.col("line")).str.strip_chars_end()
    df = lines.with_columns(clean.alias("clean"))
    # RAY: an optional actor prefix, then the body (the whole line when there is none)
    df = split_head(df, pl.col("clean"), shapes.RAY_HEAD, "body")
    no_break = ~pl.col("clean").str.contains("\n", literal=True)
    df = df.with_columns(
        pl.when(pl.col("actor").is_null() & pl.col("body").is_null() & no_break)
        .then(pl.col("clean"))
        .otherwise(pl.col("body"))
        .alias("body")
    )
    # LOG: ``[ts ranks]``, then nothing or one space and the message
    df = split_head(df, pl.col("body"), shapes.LOG_HEAD, "_tail")
    tail = pl.col("_tail")
    log_ok = (tail == "") | tail.str.starts_with(" ")
    df = df.with_columns(
        pl.when(log_ok).then(pl.col("ts")).alias("ts"),
        pl.when(log_ok).then(pl.col("ranks")).alias("ranks"),
        pl.when(tail.str.starts_with(" ")).then(tail.str.slice(1)).alias("msg"),
    ).drop("_tail")
    is_log = pl.col("ts").is_not_null()
    # the shape regexes run on the lines without the prefix only
    df = on_rows(df, ~is_log, {"_shape": shapes.shape(pl.col("body"))})
    df = df.with_columns(
        pl.when(is_log).then(pl.col("msg").fill_null("")).otherwise("body").alias("inner"),
        pl.when(is_log).then(pl.lit("log")).otherwise(pl.col("_shape")).alias("shape"),
    ).drop("_shape")
    uvicorn = pl.col("shape").is_in(["log", "uvicorn"])
    df = split_head(df, pl.when(uvicorn).then(pl.col("inner")), shapes.UVICORN_HEAD, "umsg")
    df = df.with_columns(pl.col("umsg").str.extract_groups(shapes.ACCESS).alias("_a")).unnest("_a")
    message = pl.when(pl.col("ulevel").is_not_null()).then(pl.col("umsg")).otherwise("inner")
    df = df.with_columns(message.alias("message"))
    level = (
        pl.when(pl.col("ulevel").is_not_null())
        .then(severity(pl.col("ulevel")))
        .when(pl.col("shape") == "tb_start")
        .then(pl.lit("ERROR"))
        .when(pl.col("shape") == "log")
        .then(pl.when(pl.col("message").str.contains(shapes.ERROR_TEXT)).then(pl.lit("ERROR")))
    )
    return df.with_columns(level.alias("severity"))


def _run_sum(values: pl.Expr, start: pl.Expr) -> pl.Expr:
    """Sum of ``values`` from the last line where ``start`` holds up to this one (inclusive).

    Records are runs of lines, so a running total minus its value at the run's start replaces
    a window over record ids (much cheaper than ``over``)."""
    total = values.cum_sum()
    return total - pl.when(start).then(total - values).forward_fill().fill_null(0)


def _continuation(df: pl.DataFrame, start: pl.Expr, error: pl.Expr) -> pl.DataFrame:
    """``fit`` and ``broken`` of every line against the record it falls in (records begin
    where ``start`` holds; ``error`` is set on their first lines)."""
    shape = pl.col("shape")
    marker = (
        shape.is_in(["tb_start", "indent", "chain"])
        | (start & pl.col("message").str.contains(shapes.TRACEBACK_TEXT))
    ).cast(pl.Int64)
    seen = (_run_sum(marker, start) - marker) > 0
    df = df.with_columns(
        shapes.fits(shape, error.forward_fill().fill_null(False), seen).alias("fit")
    )
    bad = (~start & (shape != "progress") & ~pl.col("fit")).cast(pl.Int64)
    return df.with_columns(((_run_sum(bad, start) - bad) > 0).alias("broken"))


def records(df: pl.DataFrame) -> pl.DataFrame:
    """Mark record starts and the lines that continue their record (``accepted``).

    Prefixed lines, bare uvicorn lines and request-logger lines start records. A raw
    ``Traceback (most recent call last):`` continues the record before it when that one reports
    an error (or already holds a traceback); elsewhere it starts its own error record."""
    shape = pl.col("shape")
    first = shape.is_in(shapes.START_SHAPES)
    is_error = pl.col("severity").is_in(["ERROR", "FATAL"]).fill_null(False)
    df = df.with_columns(first.cast(pl.Int64).cum_sum().alias("_rec1"))
    df = _continuation(df, first, pl.when(first).then(is_error))
    joins = (shape == "tb_start") & (pl.col("_rec1") > 0) & pl.col("fit") & ~pl.col("broken")
    start = first | ((shape == "tb_start") & ~joins)
    df = df.with_columns(start.alias("start"))
    df = df.with_columns(pl.col("start").cast(pl.Int64).cum_sum().alias("rec"))
    df = _continuation(df, pl.col("start"), pl.when(pl.col("start")).then(is_error))
    accepted = (
        (pl.col("rec") > 0)
        & ~pl.col("start")
        & (shape != "progress")
        & pl.col("fit")
        & ~pl.col("broken")
    )
    return df.with_columns(accepted.fill_null(False).alias("accepted")).drop(
        "_rec1", "fit", "broken"
    )


def _rejects(work: pl.DataFrame) -> pl.DataFrame:
    lost = work.filter(~pl.col("start") & ~pl.col("accepted") & (pl.col("shape") != "progress"))
    shape = pl.col("shape")
    reason = first_reason(
        [
            (shape == "vllm", "vLLM logger line (not SGLang's format)"),
            (
                shape.is_in(shapes.CONTINUATION_SHAPES) & (pl.col("rec") == 0),
                "continuation line before the first record",
            ),
            (shape.is_in(shapes.CONTINUATION_SHAPES), "unexpected continuation line"),
        ]
    )
    return marks(lost, pl.coalesce(reason, pl.lit("not an SGLang log line")))


class SglangParser:
    """SGLang server log: scheduler stats, request logger (text and JSON), uvicorn, tracebacks."""

    name = "sglang"
    layer = "inference"
    description = (
        "SGLang server log (scheduler stats, --log-requests text/JSON, uvicorn, tracebacks)"
    )
    multiline = True
    record_start = shapes.RECORD_START

    def sniff(self, sample: Sample) -> float:
        """High when `[YYYY-MM-DD HH:MM:SS( TP0)] msg` lines carry SGLang's own messages or rank
        tags; the prefix alone (a common Python logging format) scores below the threshold."""
        if not sample.lines:
            return 0.0
        df = records(lines_frame(sample.frame()))
        starts = df.filter(pl.col("start"))
        if starts.height == 0 or not bool(starts.get_column("shape").is_in(["log", "json"]).any()):
            return 0.0
        explained = pl.col("start") | pl.col("accepted") | (pl.col("shape") == "progress")
        ratio = float(df.select(explained.mean()).item() or 0.0)
        evidence = starts.select(
            pl.col("message").str.contains(_SGLANG_TEXT).fill_null(False)
            | (pl.col("shape") == "json")
            | (pl.col("ranks").fill_null("") != "")
        ).to_series()
        if evidence.any():
            return min(0.7 + 0.29 * ratio, 0.99)
        # SGLang's uvicorn format (`[time] INFO:     ip:port - "..." 200 OK`) is a weaker sign.
        if bool(
            starts.select((pl.col("shape") == "log") & pl.col("method").is_not_null())
            .to_series()
            .any()
        ):
            return 0.4 + 0.2 * ratio
        return 0.2 * ratio

    def parse(self, source: Source) -> ParseResult:
        """Group lines into records, then map each record onto canonical events."""
        work = records(lines_frame(source.lines))
        skipped = marks(work.filter(pl.col("shape") == "progress"), "progress bar")
        rejects = _rejects(work)
        cont = (
            work.filter(pl.col("accepted"))
            .group_by("rec", maintain_order=True)
            .agg(pl.col("clean").alias("cont_lines"), pl.len().alias("cont_count"))
        )
        merged = int(cont.get_column("cont_count").sum()) if cont.height else 0
        starts = work.filter(pl.col("start")).join(cont, on="rec", how="left")
        if starts.height == 0:
            events = pl.DataFrame(schema={"source_line": pl.Int64})
        else:
            events = semantic_columns(starts, source.settings.timezone)
        return ParseResult(
            events=events,
            rejects=rejects.select(MARK_SCHEMA.names()),
            skipped=skipped.select(MARK_SCHEMA.names()),
            merged_lines=merged,
        )
