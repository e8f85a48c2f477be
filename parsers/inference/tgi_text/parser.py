"""Hugging Face text-generation-inference (TGI) router and launcher logs, default text output."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference._tgi import EMPTY, HANDLERS, TGI_TARGET, TIMING, tgi_events
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source, marks
from timeline.parserkit.text import strip_ansi
from timeline.parserkit.tracebacks import is_continuation

START: Final = (
    r"^(?P<ts_text>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))\s+"
    r"(?P<level>TRACE|DEBUG|INFO|WARN|ERROR)\s+(?P<rest>.*)$"
)
# `[spans: ]target: [file.rs:N: ]message`; spans hold `name{fields}` joined by `:`.
REST: Final = (
    r"^(?:(?P<spans>.*?): )?"
    r"(?P<target>[a-z_][a-z0-9_]*(?:::[a-z0-9_]+)+|text_generation_[a-z_]+): "
    r"(?:(?P<file>[^\s:]+\.rs):(?P<lineno>\d+): )?(?P<msg>.*)$"
)
# A raw line that ``START`` matches once ANSI codes are stripped (a subset of them is enough): the
# pipeline cuts files into chunks before such lines, so a chunk never splits a record.
_A: Final = r"(?:\x1b\[[0-9;]*[A-Za-z])*"
RECORD_START: Final = (
    rf"^{_A}\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}(?:\.\d+)?(?:Z|[+-]\d{{2}}:?\d{{2}})"
    rf"{_A}[ \t](?:{_A}[ \t]*)*(?:TRACE|DEBUG|INFO|WARN|ERROR){_A}[ \t]"
)

# Messages whose text carries real newlines (prompts, completions, chat templates): any line after
# them up to the next record is theirs. After other messages only indented or traceback-shaped
# lines continue the record; any other line is a reject.
FREE_TEXT: Final = r"^(?:Input|Output|Loading template|Template error)\b"


def _span_field(name: str) -> pl.Expr:
    return pl.col("spans").str.extract(rf'\b{name}="?([^"\s}}]+)"?', 1)


def _text_frame(lines: pl.DataFrame) -> pl.DataFrame:
    clean = strip_ansi(pl.col("line")).str.strip_chars_end("\r")
    df = lines.with_columns(clean.alias("clean"))
    df = df.with_columns(pl.col("clean").str.extract_groups(START).alias("_s")).unnest("_s")
    df = df.with_columns(pl.col("rest").str.extract_groups(REST).alias("_r")).unnest("_r")
    return df.with_columns(
        pl.col("ts_text").is_not_null().alias("start"),
        pl.coalesce("msg", "rest").alias("msg"),
    )


def _span_name() -> pl.Expr:
    names = pl.col("spans").str.extract_all(r"(?:^|:)([a-z_][\w-]*)\{")
    handler = names.list.eval(pl.element().str.extract(r"([a-z_][\w-]*)\{$", 1)).list.eval(
        pl.element().filter(pl.element().is_in(HANDLERS))
    )
    return pl.coalesce(
        handler.list.last(), pl.col("spans").str.extract(r"(?:^|:)([A-Za-z_][\w-]*)(?:\{|$)", 1)
    )


class TgiTextParser:
    """TGI's default text log, multi-line entries (chat templates, prompts) merged."""

    name = "tgi_text"
    layer = "inference"
    description = "Hugging Face text-generation-inference text log (router and launcher)"
    multiline = True
    record_start = RECORD_START
    keep_blank = True

    def sniff(self, sample: Sample) -> float:
        """High when timestamped tracing lines name `text_generation_*` targets."""
        if not sample.lines:
            return 0.0
        df = _text_frame(sample.frame())
        starts = df.filter(pl.col("start"))
        if starts.height == 0:
            return 0.0
        tgi = int(starts.get_column("target").str.contains(TGI_TARGET).sum())
        if tgi == 0:
            return 0.0
        return min(0.7 + 0.28 * tgi / starts.height, 1.0)

    def parse(self, source: Source) -> ParseResult:
        """Group continuation lines (real newlines in prompts, tracebacks) into the record before them."""
        df = _text_frame(source.lines).with_columns(
            pl.col("start").cast(pl.Int64).cum_sum().alias("rec"),
            pl.when(pl.col("start"))
            .then(pl.col("msg").str.contains(FREE_TEXT).fill_null(False))
            .forward_fill()
            .fill_null(False)
            .alias("free_text"),
        )
        blank = pl.col("line").str.strip_chars() == ""
        inside = ~pl.col("start") & (pl.col("rec") > 0)
        merge = inside & (pl.col("free_text") | is_continuation(pl.col("clean")))
        loose = df.filter(~pl.col("start") & ~merge)
        skipped = marks(loose.filter(blank), "blank line")
        rejects = marks(loose.filter(~blank), "not a TGI log line")
        cont = (
            df.filter(merge)
            .group_by("rec")
            .agg(pl.col("clean").str.join("\n").alias("cont_text"), pl.len().alias("n"))
        )
        merged = int(cont.get_column("n").sum()) if cont.height else 0
        starts = df.filter(pl.col("start")).join(cont, on="rec", how="left")
        if starts.height == 0:
            return ParseResult(pl.DataFrame(schema=EMPTY), rejects, skipped, merged)
        frame = starts.select(
            "source_line",
            "ts_text",
            "level",
            "target",
            pl.when(pl.col("file").is_not_null())
            .then(pl.concat_str(["file", "lineno"], separator=":"))
            .alias("code"),
            "msg",
            "cont_text",
            _span_name().alias("span_name"),
            *[_span_field(f).alias(f) for f in (*TIMING, "seed")],
            pl.col("spans")
            .str.extract(r"parameters=(GenerateParameters \{[^}]*\})", 1)
            .alias("parameters"),
        )
        events = tgi_events(frame, source.settings.timezone)
        return ParseResult(
            events,
            rejects.select(MARK_SCHEMA.names()),
            skipped.select(MARK_SCHEMA.names()),
            merged,
        )
