"""Open a built OUTDIR: timeline and requests as lazy scans; rejects, build manifest, correlation.

The analysis never holds the whole timeline: every section asks the scans for the few columns it
needs and aggregates inside the scan (projection and predicate pushdown, streaming engine), and
only the exemplar requests are read as full events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from timeline.errors import InputError
from timeline.layout import CORRELATION, MANIFEST, REJECTS, REQUESTS, TIMELINE
from timeline.normalize.events import docs_from_source, is_retrieval
from timeline.schema import POLARS_SCHEMA


@dataclass(frozen=True)
class Outdir:
    """Everything a build wrote: the two large tables as lazy scans (or frames, in tests)."""

    path: Path
    timeline: pl.LazyFrame | pl.DataFrame
    requests: pl.LazyFrame | pl.DataFrame
    rejects: pl.DataFrame
    manifest: dict[str, Any]
    correlation: dict[str, Any]


def require_timeline(outdir: Path) -> Path:
    """The path of ``outdir/timeline.parquet``, or an ``InputError`` saying how to make it."""
    path = outdir / TIMELINE
    if not path.is_file():
        raise InputError(
            f"{str(outdir)!r} has no {TIMELINE}; run `timeline build INPUTS -o {outdir}` first"
        )
    return path


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc}") from None
    return value if isinstance(value, dict) else {}


def _parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc}") from None


def _scan(path: Path) -> tuple[pl.LazyFrame, pl.Schema]:
    """A lazy scan of ``path`` and its schema (reading the footer now, so a bad file fails here)."""
    try:
        scan = pl.scan_parquet(path)
        return scan, scan.collect_schema()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc}") from None


def scan_events(path: Path) -> pl.LazyFrame:
    """An events/timeline Parquet file as a lazy scan with the canonical columns and types.

    The lazy counterpart of ``timeline.io.parquet.read_events``: missing columns become typed
    nulls, the ``attributes`` map becomes key/value lists. Nothing is read until collected. A
    file written before ``docs_returned`` existed gets it computed from ``doc_ids`` and the
    ``total_hits`` attribute, as the build fills it now (read only when a query needs it).
    """
    scan, schema = _scan(path)
    exprs = []
    for name, dtype in POLARS_SCHEMA.items():
        if name not in schema:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        elif schema[name] == dtype:
            exprs.append(pl.col(name))
        else:
            exprs.append(pl.col(name).cast(dtype))
    events = scan.select(exprs)
    if "docs_returned" not in schema:
        older = pl.when(is_retrieval(pl.col("layer"))).then(docs_from_source())
        events = events.with_columns(older.alias("docs_returned"))
    return events


def load_outdir(outdir: Path) -> Outdir:
    """Open the outputs of ``timeline build`` in ``outdir`` (large tables lazily)."""
    timeline = scan_events(require_timeline(outdir))
    requests_path = outdir / REQUESTS
    if not requests_path.is_file():
        raise InputError(
            f"{str(outdir)!r} has no {REQUESTS}; run `timeline build INPUTS -o {outdir}` again"
        )
    rejects_path = outdir / REJECTS
    rejects = _parquet(rejects_path) if rejects_path.is_file() else pl.DataFrame()
    return Outdir(
        path=outdir,
        timeline=timeline,
        requests=_scan(requests_path)[0],
        rejects=rejects,
        manifest=_json(outdir / MANIFEST),
        correlation=_json(outdir / CORRELATION),
    )


def collect(frame: pl.LazyFrame) -> pl.DataFrame:
    """Run an aggregating query with the streaming engine (memory bounded by its result)."""
    return frame.collect(engine="streaming")
