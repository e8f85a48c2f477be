"""Reading JSON records into a frame of top-level fields, one line per object or spanning lines.

A file whose first line is a complete JSON object is read one object per line, vectorized
(one JSON decode per line for all keys, :mod:`timeline.parserkit.jsonpaths`). Otherwise (pretty-printed objects, a JSON array, multi-line
templates) the objects span lines and are grouped in Python by :mod:`parsers.gateway._jsonrec`.
Either way the result is one row per record: ``source_line`` (its first line), ``_members``
(all its lines, so that a rejected record rejects every line) and one String column per key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from parsers.gateway._common import (
    decoded_fields,
    decoded_object,
    empty_marks,
    field,
    is_json_object,
    mark_rows,
)
from parsers.gateway._jsonrec import group, loads_object, records_frame
from timeline.parserkit.api import ParseResult, marks

NOT_JSON = "not a JSON object"


@dataclass(frozen=True)
class Records:
    """Records as a frame of String fields, plus the lines that are not records."""

    frame: pl.DataFrame
    rejects: pl.DataFrame
    skipped: pl.DataFrame
    merged: int


def one_per_line(lines: pl.DataFrame) -> bool:
    """True when the first line is a complete JSON object (the JSON-lines layout)."""
    if lines.height == 0:
        return True
    return bool(lines.head(1).select(is_json_object(pl.col("line"))).item())


def read_records(lines: pl.DataFrame, keys: Sequence[str], repair_dashes: bool = False) -> Records:
    """Read ``lines`` (``source_line``, ``line``) into one row per JSON object."""
    if one_per_line(lines):
        return _per_line(lines, keys, repair_dashes)
    grouped = group(list(lines.select("source_line", "line").iter_rows()), repair_dashes)
    return Records(
        records_frame(grouped.records, keys),
        mark_rows(grouped.rejects),
        mark_rows(grouped.skipped),
        grouped.merged,
    )


def _per_line(lines: pl.DataFrame, keys: Sequence[str], repair_dashes: bool) -> Records:
    decoded = decoded_fields(lines, keys).with_columns(decoded_object(pl.col("line")).alias("_ok"))
    good = decoded.filter(pl.col("_ok")).select(
        "source_line",
        pl.concat_list(pl.col("source_line")).alias("_members"),
        *[field(k).alias(k) for k in keys],
    )
    bad = lines.filter(decoded.get_column("_ok").not_())
    if not repair_dashes or bad.height == 0:
        return Records(good, marks(bad, NOT_JSON), empty_marks(), 0)
    # Fallback for the lines the vectorized path rejected: TEXT templates with bare `-` values.
    fixed: list[tuple[list[int], dict[str, object]]] = []
    still_bad: list[tuple[int, str]] = []
    for number, text in bad.select("source_line", "line").iter_rows():
        obj = loads_object(text, repair_dashes=True) if text.lstrip().startswith("{") else None
        if obj is None:
            still_bad.append((number, NOT_JSON))
        else:
            fixed.append(([number], obj))
    frame = pl.concat([good, records_frame(fixed, keys)], how="vertical_relaxed")
    return Records(frame.sort("source_line"), mark_rows(still_bad), empty_marks(), 0)


def finish(records: Records, frame: pl.DataFrame, events: list[pl.Expr]) -> ParseResult:
    """Split ``frame`` (records plus a ``_reason`` column) into events and rejected lines."""
    bad = frame.filter(pl.col("_reason").is_not_null())
    good = frame.filter(pl.col("_reason").is_null())
    rejected = bad.select(
        pl.col("_members").alias("source_line"), pl.col("_reason").alias("reason")
    ).explode("source_line")
    lost = int(bad.select((pl.col("_members").list.len() - 1).sum()).item() or 0)
    return ParseResult(
        events=good.select(events),
        rejects=pl.concat([records.rejects, rejected.cast({"source_line": pl.Int64})]),
        skipped=records.skipped,
        merged_lines=records.merged - lost,
    )
