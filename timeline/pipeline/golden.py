"""Golden pairs for parsers: run one file through the real build and compare the readable result.

A parser's golden pairs sit in ``<parser folder>/golden/``: an input ``<case>.<ext>`` beside
``<case>.expected.jsonl`` (and optionally ``<case>.toml``, used as that case's ``timeline.toml``).
Used by ``timeline parsers test``, by the project's golden tests and by plugin authors.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import polars as pl

from timeline.layout import EVENTS, REJECTS
from timeline.parse.registry import Registry, default_registry
from timeline.pipeline.accounting import FileAccount
from timeline.pipeline.build import BuildOptions, build
from timeline.pipeline.config import BuildConfig, load_config

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
            correlate=False,  # golden rows are events and rejects; correlation is never read
        )
        report = build([str(path)], reg, options)
        events = pl.read_parquet(Path(tmp) / EVENTS)
        rejects = pl.read_parquet(Path(tmp) / REJECTS)
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


GOLDEN_DIR: Final = "golden"
EXPECTED_SUFFIX: Final = ".expected.jsonl"


@dataclass(frozen=True)
class GoldenCase:
    """One golden pair: the input a parser reads and the rows it must produce."""

    parser: str
    input: Path

    @property
    def name(self) -> str:
        """The case name: the input's file name up to its first dot."""
        return self.input.name.split(".", 1)[0]

    @property
    def expected(self) -> Path:
        """``<case>.expected.jsonl`` beside the input."""
        return self.input.with_name(self.name + EXPECTED_SUFFIX)

    @property
    def config(self) -> Path | None:
        """``<case>.toml`` beside the input, the case's ``timeline.toml``, when there is one."""
        path = self.input.with_name(self.name + ".toml")
        return path if path.is_file() else None

    @property
    def expects_rejects_only(self) -> bool:
        """Cases named ``bad*`` hold damaged input; detection is not required to pick the parser."""
        return self.name.startswith("bad")


def golden_cases(parser: str, folder: Path) -> list[GoldenCase]:
    """The golden cases of ``parser`` in ``folder/golden/`` (a parser's folder), or in ``folder``
    itself when it is named ``golden``."""
    golden = folder if folder.name == GOLDEN_DIR else folder / GOLDEN_DIR
    return cases_in(parser, golden)


def cases_in(parser: str, directory: Path) -> list[GoldenCase]:
    """Every input in ``directory`` (not the expected files, settings or notes) as a case of ``parser``."""
    if not directory.is_dir():
        return []
    return [
        GoldenCase(parser, path)
        for path in sorted(directory.iterdir())
        if path.is_file() and not path.name.endswith((EXPECTED_SUFFIX, ".toml", ".md"))
    ]


def registry_cases(registry: Registry, names: Iterable[str] | None = None) -> list[GoldenCase]:
    """Golden cases of the registry's parsers that have a folder (all of them, or ``names``)."""
    wanted = list(names) if names is not None else [p.name for p in registry]
    cases: list[GoldenCase] = []
    for name in wanted:
        folder = registry.folder(name)
        if folder is not None:
            cases.extend(golden_cases(name, folder))
    return cases


def _shown(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def check_case(case: GoldenCase, registry: Registry, update: bool = False) -> str | None:
    """Run ``case``; None when it gives its expected rows, else a unified diff (or a note).

    With ``update`` (or when the expected file is missing) the expected file is (re)written and
    the return value says so, for the caller to review."""
    run = run_one(_shown(case.input), case.parser, case.config, registry)
    actual = golden_lines(run)
    if update or not case.expected.exists():
        existed = case.expected.exists()
        old = case.expected.read_text(encoding="utf-8").splitlines() if existed else []
        if old == actual:
            return None
        case.expected.write_text("\n".join(actual) + "\n", encoding="utf-8")
        return f"wrote {case.expected} ({'updated' if existed else 'new'}; review the diff)"
    expected = case.expected.read_text(encoding="utf-8").splitlines()
    if actual == expected:
        return None
    return "\n".join(
        difflib.unified_diff(expected, actual, str(case.expected), "actual", lineterm="", n=1)
    )
