"""Helpers for testing parsers: run one file through the real build and render the result.

Used by the golden-file tests (``tests/test_golden.py``) and available to plugin authors.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from timeline.build.accounting import FileAccount
from timeline.build.config import BuildConfig, load_config
from timeline.build.run import BuildOptions, build
from timeline.parse.registry import Registry, default_registry

# Columns left out of golden files: constant per case, or a copy of the input.
GOLDEN_OMIT = ("source_file", "parser", "raw")
GOLDEN_SALT = b"golden"


@dataclass
class FileRun:
    """Events, rejects and accounting of one file run through ``timeline build``."""

    events: pl.DataFrame
    rejects: pl.DataFrame
    account: FileAccount


def run_one(
    path: Path,
    parser: str | None = None,
    config: Path | None = None,
    registry: Registry | None = None,
) -> FileRun:
    """Build ``path`` alone (forcing ``parser`` if given) into a temporary directory."""
    cfg = load_config(config) if config is not None else BuildConfig()
    reg = registry if registry is not None else default_registry(cfg.specs)
    overrides = ((path.name, parser),) if parser else ()
    with tempfile.TemporaryDirectory() as tmp:
        options = BuildOptions(
            outdir=Path(tmp),
            parser_overrides=overrides,
            config=cfg,
            keep_content=True,
            salt=GOLDEN_SALT,
            jobs=1,
        )
        report = build([str(path)], reg, options)
        events = pl.read_parquet(Path(tmp) / "events.parquet")
        rejects = pl.read_parquet(Path(tmp) / "rejects.parquet")
    return FileRun(events, rejects, report.accounts[0])


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def golden_lines(run: FileRun) -> list[str]:
    """The readable golden form: accounting, then one JSON line per event (non-null fields), then rejects."""
    acc = run.account.to_dict()
    keep = (
        "lines_read",
        "lines_parsed",
        "lines_rejected",
        "lines_skipped",
        "events",
        "rejects_by_reason",
        "skipped_by_reason",
        "notes",
    )
    out = [json.dumps({"accounting": {k: acc[k] for k in keep}}, ensure_ascii=False)]
    for row in run.events.drop(*GOLDEN_OMIT).to_dicts():
        item = {}
        for key, value in row.items():
            if value is None or value == []:
                continue
            if key == "attributes":
                value = (
                    {kv["key"]: kv["value"] for kv in value} if isinstance(value, list) else value
                )
            item[key] = _plain(value)
        out.append(json.dumps(item, ensure_ascii=False, sort_keys=False))
    for row in run.rejects.select("source_line", "reason").to_dicts():
        out.append(json.dumps({"reject": row}, ensure_ascii=False))
    return out
