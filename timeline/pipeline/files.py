"""Parse one input file into part files (events and rejects) plus its line accounting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Final

import polars as pl

from timeline.ingest.documents import explode
from timeline.ingest.envelopes import unwrap
from timeline.ingest.reader import EXCERPT_CHARS, InputReader
from timeline.normalize.events import normalize, with_envelope
from timeline.normalize.inherit import Carry, inherit
from timeline.parse import chunks
from timeline.parse.contract import check_contract, safe_parse
from timeline.parserkit.api import (
    MARK_SCHEMA,
    Parser,
    ParseResult,
    Source,
    SourceSettings,
    is_multiline,
    keeps_blank,
    marks,
)
from timeline.pipeline.accounting import FileAccount
from timeline.pipeline.blocks import BlockPool, Task


@dataclass
class FileJob:
    """One file to read: where it is, what parses it, and the settings."""

    index: int
    reader: InputReader
    parser: Parser | None
    settings: SourceSettings
    skip_reason: str | None = None  # every line is skipped (unknown format)
    reject_reason: str | None = None  # every line is rejected (binary file)
    detection: str = ""  # how the parser was chosen, for the accounting
    envelopes: tuple[str, ...] = ()  # envelope kinds found in the file's sample
    document: str | None = None  # a whole-document export (CloudWatch, ES response, JSON array)
    keep_content: bool = True  # False: ``raw`` is dropped before the parts are written


@dataclass
class FileOutcome:
    """The parts a file produced and its accounting."""

    account: FileAccount
    event_parts: list[Path] = field(default_factory=list)
    reject_parts: list[Path] = field(default_factory=list)
    min_ts_year: int | None = None
    max_ts_year: int | None = None
    content_sha256: str = ""  # of the decompressed bytes: the same log as .log and .log.gz
    # False when a reject part starts before the end of an earlier one (bad bytes found by the
    # reader while a multi-line chunk was still pending): the merge then sorts the file's rejects.
    rejects_in_order: bool = True


def _rejects_with_excerpt(rejects: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    joined = rejects.join(lines, on="source_line", how="left", maintain_order="left")
    return joined.select(
        "source_line",
        "reason",
        pl.col("line").str.slice(0, EXCERPT_CHARS).alias("excerpt"),
        pl.col("line").str.len_bytes().cast(pl.Int64).alias("line_length"),
    )


def _chain_merges(first: pl.DataFrame, second: pl.DataFrame) -> pl.DataFrame:
    """Merges of two stages in one: lines merged into a line that was itself merged follow it."""
    both = pl.concat([first, second])
    into = both.join(second.rename({"source_line": "into", "into": "final"}), on="into", how="left")
    return into.select("source_line", pl.coalesce("final", "into").alias("into"))


def _follow(merged: pl.DataFrame, marked: pl.DataFrame) -> pl.DataFrame:
    """Marks for the merged lines whose record line was marked (same reason)."""
    if marked.height == 0:
        return pl.DataFrame(schema=MARK_SCHEMA)
    joined = merged.join(marked, left_on="into", right_on="source_line", how="inner")
    return joined.select("source_line", "reason")


# Part files are written once and read once: zstd is about a third of lz4's size and, measured on
# the events of nginx_json, vllm and otlp_json blocks, writes as fast and reads faster (the Arrow
# buffers are smaller to decode and copy); uncompressed is a little cheaper still but about 30 times
# the size, so a large build would write gigabytes of temporary files (vllm: 3.2 MB zstd, 9.1 MB
# lz4, 107 MB uncompressed for 111k events).
PART_COMPRESSION: Final = "zstd"

# Columns an event part keeps even when they are all null: the Spark engine reads its parts with
# ``pl.read_ipc`` and runs :func:`timeline.normalize.inherit.inherit` on them before ``conform``
# (``finished_events``), and reads the carry columns by name (``piece_carry``).
PART_KEEPS: Final = frozenset(
    {
        "source_line",
        "source_file",
        "layer",
        "event_type",
        "ts",
        "ts_source",
        "ts_assumed_tz",
        "ts_inherited",
        "ts_precision_ms",
        "clock_offset_ms",
        "host",
        "model",
        "model_revision",
        "attributes",
    }
)


def part_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The columns of an event part worth writing: those with a value, and :data:`PART_KEEPS`.

    A parser fills a few of the canonical columns (vllm leaves 32 of 64 all null); the others
    come back as nulls of their canonical type, in schema order, when the part is read back
    through :func:`timeline.schema.conform`. ``null_count`` is kept by Arrow, so the check costs
    nothing per row."""
    height = frame.height
    if height == 0:
        return frame
    keep = [c for c in frame.columns if c in PART_KEEPS or frame[c].null_count() < height]
    return frame if len(keep) == frame.width else frame.select(keep)


