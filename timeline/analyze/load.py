"""Read a built OUTDIR: timeline, requests, rejects, build manifest, correlation report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

from timeline.errors import InputError
from timeline.io.parquet import read_events

TIMELINE_FILE: Final = "timeline.parquet"
REQUESTS_FILE: Final = "requests.parquet"
REJECTS_FILE: Final = "rejects.parquet"
MANIFEST_FILE: Final = "build.json"
CORRELATION_FILE: Final = "correlation.json"


@dataclass(frozen=True)
class Outdir:
    """Everything a build wrote, loaded."""

    path: Path
    timeline: pl.DataFrame
    requests: pl.DataFrame
    rejects: pl.DataFrame
    manifest: dict[str, Any]
    correlation: dict[str, Any]


def require_timeline(outdir: Path) -> Path:
    """The path of ``outdir/timeline.parquet``, or an ``InputError`` saying how to make it."""
    path = outdir / TIMELINE_FILE
    if not path.is_file():
        raise InputError(
            f"{str(outdir)!r} has no {TIMELINE_FILE}; run `timeline build INPUTS -o {outdir}` first"
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


def _events(path: Path) -> pl.DataFrame:
    try:
        return read_events(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc}") from None


def load_outdir(outdir: Path) -> Outdir:
    """Load the outputs of ``timeline build`` from ``outdir``."""
    timeline = _events(require_timeline(outdir))
    requests_path = outdir / REQUESTS_FILE
    if not requests_path.is_file():
        raise InputError(
            f"{str(outdir)!r} has no {REQUESTS_FILE}; run `timeline build INPUTS -o {outdir}` again"
        )
    rejects_path = outdir / REJECTS_FILE
    rejects = _parquet(rejects_path) if rejects_path.is_file() else pl.DataFrame()
    return Outdir(
        path=outdir,
        timeline=timeline,
        requests=_parquet(requests_path),
        rejects=rejects,
        manifest=_json(outdir / MANIFEST_FILE),
        correlation=_json(outdir / CORRELATION_FILE),
    )
