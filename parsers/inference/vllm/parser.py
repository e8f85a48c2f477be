"""vLLM OpenAI-compatible server logs: legacy, 0.8+ and V1 multiprocess, with uvicorn and KServe lines."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference.vllm import lines as shapes
from parsers.inference.vllm.events import request_columns, semantic_columns
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source, marks
from timeline.parserkit.frame import severity
from timeline.parserkit.text import on_distinct, on_rows, split_head, strip_ansi
from timeline.parserkit.timestamps import parse_iso8601, parse_pattern
from timeline.parserkit.tracebacks import is_continuation, last_exception_type

_START_KINDS: Final = ("vllm", "kserve", "uvicorn", "stdlib", "stats", "traceback")


def _lines_frame(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per input line with its shape (which logger wrote it) and header fields.

    Each shape's header is matched by a regex and the free text after it sliced off
    (:func:`~timeline.parserkit.text.split_head`); a line holding a line break matches
    no shape (as the full patterns' ``.*$`` would not)."""
    clean = strip_ansi(pl.col("line")).str.strip_chars_end()
    df = lines.with_columns(clean.alias("clean"))
    one_line = pl.when(~pl.col("clean").str.contains("\n", literal=True)).then(pl.col("clean"))
    df = split_head(df, one_line, shapes.PREFIX_HEAD, "body")
    df = df.with_columns(pl.coalesce("body", one_line).alias("body"))
    df = split_head(df, pl.col("body"), shapes.VLLM_HEAD, "_vtail")
    df = split_head(df, pl.col("body"), shapes.KSERVE_HEAD, "krest")
    # the full pattern ends ``(?: (?P<msg>.*))?$``: nothing more, or one space and the message
    vtail = pl.col("_vtail")
    vllm_ok = (vtail == "") | vtail.str.starts_with(" ")
    vllm_cols = ("level", "ts", "file_a", "lineno_a", "file_b", "lineno_b")
    df = df.with_columns(
        *[pl.when(vllm_ok).then(pl.col(c)).alias(c) for c in vllm_cols],
        pl.when(vtail.str.starts_with(" ")).then(vtail.str.slice(1)).alias("msg"),
    ).drop("_vtail")
    df = df.with_columns(
        pl.coalesce("klogger_a", "klogger_b").alias("klogger"),
        pl.coalesce("kpid", "kpid_b").alias("kpid"),
        pl.coalesce("file_a", "file_b").alias("code_file"),
        pl.coalesce("lineno_a", "lineno_b").alias("code_line"),
    ).drop("klogger_a", "klogger_b", "kpid_b", "file_a", "file_b", "lineno_a", "lineno_b")
    df = df.with_columns(shapes.groups(pl.col("krest"), shapes.KSERVE_LEVEL).alias("_kl")).unnest(
        "_kl"
    )
    # uvicorn text: the whole body (plain vLLM logs) or the rest after KServe's logger name.
    uv_source = pl.when(pl.col("klogger").is_not_null()).then(pl.col("krest")).otherwise("body")
    df = split_head(df, uv_source, shapes.UVICORN_HEAD, "umsg")
    df = df.with_columns(shapes.groups(pl.col("umsg"), shapes.ACCESS).alias("_a")).unnest("_a")
    df = split_head(df, pl.col("body"), shapes.STDLIB_HEAD, "smsg")
    kind = (
        pl.when(pl.col("level").is_not_null())
        .then(pl.lit("vllm"))
        .when(pl.col("klogger").is_not_null())
        .then(pl.lit("kserve"))
        .when(pl.col("ulevel").is_not_null())
        .then(pl.lit("uvicorn"))
        .when(pl.col("slevel").is_not_null())
        .then(pl.lit("stdlib"))
        .when(pl.col("body").str.contains(shapes.STATS))
        .then(pl.lit("stats"))
        .when(pl.col("body").str.contains(shapes.TRACEBACK_START))
        .then(pl.lit("traceback"))
        .when(pl.col("clean").str.contains(shapes.NOISE))
        .then(pl.lit("noise"))
        .when(is_continuation(pl.col("body")))
        .then(pl.lit("continuation"))
        .otherwise(pl.lit("other"))
    )
    level_text = pl.coalesce("level", "ulevel", "klevel", "slevel")
    msg = (
        pl.when(pl.col("level").is_not_null())
        .then(pl.col("msg").fill_null(""))
        .when(pl.col("ulevel").is_not_null())
        .then(pl.col("umsg"))
        .when(pl.col("klogger").is_not_null())
        .then(pl.coalesce("kmsg", "krest"))
        .when(pl.col("slevel").is_not_null())
        .then(pl.col("smsg"))
        .otherwise(pl.col("body"))
    )
    header = pl.concat_str(
        [pl.col("proc"), pl.col("pid"), pl.col("level"), pl.col("ts"), "code_file", "code_line"],
        separator="|",
        ignore_nulls=True,
    )
    return df.with_columns(kind.alias("kind")).with_columns(
        pl.when(pl.col("kind") == "stats")
        .then(pl.lit("INFO"))
        .otherwise(severity(level_text))
        .alias("severity"),
        msg.alias("message"),
        pl.when(pl.col("level").is_not_null()).then(header).alias("header"),
    )