class _PartWriter:
    def __init__(self, parts_dir: Path, index: int) -> None:
        self.parts_dir = parts_dir
        self.index = index
        self.count = 0

    def write(self, frame: pl.DataFrame, kind: str) -> Path:
        path = self.parts_dir / f"{self.index:06d}-{self.count:06d}.{kind}.arrow"
        self.count += 1
        if kind == "events":
            frame = part_columns(frame)
        frame.write_ipc(path, compression=PART_COMPRESSION)
        return path


@dataclass
class _Piece:
    """What one block (or chunk) gave before the file's in-order pass: rejects (each frame one
    part, in the ``_rejects_with_excerpt`` form), skipped lines, events not yet inheriting from
    earlier blocks, lines parsed, notes for the accounting."""

    rejects: list[pl.DataFrame] = field(default_factory=list)
    skipped: list[pl.DataFrame] = field(default_factory=list)
    events: pl.DataFrame | None = None
    parsed: int = 0
    notes: list[str] = field(default_factory=list)


def _parse_piece(
    job: FileJob, physical: pl.DataFrame, pre_merged: pl.DataFrame | None = None
) -> _Piece:
    """Unwrap, parse, check the line contract and normalize one block: no state of the file is
    read or written, so blocks of one file run in parallel (:mod:`timeline.pipeline.blocks`)."""
    parser = job.parser
    assert parser is not None
    name = job.reader.name
    piece = _Piece()
    lines, merged, envelope = physical, pre_merged, None
    # Always: a per-line prefix can first appear after the sample that chose the envelopes.
    unwrapped = unwrap(physical, job.envelopes)
    if unwrapped.kinds:
        lines, envelope = unwrapped.lines, unwrapped.envelope
        if unwrapped.merged.height:
            merged = unwrapped.merged if merged is None else _chain_merges(merged, unwrapped.merged)
    skipped = [pl.DataFrame(schema=MARK_SCHEMA)]
    if not keeps_blank(parser):
        blank = lines.get_column("line").str.strip_chars() == ""
        skipped.append(marks(lines.filter(blank), "blank line"))
        lines = lines.filter(~blank)
    result = ParseResult(events=pl.DataFrame(schema={"source_line": pl.Int64}))
    if lines.height:
        result = safe_parse(parser, Source(name, lines, job.settings))
        broken = check_contract(parser, result, lines, name)
        if broken is not None:
            piece.notes.append(f"{broken}; its {lines.height} lines were rejected")
            result = ParseResult(
                events=pl.DataFrame(schema={"source_line": pl.Int64}),
                rejects=marks(
                    lines, f"parser {parser.name} broke the line contract (a parser bug)"
                ),
            )
    rejects = result.rejects.select(MARK_SCHEMA.names())
    skipped.append(result.skipped.select(MARK_SCHEMA.names()))
    skip_frame = pl.concat(skipped)
    if merged is not None and merged.height:
        # Lines joined into a record share its fate: rejected, skipped or parsed with it.
        follow_rej = _follow(merged, rejects)
        follow_skip = _follow(merged, skip_frame)
        rejects = pl.concat([rejects, follow_rej])
        skip_frame = pl.concat([skip_frame, follow_skip])
        piece.parsed += merged.height - follow_rej.height - follow_skip.height
    piece.rejects.append(_rejects_with_excerpt(rejects, physical))
    piece.skipped.append(skip_frame)
    events = result.events
    piece.parsed += result.merged_lines + (
        events.get_column("source_line").n_unique() if events.height else 0
    )
    if events.height:
        frame = normalize(events, lines, name, parser.name, parser.layer, job.keep_content)
        if envelope is not None:
            frame = with_envelope(frame, envelope)
        piece.events = frame
    return piece


def _parse_document(job: FileJob, whole: pl.DataFrame) -> _Piece:
    """A whole-document export: exploded into records, then parsed as one block."""
    assert job.document is not None
    doc = explode(whole, job.document)
    piece = _parse_piece(job, doc.lines, doc.merged)
    piece.rejects.insert(0, _rejects_with_excerpt(doc.rejected, whole))
    piece.skipped.insert(0, doc.skipped)
    return piece


