"""Hugging Face text-generation-inference (TGI) with `--json-output`: tracing JSON lines.

A record may be hard-wrapped over several lines (a terminal or a log shipper cutting lines at a
fixed width). A hard wrap inserts a line break that was not in the data, possibly inside a string,
so the pieces are joined back WITHOUT a separator, and the join must parse. See :func:`rejoin`.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference._tgi import EMPTY, TGI_TARGET, TIMING, tgi_events
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source
from timeline.parserkit.jsonpaths import ROOT, decode_paths, jp
from timeline.parserkit.records import Records
from timeline.parserkit.text import strip_ansi

# A line that always begins a record (tracing-subscriber writes `timestamp` first).
RECORD_START: Final = r'^\{\s*"timestamp"\s*:'
# A wrapped record is given up after this many lines or this much text.
MAX_LINES: Final = 64
MAX_BYTES: Final = 1 << 20
NOT_JSON: Final = "not JSON"
NOT_RECORD: Final = "not a tracing JSON record"
TOO_LONG: Final = f"JSON record not closed within {MAX_LINES} lines or 1 MiB"

_SPAN_FIELDS: Final = (*TIMING, "seed", "parameters")
PATHS: Final = (
    "$.timestamp",
    "$.level",
    "$.target",
    "$.fields.message",
    "$.message",
    "$.filename",
    "$.line_number",
    "$.span.name",
    "$.spans[-1:].name",
    *[p for f in _SPAN_FIELDS for p in (f"$.span.{f}", f"$.spans[*].{f}", f"$.fields.{f}")],
)


def _single_reason(line: pl.Expr) -> pl.Expr:
    """Why a line that is no record (alone) is rejected."""
    return (
        pl.when(line.str.strip_chars().str.starts_with("{"))
        .then(pl.lit(NOT_RECORD))
        .otherwise(pl.lit(NOT_JSON))
    )


def rejoin(lines: pl.DataFrame, paths: tuple[str, ...] = PATHS) -> Records:
    """The JSON records of ``lines``, hard-wrapped ones rejoined, with ``paths`` decoded.

    A record opens on a line with ``{`` in its first column (unless the line above ends with
    ``:``, ``[`` or ``,``: then it is a nested object wrapped onto its own line; a
    ``{"timestamp":`` line always opens one). The record is the shortest run of its lines,
    joined without a separator, that parses; only runs ending in ``}`` are tried, up to
    :data:`MAX_LINES` lines and :data:`MAX_BYTES`. Lines after the record up to the next opening
    line are rejected one by one; a record that never parses rejects its lines one by one too
    (as :data:`TOO_LONG` when it ran into the bounds). Vectorized: the candidate runs of every
    record are decoded at once (:func:`decode_paths`).
    """
    line = pl.col("line")
    above = line.shift(1).fill_null("")
    heads = lines.select(
        "source_line",
        "line",
        (
            line.str.starts_with("{")
            & (~above.str.contains(r"[:\[,]$") | line.str.contains(RECORD_START))
        ).alias("head"),
    ).with_columns(pl.col("head").cum_sum().alias("group"), pl.int_range(pl.len()).alias("row"))
    heads = heads.with_columns(
        (pl.col("row") - pl.col("row").min().over("group")).alias("k"),
        line.str.len_bytes().cum_sum().over("group").alias("bytes"),
    )
    in_bound = (pl.col("k") < MAX_LINES) & (pl.col("bytes") <= MAX_BYTES)
    opened = heads.filter(pl.col("group") > 0)
    # Candidate ends: lines ending in `}` within the bounds.
    ends = opened.filter(in_bound & line.str.strip_chars_end().str.ends_with("}"))
    single = ends.filter(pl.col("k") == 0).select("group", "k", line.alias("text"))
    wrapped_groups = ends.filter(pl.col("k") > 0).get_column("group").unique()
    pieces = (
        opened.filter(pl.col("group").is_in(wrapped_groups.implode()) & in_bound)
        .group_by("group")
        .agg(pl.col("line").sort_by("k").alias("pieces"))
    )
    multi = (
        ends.filter(pl.col("k") > 0)
        .select("group", "k")
        .join(pieces, on="group")
        .select(
            "group",
            "k",
            pl.col("pieces").list.head(pl.col("k") + 1).list.join("").alias("text"),
        )
    )
    candidates = pl.concat([single, multi]).sort("group", "k")
    decoded = pl.concat(
        [candidates, decode_paths(candidates.get_column("text"), paths)], how="horizontal"
    )
    valid = jp(ROOT).is_not_null() & pl.col("text").str.strip_chars_start().str.starts_with("{")
    chosen = decoded.filter(valid).unique("group", keep="first", maintain_order=True)
    # Which lines each record holds, the rest of its group, and groups that ran out of bounds.
    members = heads.join(chosen.select("group", pl.col("k").alias("last")), on="group", how="left")
    in_record = pl.col("last").is_not_null() & (pl.col("k") <= pl.col("last"))
    spans = (
        members.filter(in_record)
        .group_by("group")
        .agg(pl.col("source_line").sort_by("k").alias("lines"))
    )
    frame = (
        chosen.join(spans, on="group")
        .with_columns(pl.col("lines").list.first().alias("source_line"))
        .select(
            "source_line",
            "lines",
            jp(ROOT).alias("text"),
            pl.exclude("group", "k", "text", "source_line", "lines"),
        )
        .drop(jp(ROOT).meta.output_name())
        .sort("source_line")
    )
    too_long = (
        heads.group_by("group")
        .agg((~in_bound).any().alias("over"))
        .filter(pl.col("over") & (pl.col("group") > 0))
        .get_column("group")
    )
    failed = (pl.col("last").is_null() & (pl.col("group") > 0)).fill_null(False)
    outside = members.filter(~in_record.fill_null(False))
    rejects = outside.select(
        "source_line",
        pl.when(failed & pl.col("group").is_in(too_long.implode()))
        .then(pl.lit(TOO_LONG))
        .otherwise(_single_reason(line))
        .alias("reason"),
    ).cast(MARK_SCHEMA)
    return Records(frame, rejects, pl.DataFrame(schema=MARK_SCHEMA))


def _json_span(name: str) -> pl.Expr:
    return pl.coalesce(jp(f"$.span.{name}"), jp(f"$.spans[*].{name}"), jp(f"$.fields.{name}"))


def _fields(records: Records) -> Records:
    msg = strip_ansi(pl.coalesce(jp("$.fields.message"), jp("$.message")))
    line_no = jp("$.line_number")
    return records.with_columns(
        jp("$.timestamp").alias("ts_text"),
        jp("$.level").alias("level"),
        jp("$.target").alias("target"),
        msg.alias("msg"),
        pl.when(jp("$.filename").is_not_null())
        .then(pl.concat_str([jp("$.filename"), line_no], separator=":"))
        .alias("code"),
        pl.lit(None, dtype=pl.String).alias("cont_text"),
        pl.coalesce(jp("$.span.name"), jp("$.spans[-1:].name")).alias("span_name"),
        *[_json_span(f).alias(f) for f in _SPAN_FIELDS],
    ).keep(
        pl.col("ts_text").is_not_null()
        & pl.col("level").is_not_null()
        & pl.col("msg").is_not_null(),
        NOT_RECORD,
    )


class TgiJsonParser:
    """TGI with `--json-output`: tracing-subscriber JSON, one record per line (or hard-wrapped)."""

    name = "tgi_json"
    layer = "inference"
    description = "Hugging Face text-generation-inference `--json-output` log (tracing JSON lines)"
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = RECORD_START

    def sniff(self, sample: Sample) -> float:
        """High only when the JSON records are tracing records with `text_generation_*` targets."""
        if not sample.lines:
            return 0.0
        records = _fields(rejoin(sample.frame()))
        ok = records.frame
        if ok.height == 0:
            return 0.0
        tgi = int(ok.get_column("target").str.contains(TGI_TARGET).sum())
        if tgi == 0:
            return 0.0
        lines = int(ok.get_column("lines").list.len().sum())
        return min(0.6 + 0.38 * tgi * lines / ok.height / len(sample.lines), 1.0)

    def parse(self, source: Source) -> ParseResult:
        """Records rejoined and decoded at once; lines that are not tracing records are rejected."""
        records = _fields(rejoin(source.lines))
        if records.frame.height == 0:
            return ParseResult(pl.DataFrame(schema=EMPTY), records.rejects, records.skipped)
        frame = records.frame.select(
            "source_line",
            "ts_text",
            "level",
            "target",
            "code",
            "msg",
            "cont_text",
            "span_name",
            *_SPAN_FIELDS,
        )
        return records.result(tgi_events(frame, source.settings.timezone))
