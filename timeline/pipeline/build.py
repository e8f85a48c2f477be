"""``timeline build``: discover inputs, detect formats, parse files in parallel, write Parquet.

Outputs (each written atomically):

* ``events.parquet``: canonical events in input order (files sorted by path, then line);
* ``rejects.parquet``: every rejected line with file, line, parser, reason and an excerpt;
* ``build.json``: inputs (path, size, sha256), per-file accounting and the settings used.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from timeline import __version__, layout
from timeline.correlation.run import CorrelationReport, correlate_outdir
from timeline.export.write import ReportOptions, write_report
from timeline.ingest.discover import STDIN, InputFile, discover
from timeline.ingest.reader import DEFAULT_MAX_LINE_BYTES
from timeline.io.atomic import prepare_outdir, write_text_atomic
from timeline.io.parquet import polars_schema_to_arrow, write_tables
from timeline.normalize.content import default_salt, finish
from timeline.parse.registry import Registry
from timeline.parserkit.api import needs_year
from timeline.pipeline.accounting import FileAccount, totals
from timeline.pipeline.config import BuildConfig
from timeline.pipeline.files import FileJob, FileOutcome, run_file
from timeline.pipeline.plan import PlanOptions, ProgressFn, plan
from timeline.schema import ARROW_SCHEMA as EVENT_ARROW_SCHEMA
from timeline.schema import REJECT_SCHEMA, SCHEMA_VERSION, conform, to_arrow


@dataclass(frozen=True)
class BuildOptions:
    """Settings of one build."""

    outdir: Path
    parser_overrides: tuple[tuple[str, str], ...] = ()
    config: BuildConfig = field(default_factory=BuildConfig)
    skip_unknown: bool = False
    keep_content: bool = False
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    jobs: int = 2
    salt: bytes | None = None
    command: str = ""
    correlate: bool = True
    report: bool = False  # write appendix.md / .html / .json after correlation

    def plan_options(self) -> PlanOptions:
        """What planning needs of these options."""
        return PlanOptions(
            self.parser_overrides,
            self.config,
            self.skip_unknown,
            self.keep_content,
            self.max_line_bytes,
        )


@dataclass
class BuildReport:
    """What a build did."""

    accounts: list[FileAccount]
    events: int
    rejects: int
    outputs: dict[str, Path]
    correlation: CorrelationReport | None = None

    @property
    def totals(self) -> dict[str, int]:
        """Sums over all files."""
        return totals(self.accounts)


def _run_jobs(jobs: list[FileJob], parts_dir: Path, workers: int) -> list[FileOutcome]:
    if workers <= 1 or len(jobs) <= 1:
        return [run_file(job, parts_dir) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda j: run_file(j, parts_dir), jobs))


def _infer_year(outcomes: list[FileOutcome], jobs: list[FileJob]) -> tuple[int, str]:
    years = [o.max_ts_year for o in outcomes if o.max_ts_year is not None]
    if years:
        return max(years), "the other sources"
    for job in jobs:
        if job.reader.path.exists():
            mtime = job.reader.path.stat().st_mtime
            return datetime.fromtimestamp(mtime, tz=UTC).year, "the file's modification time"
    return datetime.now(tz=UTC).year, "the current date"


def _execute(jobs: list[FileJob], parts_dir: Path, options: BuildOptions) -> list[FileOutcome]:
    """Files with a year in their timestamps first; then year-less ones, with the year inferred."""
    first = [j for j in jobs if not (j.parser and needs_year(j.parser) and j.settings.year is None)]
    later = [j for j in jobs if j not in first]
    outcomes = dict(
        zip([j.index for j in first], _run_jobs(first, parts_dir, options.jobs), strict=True)
    )
    if later:
        year, origin = _infer_year(list(outcomes.values()), later)
        for job in later:
            job.settings = type(job.settings)(job.settings.timezone, year, origin)
        outcomes.update(
            zip([j.index for j in later], _run_jobs(later, parts_dir, options.jobs), strict=True)
        )
    for job in jobs:
        account = outcomes[job.index].account
        account.detection = job.detection
    return [outcomes[j.index] for j in sorted(jobs, key=lambda j: j.index)]


def _dedupe(outcomes: list[FileOutcome]) -> None:
    first_seen: dict[str, str] = {}
    for outcome in outcomes:
        account = outcome.account
        original = first_seen.setdefault(account.sha256, account.source_file)
        if original != account.source_file and account.lines_read:
            account.skip_all(f"duplicate input (same content as {original})")
            account.notes.append(f"same content as {original}; its events are counted once")
            outcome.event_parts.clear()
            outcome.reject_parts.clear()


def _event_tables(
    outcomes: list[FileOutcome], salt: bytes, keep_content: bool
) -> Iterator[pa.Table]:
    for outcome in outcomes:
        for part in outcome.event_parts:
            frame = conform(pl.read_ipc(part))
            yield to_arrow(finish(frame, outcome.account.sha256, salt, keep_content))


def _reject_tables(outcomes: list[FileOutcome]) -> Iterator[pa.Table]:
    for outcome in outcomes:
        for part in outcome.reject_parts:
            frame = pl.read_ipc(part).with_columns(
                pl.lit(outcome.account.source_file).alias("source_file"),
                pl.lit(outcome.account.parser).cast(pl.String).alias("parser"),
            )
            yield (
                frame.select(REJECT_SCHEMA.names())
                .cast(REJECT_SCHEMA)
                .sort("source_line", maintain_order=True)
                .to_arrow()
            )


def build(
    inputs: Sequence[str],
    registry: Registry,
    options: BuildOptions,
    progress: ProgressFn | None = None,
    on_total: Callable[[int], None] | None = None,
) -> BuildReport:
    """Run the whole build; see the module docstring."""
    outdir = options.outdir
    prepare_outdir(outdir)
    files = discover(inputs, exclude=[outdir])
    parts_dir = Path(tempfile.mkdtemp(prefix=layout.PARTS_PREFIX, dir=outdir))
    try:
        jobs = plan(files, registry, options.plan_options(), parts_dir, progress)
        if on_total is not None:
            on_total(sum(j.reader.path.stat().st_size for j in jobs))
        outcomes = _execute(jobs, parts_dir, options)
        _dedupe(outcomes)
        accounts = [o.account for o in outcomes]
        salt = (
            options.salt if options.salt is not None else default_salt(a.sha256 for a in accounts)
        )
        metadata = _metadata(accounts, files)
        events = write_tables(
            outdir / layout.EVENTS,
            EVENT_ARROW_SCHEMA,
            _event_tables(outcomes, salt, options.keep_content),
            metadata,
        )
        rejects = write_tables(
            outdir / layout.REJECTS,
            polars_schema_to_arrow(REJECT_SCHEMA),
            _reject_tables(outcomes),
            metadata,
        )
        manifest = _manifest(metadata, options, registry, accounts)
        write_text_atomic(outdir / layout.MANIFEST, _json(manifest))
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)
    outputs = {
        "events": outdir / layout.EVENTS,
        "rejects": outdir / layout.REJECTS,
        "manifest": outdir / layout.MANIFEST,
    }
    correlation = None
    if options.correlate:
        correlation = correlate_outdir(outdir, layout.EVENTS, options.config.correlation)
        outputs |= {
            "timeline": outdir / layout.TIMELINE,
            "requests": outdir / layout.REQUESTS,
            "correlation": outdir / layout.CORRELATION,
        }
        if options.report:
            for path in write_report(outdir, ReportOptions()):
                outputs[path.stem + path.suffix.replace(".", "_")] = path
    return BuildReport(accounts, events, rejects, outputs, correlation)


def _metadata(accounts: list[FileAccount], files: Sequence[InputFile]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "ai-timeline",
        "tool_version": __version__,
        "inputs": [
            {
                "path": a.source_file,
                "size": a.size,
                "sha256": a.sha256,
                "stdin": a.source_file == STDIN,
            }
            for a in accounts
        ],
        "accounting": [a.to_dict() for a in accounts],
        "totals": totals(accounts),
    }


def _manifest(
    metadata: dict[str, Any], options: BuildOptions, registry: Registry, accounts: list[FileAccount]
) -> dict[str, Any]:
    used = sorted({a.parser for a in accounts if a.parser})
    return {
        **metadata,
        "command": options.command,
        "settings": {
            "keep_content": options.keep_content,
            "skip_unknown": options.skip_unknown,
            "max_line_bytes": options.max_line_bytes,
            "timezone": options.config.timezone,
            "year": options.config.year,
            "config": options.config.path,
            "parser_overrides": [f"{g}={n}" for g, n in options.parser_overrides],
            "salt": "custom" if options.salt is not None else "derived from the inputs",
        },
        "parsers": {name: registry.origin(name) for name in used},
        "outputs": {"events": layout.EVENTS, "rejects": layout.REJECTS},
    }


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
