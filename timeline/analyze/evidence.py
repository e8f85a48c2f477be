"""Citations: every statement in the appendix points at events by id and ``source_file:line``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import polars as pl

MAX_CITATIONS: Final = 3
# A part of a citation that the data does not have (a null file, line or event id).
MISSING: Final = "—"


def location() -> pl.Expr:
    """``source_file:source_line`` as one string column named ``source`` (``—`` for a null part)."""
    return pl.concat_str(
        [
            pl.col("source_file").fill_null(MISSING),
            pl.lit(":"),
            pl.col("source_line").cast(pl.String).fill_null(MISSING),
        ]
    ).alias("source")


def source_of(source_file: Any, source_line: Any) -> str:
    """``source_file:source_line`` of one event (``—`` for a null part), as :func:`location`."""
    file = MISSING if source_file is None else str(source_file)
    line = MISSING if source_line is None else str(source_line)
    return f"{file}:{line}"


def cite(frame: pl.DataFrame, limit: int = MAX_CITATIONS) -> list[dict[str, str]]:
    """The first ``limit`` events of ``frame`` as ``{"event_id", "source"}`` citations."""
    if frame.is_empty():
        return []
    rows = frame.head(limit).select("event_id", location()).to_dicts()
    return [
        {
            "event_id": MISSING if r["event_id"] is None else str(r["event_id"]),
            "source": r["source"],
        }
        for r in rows
    ]


def iso(value: Any) -> str | None:
    """A UTC timestamp as ``YYYY-MM-DDTHH:MM:SS(.ffffff)Z``; None stays None."""
    if not isinstance(value, datetime):
        return None
    text = value.isoformat()
    return text.replace("+00:00", "Z")