def _records(df: pl.DataFrame) -> pl.DataFrame:
    """Mark record starts; same-header ERROR lines and continuation lines join the record before.

    Only log lines and continuation-shaped lines (indented, traceback) are kept; noise and
    unrecognised lines are left to the caller (skipped and rejected).
    """
    is_log = pl.col("kind").is_in(_START_KINDS)
    prev_header = pl.col("header").shift(1)
    prev_error = pl.col("severity").shift(1).is_in(["ERROR", "FATAL"])
    same_error = (
        pl.col("header").is_not_null()
        & (pl.col("header") == prev_header)
        & pl.col("severity").is_in(["ERROR", "FATAL"])
        & prev_error.fill_null(False)
    )
    # a raw traceback right after an ERROR record belongs to it; elsewhere it starts its own record
    tb_continues = (pl.col("kind") == "traceback") & (pl.col("_rec_sev") == "ERROR")
    work = df.filter(~pl.col("kind").is_in(["noise", "other"]))
    start0 = is_log & ~same_error.fill_null(False)
    work = work.with_columns(start0.alias("_s0"))
    work = work.with_columns(
        pl.when(pl.col("_s0"))
        .then(pl.col("severity").fill_null("INFO"))
        .forward_fill()
        .alias("_rec_sev_raw")
    )
    work = work.with_columns(pl.col("_rec_sev_raw").shift(1).alias("_rec_sev"))
    start = pl.col("_s0") & ~tb_continues.fill_null(False)
    work = work.with_columns(start.alias("start"))
    return work.with_columns(pl.col("start").cast(pl.Int64).cum_sum().alias("rec")).drop(
        "_s0", "_rec_sev_raw", "_rec_sev"
    )


def _continuations(work: pl.DataFrame) -> pl.DataFrame:
    """Per record: the merged lines' text (the message part for same-header lines, the text
    after a V1 process prefix for the others)."""
    cont = work.filter(~pl.col("start") & (pl.col("rec") > 0))
    text = pl.when(pl.col("header").is_not_null()).then(pl.col("message")).otherwise(pl.col("body"))
    return cont.group_by("rec").agg(text.alias("cont_lines"), pl.len().alias("cont_count"))


# A vLLM logger header with its V1 process prefix: ``(APIServer pid=7) ERROR 03-02 10:15:20
# [engine.py:160]`` (what same-header ERROR lines share).
_HEADER: Final = (
    r"^(?:\([A-Za-z_0-9 ]+ pid=\d+(?:, ip=[^)]*)?\) )?(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)"
    r" \d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \[?[^\]\s]+:\d+\]"
)
_ERROR_HEADER: Final = r"^(?:\([^)]*\) )?(?:ERROR|CRITICAL) "


