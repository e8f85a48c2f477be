"""``build_spark`` and ``correlate_spark``: the library API's ``build`` and ``correlate`` on Spark.

Same options, same outputs: ``events.parquet``, ``rejects.parquet``, ``build.json``,
``timeline.parquet``, ``requests.parquet`` and ``correlation.json`` are the files the local engine
writes (row for row; see ``docs/scale-out.md``). The work runs in Spark tasks; the driver plans
(detection from samples, as ``timeline.pipeline.plan``), keeps the accounting and streams the
tasks' ordered results into the output files.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from timeline import layout
from timeline.correlation.config import CorrelationConfig
from timeline.correlation.report import CorrelationReport
from timeline.correlation.requests import REQUEST_SCHEMA
from timeline.errors import InputError
from timeline.export.write import ReportOptions, write_report
from timeline.ingest.discover import discover_inputs
from timeline.ingest.reader import DEFAULT_MAX_LINE_BYTES, is_stream
from timeline.io.atomic import write_text_atomic
from timeline.io.outdir import check_one_build, clean_leftovers, fresh_outdir, locked, output_errors
from timeline.io.parquet import polars_schema_to_arrow, read_metadata, write_tables
from timeline.normalize.salt import resolve_salt
from timeline.parserkit.api import needs_year
from timeline.pipeline.api import ConfigArg, ParserRules, build_setup, resolve_config
from timeline.pipeline.build import (
    _OUTPUT_KEYS,
    BuildOptions,
    BuildReport,
    _build_id,
    _dedupe,
    _infer_year,
    _json,
    _manifest,
    _metadata,
)
from timeline.pipeline.files import FileJob, FileOutcome
from timeline.pipeline.plan import plan, unmatched_rules
from timeline.schema import ARROW_SCHEMA, REJECT_SCHEMA, to_arrow
from timeline.spark import correlate as spark_correlate
from timeline.spark.frames import bytes_table
from timeline.spark.parse import (
    ACCOUNT,
    EVENTS,
    PARSED_DDL,
    REJECTS,
    ParseContext,
    outcome_from_json,
    parse_partition,
    spec_rows,
)
from timeline.spark.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CHUNK_ROWS = 256 * 1024

__all__ = ["build_spark", "correlate_spark"]


def build_spark(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    *,
    parsers: ParserRules = (),
    config: ConfigArg = None,
    specs: Iterable[str | Path] = (),
    skip_unknown: bool = False,
    keep_content: bool = False,
    timezone: str | None = None,
    year: int | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    jobs: int = 2,
    salt: str | bytes | None = None,
    correlate: bool = True,
    report: bool = True,
    command: str = "",
    master: str | None = None,
    spark: SparkSession | None = None,
    partitions: int = 0,
) -> BuildReport:
    """``timeline.build`` on Spark: the same options (``jobs`` is unused: Spark runs the tasks),
    plus ``master`` (or an existing ``spark`` session) and ``partitions`` (the files per parse
    task and the correlation's partitions; 0: one file per task, partitions by size)."""
    del jobs
    specs = list(specs)
    texts, registry, options = build_setup(
        inputs,
        outdir,
        parsers=parsers,
        config=config,
        specs=specs,
        skip_unknown=skip_unknown,
        keep_content=keep_content,
        timezone=timezone,
        year=year,
        max_line_bytes=max_line_bytes,
        salt=salt,
        correlate=correlate,
        report=report,
        command=command,
    )
    cfg = options.config
    spec_paths = [*cfg.specs, *(Path(s) for s in specs)]  # executors rebuild the registry
    session = spark or spark_session(master)
    out = options.outdir
    with fresh_outdir(out) as fresh:
        stage = fresh.stage
        found = discover_inputs(texts, exclude=[out, stage])
        for item in found.files:
            if item.path is None or is_stream(item.path):
                raise InputError(
                    f"the spark engine reads files: save {item.display!r} to a file first"
                )
        warnings = [f"skipped {path}: {reason}" for path, reason in found.skipped]
        warnings += unmatched_rules(found.files, options.parser_overrides, cfg)
        with tempfile.TemporaryDirectory(prefix=layout.PARTS_PREFIX, dir=stage) as tmp:
            jobs_planned = plan(found.files, registry, options.plan_options(), Path(tmp))
            for job in jobs_planned:
                job.reader.close()
        salt_value = resolve_salt(options.salt).value  # secret: never written to any output
        context = ParseContext(tuple(str(p) for p in spec_paths), salt_value, keep_content)
        outcomes, parsed = _parse(session, jobs_planned, options, context, partitions)
        try:
            accounts = [o.account for o in outcomes]
            metadata = _metadata(accounts, found.files)
            metadata = {layout.BUILD_ID: _build_id(metadata, options), **metadata}
            kept = {i for i, o in enumerate(outcomes) if o.event_parts or o.reject_parts}
            events = write_tables(
                stage / layout.EVENTS, ARROW_SCHEMA, _tables(parsed, EVENTS, kept), metadata
            )
            rejects = write_tables(
                stage / layout.REJECTS,
                polars_schema_to_arrow(REJECT_SCHEMA),
                _tables(parsed, REJECTS, kept),
                metadata,
            )
        finally:
            parsed.unpersist()
        manifest = _manifest(metadata, options, registry, accounts)
        manifest["warnings"] = warnings
        write_text_atomic(stage / layout.MANIFEST, _json(manifest))
        written = [layout.EVENTS, layout.REJECTS, layout.MANIFEST]
        correlation = None
        if options.correlate:
            correlation = _correlate(session, stage, cfg.correlation, partitions)
            written += [layout.TIMELINE, layout.REQUESTS, layout.CORRELATION]
        fresh.commit()
        if options.correlate and options.report:
            written += [path.name for path in write_report(out, ReportOptions())]
    outputs = {_OUTPUT_KEYS.get(name, name.replace(".", "_")): out / name for name in written}
    return BuildReport(accounts, events, rejects, outputs, correlation, warnings)


def _parse(
    session: SparkSession,
    jobs: list[FileJob],
    options: BuildOptions,
    context: ParseContext,
    partitions: int,
) -> tuple[list[FileOutcome], DataFrame]:
    """Every file parsed by a Spark task: the outcomes (input order) and the cells (cached)."""
    first = [j for j in jobs if not (j.parser and needs_year(j.parser) and j.settings.year is None)]
    later = [j for j in jobs if j not in first]
    parsed = _run_tasks(session, first, options, context, partitions)
    outcomes = _outcomes(parsed)
    if later:
        year, origin = _infer_year(list(outcomes.values()), later)
        for job in later:
            job.settings = dataclasses.replace(job.settings, year=year, year_origin=origin)
        more = _run_tasks(session, later, options, context, partitions)
        outcomes.update(_outcomes(more))
        parsed = parsed.unionByName(more)
    ordered = []
    for job in sorted(jobs, key=lambda j: j.index):
        outcome = outcomes[job.index]
        outcome.account.detection = job.detection
        ordered.append(outcome)
    _dedupe(ordered)
    return ordered, parsed


def _run_tasks(
    session: SparkSession,
    jobs: list[FileJob],
    options: BuildOptions,
    context: ParseContext,
    partitions: int,
) -> DataFrame:
    from pyspark import StorageLevel

    rows = spec_rows(jobs, options.max_file_bytes)
    slices = max(1, min(len(rows), partitions or len(rows)))
    rdd = session.sparkContext.parallelize(rows, slices)
    frame = session.createDataFrame(rdd, "index long, spec string")
    cells = frame.mapInArrow(parse_partition(context), PARSED_DDL)
    return cells.persist(StorageLevel.MEMORY_AND_DISK)


def _outcomes(parsed: DataFrame) -> dict[int, FileOutcome]:
    rows = parsed.where(f"kind = '{ACCOUNT}'").select("key", "payload").collect()
    return {int(r["key"]): outcome_from_json(bytes(r["payload"]).decode()) for r in rows}


def _tables(parsed: DataFrame, kind: str, kept: set[int]) -> Iterator[pa.Table]:
    from pyspark.sql import functions as sf

    wanted = sorted(kept)
    cells = parsed.where(f"kind = '{kind}'").where(sf.col("key").isin(wanted))
    for payload in spark_correlate.ordered_payloads(cells):
        yield bytes_table(payload)


def _correlate(
    session: SparkSession, folder: Path, settings: CorrelationConfig, partitions: int
) -> CorrelationReport:
    """Correlate ``folder/events.parquet`` on Spark into the three outputs (renamed in together)."""
    events_path = folder / layout.EVENTS
    metadata = read_metadata(events_path)
    job, timeline, requests = spark_correlate.run(session, events_path, settings, partitions)
    try:
        report = job.report
        report.requests = job.local.components
        meta = {**metadata, "correlation": report.to_dict()}
        with tempfile.TemporaryDirectory(prefix=layout.CORRELATE_PREFIX, dir=folder) as tmp:
            staged = Path(tmp)
            write_tables(
                staged / layout.TIMELINE,
                ARROW_SCHEMA,
                _chunks(spark_correlate.ordered_frames(timeline)),
                meta,
            )
            written = write_tables(
                staged / layout.REQUESTS,
                polars_schema_to_arrow(REQUEST_SCHEMA),
                (f.to_arrow() for f in spark_correlate.ordered_frames(requests)),
                meta,
            )
            if written != report.requests:
                raise RuntimeError(
                    f"internal error: {written} requests written, {report.requests} components found"
                )
            write_text_atomic(
                staged / layout.CORRELATION,
                json.dumps(report.to_dict(), indent=2, default=str) + "\n",
            )
            for name in (layout.TIMELINE, layout.REQUESTS, layout.CORRELATION):
                (staged / name).replace(folder / name)
    finally:
        job.release()
    return report


def _chunks(frames: Iterator[pl.DataFrame]) -> Iterator[pa.Table]:
    for frame in frames:
        for start in range(0, frame.height, CHUNK_ROWS):
            yield to_arrow(frame.slice(start, CHUNK_ROWS))


def correlate_spark(
    outdir: str | Path,
    *,
    config: ConfigArg = None,
    master: str | None = None,
    spark: SparkSession | None = None,
    partitions: int = 0,
) -> CorrelationReport:
    """``timeline.correlate`` on Spark: ``outdir/events.parquet`` to the same three outputs."""
    folder = Path(outdir)
    if not (folder / layout.EVENTS).is_file():
        raise InputError(
            f"{str(folder)!r} has no {layout.EVENTS}; run `timeline build INPUTS -o {folder}` first"
        )
    settings = resolve_config(config).correlation
    session = spark or spark_session(master)
    with locked(folder) as real, output_errors(folder):
        clean_leftovers(real)
        check_one_build(folder)
        return _correlate(session, folder, settings, partitions)
