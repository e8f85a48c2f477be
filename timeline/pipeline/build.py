"""``timeline build``: discover inputs, detect formats, parse files in parallel, write Parquet.

Outputs (written into a fresh folder beside OUTDIR that replaces it at the end, under a lock;
see ``timeline.io.outdir``: the folder never holds files of two builds):

* ``timeline.parquet``, ``requests.parquet``, ``correlation.json``: the correlated events, the
  requests and the correlation report (``timeline.correlation.run``). The full events are written
  once: to a scratch Arrow IPC file in input order (files sorted by path, then line), which
  correlation reads and removes (``timeline.io.eventsfile``);
* with ``correlate=False`` instead ``events.parquet``: the canonical events in input order;
* ``rejects.parquet``: every rejected line with file, line, parser, reason and an excerpt;
* ``build.json``: inputs (path, size, sha256), per-file accounting and the settings used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

import polars as pl
import pyarrow as pa

from timeline import __version__, layout
from timeline.correlation.run import CorrelationReport, correlate_outdir
from timeline.export.write import ReportOptions, write_report
from timeline.ingest.discover import STDIN, InputFile, discover_inputs
from timeline.ingest.reader import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINE_BYTES
from timeline.io.atomic import write_text_atomic
from timeline.io.eventsfile import SCRATCH_SUFFIX, EventsFile, write_scratch
from timeline.io.outdir import fresh_outdir
from timeline.io.parquet import polars_schema_to_arrow, write_tables
from timeline.normalize.content import finish
from timeline.normalize.redact import redact_rejects, scrub_option
from timeline.normalize.salt import resolve_salt, salt_origin
from timeline.parse.registry import Registry
from timeline.parserkit.api import needs_year
from timeline.pipeline.accounting import FileAccount, totals
from timeline.pipeline.blocks import BlockPool, Task
from timeline.pipeline.config import BuildConfig
from timeline.pipeline.files import FileJob, FileOutcome, run_file
from timeline.pipeline.plan import PlanOptions, ProgressFn, plan, unmatched_rules
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
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # an endless source (/dev/zero) stops here
    jobs: int = 2
    salt: bytes | None = None
    command: str = ""
    correlate: bool = True
    report: bool = False  # write appendix.md / .html / .json after correlation
    memory_budget: int = (
        0  # bytes correlation may hold (0: half of the memory available, at most 2 GiB)
    )

    def plan_options(self) -> PlanOptions:
        """What planning needs of these options."""
        return PlanOptions(
            self.parser_overrides,
            self.config,
            self.skip_unknown,
            self.keep_content,
            self.max_line_bytes,
            max_file_bytes=self.max_file_bytes,
            workers=self.jobs,
        )


@dataclass
class BuildReport:
    """What a build did."""

    accounts: list[FileAccount]
    events: int
    rejects: int
    outputs: Mapping[str, Path | str]  # a URI (str) for an output folder by URI (Spark engine)
    correlation: CorrelationReport | None = None
    warnings: list[str] = field(default_factory=list)  # skipped inputs, rules matching no file

    @property
    def totals(self) -> dict[str, int]:
        """Sums over all files."""
        return totals(self.accounts)


def _run_jobs(jobs: list[FileJob], parts_dir: Path, workers: int) -> list[FileOutcome]:
    """Files in parallel threads, and the blocks of each file on one shared pool of ``workers``
    threads (:mod:`timeline.pipeline.blocks`): one large file keeps every core busy too."""
    with BlockPool(workers) as blocks:
        if workers <= 1 or len(jobs) <= 1:
            return [run_file(job, parts_dir, blocks) for job in jobs]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="timeline-file") as pool:
            return list(pool.map(lambda j: run_file(j, parts_dir, blocks), jobs))


def infer_year(outcomes: list[FileOutcome], jobs: list[FileJob]) -> tuple[int, str]:
    """The year for year-less timestamps and where it came from: the latest year of the other
    files' events, else the first job's file modification time, else the current date."""
    years = [o.max_ts_year for o in outcomes if o.max_ts_year is not None]
    if years:
        return max(years), "the other sources"
    for job in jobs:
        if (mtime := job.reader.modified()) is not None:
            return datetime.fromtimestamp(mtime, tz=UTC).year, "the file's modification time"
    return datetime.now(tz=UTC).year, "the current date"


def by_year(jobs: list[FileJob]) -> tuple[list[FileJob], list[FileJob]]:
    """The jobs whose timestamps carry a year (or that were given one), and the year-less ones,
    which wait for the year the others show (``infer_year``); each in input order."""
    first: list[FileJob] = []
    later: list[FileJob] = []
    for job in jobs:
        waits = job.parser is not None and needs_year(job.parser) and job.settings.year is None
        (later if waits else first).append(job)
    return first, later


def _execute(jobs: list[FileJob], parts_dir: Path, options: BuildOptions) -> list[FileOutcome]:
    """Files with a year in their timestamps first; then year-less ones, with the year inferred."""
    first, later = by_year(jobs)
    outcomes = dict(
        zip([j.index for j in first], _run_jobs(first, parts_dir, options.jobs), strict=True)
    )
    if later:
        year, origin = infer_year(list(outcomes.values()), later)
        for job in later:
            job.settings = dataclasses.replace(job.settings, year=year, year_origin=origin)
        outcomes.update(
            zip([j.index for j in later], _run_jobs(later, parts_dir, options.jobs), strict=True)
        )
    for job in jobs:
        account = outcomes[job.index].account
        account.detection = job.detection
    return [outcomes[j.index] for j in sorted(jobs, key=lambda j: j.index)]


def dedupe(outcomes: list[FileOutcome]) -> None:
    """Inputs with the same content (decompressed: ``a.log`` and ``a.log.gz``) count once."""
    first_seen: dict[str, str] = {}
    for outcome in outcomes:
        account = outcome.account
        content = outcome.content_sha256 or account.sha256
        original = first_seen.setdefault(content, account.source_file)
        if original != account.source_file and account.lines_read:
            account.skip_all(f"duplicate input (same content as {original})")
            account.notes.append(f"same content as {original}; its events are counted once")
            outcome.event_parts.clear()
            outcome.reject_parts.clear()


def _event_table(part: Path, sha256: str, salt: bytes, keep_content: bool) -> pa.Table:
    frame = conform(pl.read_ipc(part))
    return to_arrow(finish(frame, sha256, salt, keep_content))


def event_tables(
    outcomes: list[FileOutcome], salt: bytes, keep_content: bool, pool: BlockPool | None = None
) -> Iterator[pa.Table]:
    """Every event part as its final Arrow table, in input order; with a ``pool``, the next parts
    are prepared on its threads while the writer compresses the current one."""
    tasks = (
        Task(partial(_event_table, part, outcome.account.sha256, salt, keep_content))
        for outcome in outcomes
        for part in outcome.event_parts
    )
    return (pool if pool is not None else BlockPool(1)).ordered(tasks)


def reject_tables(
    outcomes: list[FileOutcome], salt: bytes, keep_content: bool
) -> Iterator[pa.Table]:
    """Each file's rejects in line order: part by part, or sorted together when the parts
    interleave (so the order does not depend on where blocks and chunks were cut)."""
    for outcome in outcomes:
        parts: Iterable[list[Path]] = (
            ([p] for p in outcome.reject_parts)
            if outcome.rejects_in_order
            else [outcome.reject_parts]
        )
        for group in parts:
            if not group:
                continue
            frame = pl.concat([pl.read_ipc(part) for part in group]).with_columns(
                pl.lit(outcome.account.source_file).alias("source_file"),
                pl.lit(outcome.account.parser).cast(pl.String).alias("parser"),
            )
            frame = frame.select(REJECT_SCHEMA.names()).cast(REJECT_SCHEMA)
            if not keep_content:
                frame = redact_rejects(frame, salt)
            yield frame.sort("source_line", maintain_order=True).to_arrow()


def build(
    inputs: Sequence[str],
    registry: Registry,
    options: BuildOptions,
    progress: ProgressFn | None = None,
    on_total: Callable[[int], None] | None = None,
) -> BuildReport:
    """Run the whole build; see the module docstring."""
    outdir = options.outdir
    with fresh_outdir(outdir) as fresh:
        stage = fresh.stage
        found = discover_inputs(inputs, exclude=[outdir, stage])
        files = found.files
        warnings = [f"skipped {path}: {reason}" for path, reason in found.skipped]
        warnings += unmatched_rules(files, options.parser_overrides, options.config)
        # With correlation, the events go to a scratch file that correlation reads, then removed.
        scratch = tempfile.mkdtemp(prefix=layout.PARTS_PREFIX, dir=stage)
        try:
            target = Path(scratch) / f"events{SCRATCH_SUFFIX}" if options.correlate else None
            written, accounts, events, rejects, source = _parse(
                files, registry, options, stage, warnings, progress, on_total, target
            )
            correlation = None
            if source is not None:
                correlation = correlate_outdir(
                    stage,
                    source,
                    options.config.correlation,
                    memory_budget=options.memory_budget or None,
                    workers=options.jobs,
                )
                written += [layout.TIMELINE, layout.REQUESTS, layout.CORRELATION]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        fresh.commit()
        if options.correlate and options.report:
            # After the swap, still under the lock: the appendix names the folder as given.
            written += [path.name for path in write_report(outdir, ReportOptions())]
    outputs = {OUTPUT_KEYS.get(name, name.replace(".", "_")): outdir / name for name in written}
    return BuildReport(accounts, events, rejects, outputs, correlation, warnings)


# The key of each output file in :attr:`BuildReport.outputs` (others: the name, dots as ``_``).
OUTPUT_KEYS: Final = {
    layout.EVENTS: "events",
    layout.REJECTS: "rejects",
    layout.MANIFEST: "manifest",
    layout.TIMELINE: "timeline",
    layout.REQUESTS: "requests",
    layout.CORRELATION: "correlation",
}


def _parse(
    files: list[InputFile],
    registry: Registry,
    options: BuildOptions,
    stage: Path,
    warnings: list[str],
    progress: ProgressFn | None,
    on_total: Callable[[int], None] | None,
    scratch: Path | None,
) -> tuple[list[str], list[FileAccount], int, int, EventsFile | None]:
    """Parse every file into ``stage``: rejects, build.json, and the events: into
    ``events.parquet``, or into the ``scratch`` file for correlation (then returned). The names
    written, the accounts, the event and reject counts, and the scratch file."""
    outdir = stage
    parts_dir = Path(tempfile.mkdtemp(prefix=layout.PARTS_PREFIX, dir=stage))
    try:
        jobs = plan(files, registry, options.plan_options(), parts_dir, progress)
        if on_total is not None:
            on_total(sum(j.reader.path.stat().st_size for j in jobs))
        outcomes = _execute(jobs, parts_dir, options)
        dedupe(outcomes)
        accounts = [o.account for o in outcomes]
        salt = resolve_salt(options.salt).value  # secret: never written to any output
        metadata = build_metadata(accounts, files)
        metadata = {layout.BUILD_ID: build_id(metadata, options), **metadata}
        source = None
        with BlockPool(options.jobs) as pool:
            tables = event_tables(outcomes, salt, options.keep_content, pool)
            if scratch is not None:
                source = write_scratch(scratch, EVENT_ARROW_SCHEMA, tables, metadata)
                events = source.rows
            else:
                events = write_tables(outdir / layout.EVENTS, EVENT_ARROW_SCHEMA, tables, metadata)
        rejects = write_tables(
            outdir / layout.REJECTS,
            polars_schema_to_arrow(REJECT_SCHEMA),
            reject_tables(outcomes, salt, options.keep_content),
            metadata,
        )
        manifest = build_manifest(metadata, options, registry, accounts)
        manifest["warnings"] = warnings
        write_text_atomic(outdir / layout.MANIFEST, manifest_json(manifest))
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)
    written = ([] if source is not None else [layout.EVENTS]) + [layout.REJECTS, layout.MANIFEST]
    return written, accounts, events, rejects, source


def build_id(metadata: dict[str, Any], options: BuildOptions) -> str:
    """The build's id: a uuid derived from its inputs, accounting and settings.

    Derived, not random, so that a rebuild stays byte-identical; two builds of other inputs or
    settings differ. The salt's value never enters it (only whether one was given).
    """
    basis = {
        "metadata": metadata,
        "settings": [
            options.keep_content,
            options.skip_unknown,
            options.max_line_bytes,
            options.max_file_bytes,
            options.config.timezone,
            options.config.year,
            options.config.path,
            list(options.parser_overrides),
            options.salt is not None,
        ],
    }
    digest = hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def build_metadata(accounts: list[FileAccount], files: Sequence[InputFile]) -> dict[str, Any]:
    """The Parquet metadata of a build's tables: schema and tool versions, inputs, accounting,
    totals (``build.json`` starts with it too)."""
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


def build_manifest(
    metadata: dict[str, Any], options: BuildOptions, registry: Registry, accounts: list[FileAccount]
) -> dict[str, Any]:
    """``build.json``: the metadata plus the command (scrubbed), settings and parser origins."""
    used = sorted({a.parser for a in accounts if a.parser})
    return {
        **metadata,
        "command": scrub_option(options.command),  # a --salt value is never written
        "settings": {
            "keep_content": options.keep_content,
            "skip_unknown": options.skip_unknown,
            "max_line_bytes": options.max_line_bytes,
            "timezone": options.config.timezone or "UTC",
            "year": options.config.year,
            "config": options.config.path,
            "parser_overrides": [f"{g}={n}" for g, n in options.parser_overrides],
            "salt": salt_origin(
                options.salt
            ),  # custom | environment | installation, never the value
        },
        "parsers": {name: registry.origin(name) for name in used},
        "outputs": (
            {
                "timeline": layout.TIMELINE,
                "requests": layout.REQUESTS,
                "correlation": layout.CORRELATION,
                "rejects": layout.REJECTS,
            }
            if options.correlate
            else {"events": layout.EVENTS, "rejects": layout.REJECTS}
        ),
    }


def manifest_json(value: dict[str, Any]) -> str:
    """``build.json``'s text: indented, keys in their order, non-ASCII kept."""
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
