"""SQL over a built OUTDIR: tables ``timeline``, ``requests`` and ``rejects`` (polars SQL)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Final

import polars as pl

from timeline.analyze.load import require_timeline
from timeline.errors import ConfigError
from timeline.layout import REJECTS, REQUESTS, TIMELINE

TABLES: Final = {"timeline": TIMELINE, "requests": REQUESTS, "rejects": REJECTS}


def run_query(outdir: Path, sql: str) -> pl.DataFrame:
    """Run ``sql`` with polars' SQLContext over lazy scans of the OUTDIR's Parquet files."""
    require_timeline(outdir)
    frames = {
        name: pl.scan_parquet(outdir / filename)
        for name, filename in TABLES.items()
        if (outdir / filename).is_file()
    }
    ctx = pl.SQLContext(frames=frames)
    try:
        return ctx.execute(sql).collect()
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.split("; valid columns")[0]
        raise ConfigError(f"the query failed: {first}; tables: {', '.join(frames)}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return value


def to_csv(frame: pl.DataFrame) -> str:
    """CSV with a header; nested values as JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in frame.iter_rows():
        writer.writerow(["" if v is None else _plain(v) for v in row])
    return buffer.getvalue()


def to_json(frame: pl.DataFrame) -> str:
    """A JSON array of row objects."""
    return json.dumps(frame.to_dicts(), default=str, ensure_ascii=False, indent=2) + "\n"


def cells(frame: pl.DataFrame) -> list[list[str]]:
    """Every cell as text, for a terminal table."""
    return [["" if v is None else str(_plain(v)) for v in row] for row in frame.iter_rows()]
