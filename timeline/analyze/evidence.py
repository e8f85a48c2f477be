"""Citations: every statement in the appendix points at events by id and ``source_file:line``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import polars as pl

MAX_CITATIONS: Final = 3


def location() -> pl.Expr:
    """``source_file:source_line`` as one string column named ``source``."""
    return pl.concat_str(
        [pl.col("source_file"), pl.lit(":"), pl.col("source_line").cast(pl.String)]
    ).alias("source")


def cite(frame: pl.DataFrame, limit: int = MAX_CITATIONS) -> list[dict[str, str]]:
    """The first ``limit`` events of ``frame`` as ``{"event_id", "source"}`` citations."""
    if frame.is_empty():
        return []
    rows = frame.head(limit).select("event_id", location()).to_dicts()
    return [{"event_id": str(r["event_id"]), "source": str(r["source"])} for r in rows]


def iso(value: Any) -> str | None:
    """A UTC timestamp as ``YYYY-MM-DDTHH:MM:SS(.ffffff)Z``; None stays None."""
    if not isinstance(value, datetime):
        return None
    text = value.isoformat()
    return text.replace("+00:00", "Z")