def _tasks(job: FileJob) -> Iterator[Task[_Piece]]:
    """The file's work in input order: a light task for what reading found (bad lines, a file
    skipped or rejected whole), a heavy one per block or chunk to parse."""
    parser = job.parser
    multiline = parser is not None and is_multiline(parser)
    record_start = getattr(parser, "record_start", None) if multiline else None
    cutter = getattr(parser, "cut", None) if multiline else None
    chunkable = (
        (record_start is not None or cutter is not None) and not job.envelopes and not job.document
    )
    pending: list[pl.DataFrame] = []
    pending_bytes = 0
    for block in job.reader.blocks():
        if block.bad.height:
            yield Task(partial(_Piece, rejects=[block.bad]), heavy=False)
        lines = block.lines
        if job.skip_reason is not None:
            yield Task(partial(_Piece, skipped=[marks(lines, job.skip_reason)]), heavy=False)
        elif job.reject_reason is not None:
            rejected = _rejects_with_excerpt(marks(lines, job.reject_reason), lines)
            yield Task(partial(_Piece, rejects=[rejected]), heavy=False)
        elif multiline or job.document:
            pending.append(lines)
            pending_bytes += chunks.text_bytes(lines) if chunkable else 0
            if chunkable and (
                sum(f.height for f in pending) >= chunks.CHUNK_LINES
                or pending_bytes >= chunks.CHUNK_BYTES
            ):
                whole = pl.concat(pending)
                if cutter is not None:
                    done, carry = chunks.cut_by(whole, cutter)
                else:
                    assert record_start is not None
                    done, carry = chunks.cut_at_record(whole, record_start)
                if done.height:
                    yield Task(partial(_parse_piece, job, done))
                pending = [carry]
                pending_bytes = chunks.text_bytes(carry)
        elif lines.height:
            yield Task(partial(_parse_piece, job, lines))
    if pending and job.document:
        yield Task(partial(_parse_document, job, pl.concat(pending)))
    elif pending:
        whole = pl.concat(pending)
        if whole.height:
            yield Task(partial(_parse_piece, job, whole))


def run_file(job: FileJob, parts_dir: Path, pool: BlockPool | None = None) -> FileOutcome:
    """Read, parse and normalize one file; write its parts; return its outcome.

    With a ``pool`` of several workers the file's blocks are parsed in parallel; the pass that
    follows (inheritance across blocks, accounting, part files) runs here, in input order, so the
    outcome is the same whatever the pool (:mod:`timeline.pipeline.blocks`)."""
    reader = job.reader
    parser = job.parser
    account = FileAccount(source_file=reader.name, parser=parser.name if parser else None)
    outcome = FileOutcome(account)
    writer = _PartWriter(parts_dir, job.index)
    # The file's last timed event so far: untimed events of later blocks inherit its time.
    last_time = Carry()
    last_reject = 0
    blocks = pool if pool is not None else BlockPool(1)
    for piece in blocks.ordered(_tasks(job)):
        account.notes.extend(piece.notes)
        for rejected in piece.rejects:
            if rejected.height:
                lo, hi = rejected.select(
                    pl.col("source_line").min().fill_null(0).alias("lo"),
                    pl.col("source_line").max().alias("hi"),
                ).row(0)
                if lo < last_reject:
                    outcome.rejects_in_order = False
                last_reject = max(last_reject, int(hi or 0))
                account.lines_rejected += rejected.height
                account.rejects_by_reason.update(_reason_counts(rejected))
                outcome.reject_parts.append(writer.write(rejected, "rejects"))
        for skipped in piece.skipped:
            if skipped.height:
                account.lines_skipped += skipped.height
                account.skipped_by_reason.update(_reason_counts(skipped))
        account.lines_parsed += piece.parsed
        if piece.events is not None:
            account.events += piece.events.height
            frame, last_time = inherit(piece.events, last_time)
            _track_years(outcome, frame)
            outcome.event_parts.append(writer.write(frame, "events"))
    stats = reader.stats
    account.lines_read = stats.lines
    account.size = stats.size
    account.sha256 = stats.sha256
    outcome.content_sha256 = stats.content_sha256 or stats.sha256
    account.compression = stats.compression
    account.notes.extend(stats.problems)
    if job.settings.year_origin and parser is not None and getattr(parser, "needs_year", False):
        account.notes.append(
            f"timestamps carry no year; assumed {job.settings.year} (from {job.settings.year_origin})"
        )
    account.check()
    return outcome


def _reason_counts(marked: pl.DataFrame) -> dict[str, int]:
    """Lines per reason, in order of first appearance (one group-by, not a list of every line)."""
    counts = marked.group_by("reason", maintain_order=True).len()
    return dict(
        zip(counts.get_column("reason").to_list(), counts.get_column("len").to_list(), strict=True)
    )


def _track_years(outcome: FileOutcome, frame: pl.DataFrame) -> None:
    years = frame.select(
        pl.col("ts_source").dt.year().min().alias("lo"),
        pl.col("ts_source").dt.year().max().alias("hi"),
    ).row(0)
    lo, hi = years
    if lo is not None:
        outcome.min_ts_year = lo if outcome.min_ts_year is None else min(outcome.min_ts_year, lo)
    if hi is not None:
        outcome.max_ts_year = hi if outcome.max_ts_year is None else max(outcome.max_ts_year, hi)