class VllmParser:
    """vLLM server logs (legacy, 0.8+ and V1 multiprocess), with uvicorn and KServe lines."""

    name = "vllm"
    layer = "inference"
    description = (
        "vLLM server log (legacy, 0.8+, V1 multiprocess) with uvicorn access and KServe lines"
    )
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^(?:\([A-Za-z_0-9]+ pid=\d+(?:, ip=[^)]*)?\) )?(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) \d{2}-\d{2} \d{2}:\d{2}:\d{2} "
    needs_year = True

    def cut(self, lines: pl.DataFrame) -> int | None:
        """Where a chunk may end: before the last record start that does not continue an ERROR
        record (vLLM logs each traceback line under the same header; the parser merges those, so
        a cut between them would split one error in two). None: no such line."""
        head = pl.col("line").str.extract(_HEADER, 0)
        starts = lines.select(
            "source_line",
            pl.col("line").str.contains(self.record_start).alias("_start"),
            (
                head.is_not_null()
                & (head == head.shift(1))
                & pl.col("line").str.contains(_ERROR_HEADER)
                & pl.col("line").shift(1).str.contains(_ERROR_HEADER)
            )
            .fill_null(False)
            .alias("_same"),
        ).filter(pl.col("_start") & ~pl.col("_same"))
        if starts.height == 0:
            return None
        at = starts.get_column("source_line").max()
        return int(at) if isinstance(at, int) else None

    def sniff(self, sample: Sample) -> float:
        """High when vLLM's `LEVEL MM-DD HH:MM:SS [file.py:N]` lines dominate the sample."""
        if not sample.lines:
            return 0.0
        df = _lines_frame(sample.frame())
        n = df.height
        vllm = int((df.get_column("kind") == "vllm").sum())
        known = int(df.get_column("kind").is_in([*_START_KINDS, "noise", "continuation"]).sum())
        specific = int(
            df.get_column("message")
            .str.contains(
                r"^(?:Received|Added|Finished|Aborted) request|Avg prompt throughput|vLLM API server|LLM engine"
            )
            .sum()
        )
        if vllm == 0 and specific == 0:
            return 0.0
        score = 0.55 + 0.35 * (known / n) + (0.1 if specific else 0.0)
        return min(score, 1.0)

    def parse(self, source: Source) -> ParseResult:
        """Group lines into records, then map each record's message onto canonical events."""
        settings = source.settings
        df = _lines_frame(source.lines)
        skipped = marks(df.filter(pl.col("kind") == "noise"), "progress bar")
        work = _records(df)
        orphan = work.filter(pl.col("rec") == 0)
        foreign = df.filter(pl.col("kind") == "other")
        rejects = marks(
            pl.concat([orphan.select("source_line"), foreign.select("source_line")]).sort(
                "source_line"
            ),
            "not a vLLM log line",
        )
        cont = _continuations(work)
        merged = int(cont.get_column("cont_count").sum()) if cont.height else 0
        starts = work.filter(pl.col("start")).join(cont, on="rec", how="left")
        if starts.height == 0:
            return ParseResult(
                events=pl.DataFrame(schema={"source_line": pl.Int64}),
                rejects=rejects,
                skipped=skipped,
                merged_lines=merged,
            )
        short = parse_pattern(pl.col("ts"), "%m-%d %H:%M:%S", settings.timezone, settings.year)
        full = parse_iso8601(pl.col("kts").str.replace(",", "."), settings.timezone)
        starts = on_distinct(
            starts,
            ["ts", "kts"],
            {
                "ts_source": pl.coalesce(short.ts, full.ts),
                "ts_assumed_tz": pl.coalesce(short.assumed_tz, full.assumed_tz),
            },
        )
        starts = starts.with_columns(
            pl.coalesce("ts", "kts").alias("ts_raw"),
            pl.when(pl.col("kind") == "traceback")
            .then(pl.lit("ERROR"))
            .otherwise(pl.col("severity"))
            .alias("severity"),
        )
        # the exception a record names: read for error records only (the events keep it there)
        tb_error = last_exception_type(
            pl.concat_list(pl.col("message"), pl.col("cont_lines").fill_null([]))
        )
        starts = on_rows(
            starts, pl.col("severity").is_in(["ERROR", "FATAL"]), {"tb_error": tb_error}
        )
        events = request_columns(starts)
        events = semantic_columns(events)
        return ParseResult(
            events=events,
            rejects=rejects.select(MARK_SCHEMA.names()),
            skipped=skipped.select(MARK_SCHEMA.names()),
            merged_lines=merged,
        )
