"""``build_spark`` and ``correlate_spark``: the library API's ``build`` and ``correlate`` on Spark.

Same options, same outputs: ``timeline.parquet``, ``requests.parquet``, ``correlation.json``,
``rejects.parquet`` and ``build.json`` (or, without correlation, ``events.parquet`` instead of the
first three) are the files the local engine writes (row for row; see ``docs/scale-out.md``). With
correlation the events go to a scratch ``events.parquet`` in the staging folder (executors read
it by path), removed once the timeline is written. The work runs in Spark tasks; the driver plans
(detection from samples, as ``timeline.pipeline.plan``), keeps the accounting and streams the
tasks' ordered results into the output files. Inputs and the output folder may be URIs
(``s3a://``, ``hdfs://``, ``abfss://``, ``file://``): :mod:`timeline.spark.remote_in` and
:mod:`timeline.spark.remote_out`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from timeline import layout
from timeline.correlation.config import CorrelationConfig
from timeline.correlation.report import CorrelationReport
from timeline.correlation.requests import REQUEST_SCHEMA
from timeline.errors import InputError
from timeline.export.write import ReportOptions, write_report
from timeline.ingest.discover import Discovery, InputFile, discover_inputs
from timeline.ingest.reader import DEFAULT_MAX_LINE_BYTES, is_stream
from timeline.io.atomic import write_text_atomic
from timeline.io.outdir import check_one_build, clean_leftovers, fresh_outdir, locked, output_errors
from timeline.io.parquet import polars_schema_to_arrow, read_metadata, write_tables
from timeline.io.uris import is_uri
from timeline.normalize.inherit import Carry
from timeline.normalize.salt import resolve_salt
from timeline.parse.registry import Registry
from timeline.pipeline.api import (
    ConfigArg,
    ParserRules,
    build_setup,
    correlation_input,
    resolve_config,
)
from timeline.pipeline.build import (
    OUTPUT_KEYS,
    BuildOptions,
    BuildReport,
    build_id,
    build_manifest,
    build_metadata,
    by_year,
    dedupe,
    infer_year,
    manifest_json,
)
from timeline.pipeline.files import FileJob, FileOutcome
from timeline.pipeline.plan import plan, unmatched_rules
from timeline.schema import ARROW_SCHEMA, REJECT_SCHEMA, to_arrow
from timeline.spark import correlate as spark_correlate
from timeline.spark import remote_in, remote_pieces
from timeline.spark.blocks import (
    SPLIT_BYTES,
    carry_from_json,
    carry_json,
    chain,
    merged_outcome,
    splittable,
)
from timeline.spark.frames import bytes_table
from timeline.spark.parse import (
    ACCOUNT,
    EVENTS,
    FILE_TASK,
    FINISH_TASK,
    PARSED_DDL,
    PIECE,
    PIECE_SHIFT,
    PIECE_TASK,
    READ,
    READ_TASK,
    REJECTS,
    ParseContext,
    TaskSpec,
    outcome_from_json,
    parse_partition,
    task_row,
)
from timeline.spark.remote_in import RemoteReader
from timeline.spark.remote_out import RemoteOut
from timeline.spark.session import shuffle_partitions, spark_session
from timeline.spark.timing import stage as timed
from timeline.spark.uris import HadoopFS, RemoteFile, join

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
    split_bytes: int = SPLIT_BYTES,
) -> BuildReport:
    """``timeline.build`` on Spark: the same options (``jobs`` is unused: Spark runs the tasks),
    plus ``master`` (or an existing ``spark`` session), ``partitions`` (the files per parse
    task and the correlation's partitions; 0: one file per task, partitions by size) and
    ``split_bytes`` (a file larger than this is parsed in pieces of about this much text, by
    several tasks: :mod:`timeline.spark.blocks`)."""
    del jobs
    specs = list(specs)
    target = str(outdir) if is_uri(str(outdir)) else None
    with _local_folder(outdir, target) as local_out:
        texts, registry, options = build_setup(
            inputs,
            local_out,
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
        spec_paths = [*options.config.specs, *(Path(s) for s in specs)]  # executors rebuild it
        session = spark or spark_session(master)
        return _build(
            texts, registry, options, spec_paths, target, session, partitions, split_bytes
        )


@contextmanager
def _local_folder(outdir: str | Path, target: str | None) -> Iterator[Path]:
    """The local output folder: ``outdir`` itself, or for a URI ``target`` a temporary folder
    (removed at the end) that the outputs are published from."""
    if target is None:
        yield Path(outdir)
        return
    with tempfile.TemporaryDirectory(prefix="timeline-spark-out-") as tmp:
        yield Path(tmp) / "out"


def _build(
    texts: list[str],
    registry: Registry,
    options: BuildOptions,
    spec_paths: list[Path],
    target: str | None,
    session: SparkSession,
    partitions: int,
    split_bytes: int,
) -> BuildReport:
    """The build into the local folder ``options.outdir``, published to the URI ``target`` if
    given."""
    cfg = options.config
    remote = [t for t in texts if is_uri(t)]
    fs = HadoopFS(session) if remote or target is not None else None
    publisher = RemoteOut(fs, fs.qualified(target)) if fs is not None and target else None
    out = options.outdir
    with fresh_outdir(out) as fresh:
        stage = fresh.stage
        found, remote_files = _discover(texts, [out, stage], fs, publisher)
        warnings = [f"skipped {path}: {reason}" for path, reason in found.skipped]
        warnings += unmatched_rules(found.files, options.parser_overrides, cfg)

        def reader_for(item: InputFile) -> RemoteReader | None:
            listed = remote_files.get(item.display)
            if listed is None or fs is None:
                return None
            return RemoteReader(fs, listed, options.max_line_bytes, options.max_file_bytes)

        with tempfile.TemporaryDirectory(prefix=layout.PARTS_PREFIX, dir=stage) as tmp:
            jobs_planned = plan(
                found.files, registry, options.plan_options(), Path(tmp), reader_for=reader_for
            )
            for job in jobs_planned:
                job.reader.close()
        salt_value = resolve_salt(options.salt).value  # secret: never written to any output
        scratch = Path(tempfile.mkdtemp(prefix=layout.PARTS_PREFIX, dir=stage))
        # With correlation the events are scratch too: the outputs hold them once, as the timeline.
        held = Path(tempfile.mkdtemp(prefix=layout.PARTS_PREFIX, dir=stage))
        events_path = (held if options.correlate else stage) / layout.EVENTS
        context = ParseContext(
            tuple(str(p) for p in spec_paths),
            salt_value,
            options.keep_content,
            str(scratch),
            split_bytes,
        )
        parsed: list[DataFrame] = []
        try:
            with timed("parse"):
                outcomes = _parse(session, jobs_planned, options, context, partitions, parsed)
            accounts = [o.account for o in outcomes]
            metadata = build_metadata(accounts, found.files)
            metadata = {layout.BUILD_ID: build_id(metadata, options), **metadata}
            kept = {i for i, o in enumerate(outcomes) if o.event_parts or o.reject_parts}
            with timed("write events and rejects"):
                events = write_tables(
                    events_path, ARROW_SCHEMA, _tables(parsed, EVENTS, kept), metadata
                )
                rejects = write_tables(
                    stage / layout.REJECTS,
                    polars_schema_to_arrow(REJECT_SCHEMA),
                    _tables(parsed, REJECTS, kept),
                    metadata,
                )
        finally:
            for frame in parsed:
                frame.unpersist()
            shutil.rmtree(scratch, ignore_errors=True)
        manifest = build_manifest(metadata, options, registry, accounts)
        manifest["warnings"] = warnings
        write_text_atomic(stage / layout.MANIFEST, manifest_json(manifest))
        written = [layout.REJECTS, layout.MANIFEST]
        correlation = None
        try:
            if options.correlate:
                uri = publisher.scratch(events_path) if publisher is not None else None
                correlation = _correlate(
                    session, stage, events_path, cfg.correlation, partitions, uri
                )
                written += [layout.TIMELINE, layout.REQUESTS, layout.CORRELATION]
            else:
                written.insert(0, layout.EVENTS)
        finally:
            shutil.rmtree(held, ignore_errors=True)
            if publisher is not None:
                publisher.drop_scratch()
        fresh.commit()
        if options.correlate and options.report:
            written += [path.name for path in write_report(out, ReportOptions())]
    where: dict[str, Path | str] = {name: out / name for name in written}
    if publisher is not None:
        stale = [n for n in layout.OUTPUT_FILES if n not in written]
        where = {**publisher.publish(out, written, stale=stale)}
    outputs = {OUTPUT_KEYS.get(name, name.replace(".", "_")): where[name] for name in written}
    return BuildReport(accounts, events, rejects, outputs, correlation, warnings)


def _discover(
    texts: list[str], exclude: list[Path], fs: HadoopFS | None, publisher: RemoteOut | None
) -> tuple[Discovery, dict[str, RemoteFile]]:
    """The inputs: paths as the local engine finds them, URIs listed through Hadoop (what lies
    in a URI output folder left out); the files by URI, by their qualified URI."""
    local = [t for t in texts if not is_uri(t)]
    found = discover_inputs(local, exclude=exclude) if local else Discovery([])
    for item in found.files:
        if item.path is None or is_stream(item.path):
            raise InputError(f"the spark engine reads files: save {item.display!r} to a file first")
    remote = [t for t in texts if is_uri(t)]
    if not remote or fs is None:
        return found, {}
    files, listed = remote_in.discover(fs, remote)
    if publisher is not None:
        inside = [f.display for f in files if publisher.under(f.display)]
        files = [f for f in files if f.display not in inside]
        found.skipped.extend((name, "inside the output folder") for name in inside)
        listed = {uri: f for uri, f in listed.items() if uri not in inside}
    remote_in.check_sizes(list(listed.values()))
    merged = {f.display: f for f in [*found.files, *files]}
    if not merged:
        raise InputError(f"no files found in {', '.join(repr(t) for t in texts)}")
    return Discovery(sorted(merged.values()), found.skipped), listed


def _parse(
    session: SparkSession,
    jobs: list[FileJob],
    options: BuildOptions,
    context: ParseContext,
    partitions: int,
    parsed: list[DataFrame],
) -> list[FileOutcome]:
    """Every file parsed by Spark tasks: the outcomes (input order); the cells (cached, to be
    unpersisted by the caller) are added to ``parsed``."""
    first, later = by_year(jobs)
    outcomes = _round(session, first, options, context, partitions, parsed)
    if later:
        year, origin = infer_year(list(outcomes.values()), later)
        for job in later:
            job.settings = dataclasses.replace(job.settings, year=year, year_origin=origin)
        outcomes.update(_round(session, later, options, context, partitions, parsed))
    ordered = []
    for job in sorted(jobs, key=lambda j: j.index):
        outcome = outcomes[job.index]
        outcome.account.detection = job.detection
        ordered.append(outcome)
    dedupe(ordered)
    return ordered


def _round(
    session: SparkSession,
    jobs: list[FileJob],
    options: BuildOptions,
    context: ParseContext,
    partitions: int,
    parsed: list[DataFrame],
) -> dict[int, FileOutcome]:
    """One round of parse tasks: whole files, and large files read, parsed and finished in
    pieces (:mod:`timeline.spark.blocks`); the outcomes by job index (the cached cells are
    added to ``parsed``)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as sf

    if not jobs:
        return {}
    remote = [j for j in jobs if isinstance(j.reader, RemoteReader)]
    by_uri = {j.index for j in remote}
    large = [j for j in jobs if _size(j) > context.split_bytes and splittable(j)]
    split = [j for j in large if j.index not in by_uri]  # pieces in the scratch folder
    remote_split = [j for j in large if j.index in by_uri]  # pieces as cells
    in_cells = {j.index for j in remote_split}
    specs = {j.index: TaskSpec.of(j, options.max_file_bytes) for j in jobs}
    reads: dict[int, dict[str, Any]] = {}
    if split:
        rows = [(j.index, task_row(READ_TASK, specs[j.index])) for j in split]
        for row in _tasks(session, rows, context, partitions).select("key", "payload").collect():
            reads[int(row["key"])] = json.loads(bytes(row["payload"]))
    frames: list[DataFrame] = []
    if remote_split:
        read_cells = _remote_read(session, remote_split, specs, context, partitions)
        parsed.append(read_cells)
        for row in read_cells.where(sf.col("kind") == READ).select("key", "payload").collect():
            reads[int(row["key"])] = json.loads(bytes(row["payload"]))
        frames.append(_remote_pieces(read_cells, remote_split, reads, specs, context, partitions))
    rows = [
        (j.index, task_row(FILE_TASK, specs[j.index]))
        for j in sorted(jobs, key=_size, reverse=True)
        if j.index not in reads and j.index not in by_uri
    ]
    sized = [
        (piece["text_bytes"], j.index, task_row(PIECE_TASK, specs[j.index], piece=piece))
        for j in split
        for piece in reads[j.index]["pieces"]
    ]
    rows += [(index, row) for _, index, row in sorted(sized, key=lambda r: -r[0])]
    if rows:
        frames.append(_tasks(session, rows, context, partitions))
    whole = [j for j in remote if j.index not in in_cells]
    if whole:
        frames.append(_remote_tasks(session, whole, specs, context, partitions))
    cells = frames[0]
    for more in frames[1:]:
        cells = cells.unionByName(more)
    cells = cells.persist(StorageLevel.MEMORY_AND_DISK)
    parsed.append(cells)
    found = cells.where(sf.col("kind").isin(ACCOUNT, PIECE)).select("key", "seq", "kind", "payload")
    outcomes: dict[int, FileOutcome] = {}
    pieces: dict[int, dict[int, dict[str, Any]]] = {j.index: {} for j in large}
    for row in found.collect():
        text = bytes(row["payload"]).decode()
        if row["kind"] == ACCOUNT:
            outcomes[int(row["key"])] = outcome_from_json(text)
        else:
            pieces[int(row["key"])][int(row["seq"])] = json.loads(text)
    finishing = []
    finishing_cells: dict[tuple[int, int], str] = {}
    for job in large:
        done = [pieces[job.index][n] for n in sorted(pieces[job.index])]
        stats = reads[job.index]["stats"]
        outcomes[job.index] = merged_outcome(
            job, stats, [outcome_from_json(json.dumps(p["outcome"])) for p in done]
        )
        carry = Carry()
        for number, piece in enumerate(done):
            task: dict[str, Any] = {
                "number": number,
                "in_order": piece["in_order"],
                "carry": carry_json(carry),
                "sha256": stats["sha256"],
            }
            if job.index in in_cells:  # the parts are cells: remote_pieces.finish_partition
                finishing_cells[(job.index, number)] = task_row(
                    FINISH_TASK, specs[job.index], **task
                )
            else:
                task |= {"events": piece["events"], "rejects": piece["rejects"]}
                finishing.append((job.index, task_row(FINISH_TASK, specs[job.index], **task)))
            carry = chain(carry, carry_from_json(piece["carry"]))
    if finishing:
        parsed.append(
            _tasks(session, finishing, context, partitions).persist(StorageLevel.MEMORY_AND_DISK)
        )
    if finishing_cells:
        parts = cells.where(
            sf.col("kind").isin(remote_pieces.PART_EVENTS, remote_pieces.PART_REJECTS)
        )
        run = remote_pieces.finish_partition(context, finishing_cells)
        finished = _per_piece(parts, PIECE_SHIFT, len(finishing_cells), partitions, run)
        parsed.append(finished.persist(StorageLevel.MEMORY_AND_DISK))
    return outcomes


def _remote_read(
    session: SparkSession,
    jobs: list[FileJob],
    specs: dict[int, TaskSpec],
    context: ParseContext,
    partitions: int,
) -> DataFrame:
    """Large files by URI read into pieces, as cells (:mod:`timeline.spark.remote_pieces`),
    cached."""
    from pyspark import StorageLevel

    return _remote_tasks(session, jobs, specs, context, partitions, READ_TASK).persist(
        StorageLevel.MEMORY_AND_DISK
    )


def _per_piece(cells: DataFrame, shift: int, pieces: int, partitions: int, run: Any) -> DataFrame:
    """``run`` over ``cells`` repartitioned by (file, piece), the piece being ``seq >> shift``."""
    from pyspark.sql import functions as sf

    slices = max(1, min(pieces, partitions or pieces))
    by_piece = sf.shiftright(sf.col("seq"), shift)
    return cells.repartition(slices, "key", by_piece).mapInArrow(run, PARSED_DDL)


def _remote_pieces(
    read_cells: DataFrame,
    jobs: list[FileJob],
    reads: dict[int, dict[str, Any]],
    specs: dict[int, TaskSpec],
    context: ParseContext,
    partitions: int,
) -> DataFrame:
    """The pieces of large files by URI parsed: their piece and part cells."""
    from pyspark.sql import functions as sf

    tasks = {
        (j.index, int(piece["number"])): task_row(PIECE_TASK, specs[j.index], piece=piece)
        for j in jobs
        for piece in reads[j.index]["pieces"]
    }
    kinds = (remote_pieces.PIECE_LINES, remote_pieces.PIECE_BAD)
    piece_cells = read_cells.where(sf.col("kind").isin(*kinds))
    run = remote_pieces.parse_partition(context, tasks)
    return _per_piece(piece_cells, 1, len(tasks), partitions, run)


def _by_uri(jobs: list[FileJob], specs: dict[int, TaskSpec], kind: str) -> dict[str, str]:
    """Each job's task row of ``kind`` by its file's URI (the spec's path the URI too)."""
    out: dict[str, str] = {}
    for job in jobs:
        assert isinstance(job.reader, RemoteReader)
        uri = job.reader.remote.uri
        out[uri] = task_row(kind, dataclasses.replace(specs[job.index], path=uri))
    return out


def _remote_tasks(
    session: SparkSession,
    jobs: list[FileJob],
    specs: dict[int, TaskSpec],
    context: ParseContext,
    partitions: int,
    kind: str = FILE_TASK,
) -> DataFrame:
    """The cells of the files by URI: each file's bytes from Spark's ``binaryFile``, then the
    task a local file runs (:mod:`timeline.spark.remote_in`), or with ``kind`` ``READ_TASK``
    the file read into pieces (:mod:`timeline.spark.remote_pieces`)."""
    by_uri = _by_uri(jobs, specs, kind)
    slices = max(1, min(len(jobs), partitions or len(jobs)))
    content = remote_in.content_frame(session, list(by_uri), slices)
    if kind == READ_TASK:
        return content.mapInArrow(remote_pieces.read_partition(context, by_uri), PARSED_DDL)
    return content.mapInArrow(remote_in.parse_remote_partition(context, by_uri), PARSED_DDL)


def _size(job: FileJob) -> int:
    if isinstance(job.reader, RemoteReader):
        return job.reader.remote.size
    try:
        return job.reader.path.stat().st_size
    except OSError:
        return 0


def _tasks(
    session: SparkSession, rows: list[tuple[int, str]], context: ParseContext, partitions: int
) -> DataFrame:
    """The cells of task rows (:func:`timeline.spark.parse.task_row`): one Spark task per row,
    or ``partitions`` tasks."""
    slices = max(1, min(len(rows), partitions or len(rows)))
    rdd = session.sparkContext.parallelize(rows, slices)
    frame = session.createDataFrame(rdd, "index long, spec string")
    return frame.mapInArrow(parse_partition(context), PARSED_DDL)


def _tables(parsed: list[DataFrame], kind: str, kept: set[int]) -> Iterator[pa.Table]:
    from pyspark.sql import functions as sf

    wanted = sorted(kept)
    every = parsed[0]
    for more in parsed[1:]:
        every = every.unionByName(more)
    cells = every.where(sf.col("kind") == kind).where(sf.col("key").isin(wanted))
    for payload in spark_correlate.ordered_payloads(cells):
        yield bytes_table(payload)


def _correlate(
    session: SparkSession,
    folder: Path,
    events_path: Path,
    settings: CorrelationConfig,
    partitions: int,
    uri: str | None = None,
) -> CorrelationReport:
    """Correlate the events table ``events_path`` on Spark into the three outputs in ``folder``
    (renamed in together); executors read it by path, or by ``uri`` when given."""
    with shuffle_partitions(session, partitions or session.sparkContext.defaultParallelism):
        return _correlate_files(session, folder, events_path, settings, partitions, uri)


def _correlate_files(
    session: SparkSession,
    folder: Path,
    events_path: Path,
    settings: CorrelationConfig,
    partitions: int,
    uri: str | None,
) -> CorrelationReport:
    metadata = read_metadata(events_path)
    job, timeline, requests = spark_correlate.run(
        session, events_path, settings, partitions, uri=uri
    )
    try:
        report = job.report
        report.requests = job.local.components
        meta = {**metadata, "correlation": report.to_dict()}
        with (
            tempfile.TemporaryDirectory(prefix=layout.CORRELATE_PREFIX, dir=folder) as tmp,
            timed("correlate: write timeline and requests"),
        ):
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
    """``timeline.correlate`` on Spark: the events of ``outdir`` (``events.parquet``, else the
    earlier ``timeline.parquet``: ``correlation_input``) to the same three outputs."""
    settings = resolve_config(config).correlation
    if is_uri(str(outdir)):
        return _correlate_uri(spark or spark_session(master), str(outdir), settings, partitions)
    folder = Path(outdir)
    source = correlation_input(folder)
    session = spark or spark_session(master)
    with locked(folder) as real, output_errors(folder):
        clean_leftovers(real)
        check_one_build(folder)
        result = _correlate(session, folder, folder / source, settings, partitions)
        for name in layout.STAGE_OUTPUTS["report"]:  # it described the earlier requests
            (real / name).unlink(missing_ok=True)
        return result


def _correlate_uri(
    session: SparkSession, outdir: str, settings: CorrelationConfig, partitions: int
) -> CorrelationReport:
    """``correlate_spark`` of an output folder by URI: the driver reads a local copy of the
    events; executors read them by URI; the outputs are published as a build's are."""
    fs = HadoopFS(session)
    target = fs.qualified(outdir)
    present = fs.names(target)
    source = next((n for n in (layout.EVENTS, layout.TIMELINE) if n in present), None)
    if source is None:
        raise InputError(
            f"{outdir!r} has neither {layout.TIMELINE} nor {layout.EVENTS}; "
            f"run `timeline build INPUTS -o {outdir} --engine spark` first"
        )
    publisher = RemoteOut(fs, target)
    names = [layout.TIMELINE, layout.REQUESTS, layout.CORRELATION]
    with tempfile.TemporaryDirectory(prefix="timeline-spark-out-") as tmp:
        local = Path(tmp)
        fs.download(join(target, source), local / source)
        uri = join(target, source)
        result = _correlate(session, local, local / source, settings, partitions, uri)
        publisher.publish(local, names, stale=layout.STAGE_OUTPUTS["report"])
    return result
