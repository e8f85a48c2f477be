"""Large files as several Spark tasks: read once in order, parsed in pieces, finished in order.

The local engine reads a file's blocks one after the other, parses them on a pool of threads
(:mod:`timeline.pipeline.blocks`) and runs an in-order pass over the results: timestamp and
model-revision inheritance across blocks (:mod:`timeline.normalize.inherit`) and the line
accounting. On Spark a file larger than ``split_bytes`` (and that may be cut: see
:func:`splittable`) takes three rounds of tasks:

1. **read** (one task per file): the file's own reader (:class:`InputReader`: decompression,
   hashing, byte-order marks, copytruncate holes, bad lines, line numbers) streams its blocks;
   consecutive blocks are grouped into *pieces* of about ``split_bytes`` of text, cut between
   blocks (line parsers) or at a record start (multi-line parsers with ``record_start`` or
   ``cut()``, cut as :mod:`timeline.parse.chunks` cuts their chunks). Each piece is written as
   Arrow files into a scratch folder beside the output (every executor sees it); the task returns
   the file's size, hashes, line count and notes.
2. **parse** (one task per piece): :func:`timeline.pipeline.files.run_file` on the piece's blocks,
   the very code that runs on a whole file, inheritance starting afresh at the piece; the task
   returns the piece's accounting and what it hands on to the next piece (:func:`piece_carry`: its
   last timed event and its latest startup line with a model revision).
3. **finish** (one task per piece): with the carry of every earlier piece (chained on the driver,
   a handful of values per piece: :func:`chain`) the piece's events inherit what they could not
   inherit inside it, then get their ids (from the whole file's sha256) and redaction; its
   rejects are finished as the local engine finishes them.

Why one reading task per file rather than byte ranges each task finds for itself: line numbers
and the sha256 depend on every byte before, decompression and UTF-16 decoding are sequential, and
the bad-line and hole rules belong to the reader. One sequential pass that parses nothing (reading
runs many times faster than parsing) keeps every rule in one place and splits compressed files
too; the price is the text written once more, to the scratch folder.

The line blocks a piece holds are the reader's blocks (``split_bytes`` or 8 MiB, whichever is
smaller), so a line parser sees the very blocks the local engine gives it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import polars as pl
import pyarrow as pa

from timeline.ingest.reader import BAD_SCHEMA, Block, InputReader
from timeline.normalize.content import finish
from timeline.normalize.inherit import STARTUP_TYPES, Carry, inherit
from timeline.parse import chunks
from timeline.parserkit.api import LINE_SCHEMA, Parser, is_multiline, needs_year
from timeline.pipeline.accounting import FileAccount
from timeline.pipeline.build import reject_tables
from timeline.pipeline.files import FileJob, FileOutcome
from timeline.schema import conform, to_arrow

SPLIT_BYTES: Final = 64 << 20  # a file larger than this is read, parsed and finished in pieces
BLOCK: Final = "_block"  # the column that says which reader block of a piece a line came from
_CARRY_COLUMNS: Final = (
    "ts_source",
    "ts_assumed_tz",
    "ts_precision_ms",
    "event_type",
    "model",
    "model_revision",
    "source_line",
)


def splittable(job: FileJob) -> bool:
    """True when ``job`` may be parsed in pieces: a parser reads it line by line, or in chunks
    cut at record starts; not a whole document, not a file skipped or rejected whole, not a
    multi-line format under envelopes (the local engine does not chunk those either)."""
    parser = job.parser
    if parser is None or job.skip_reason or job.reject_reason or job.document:
        return False
    if not is_multiline(parser):
        return True
    return not job.envelopes and _cutter(parser) is not None


def _cutter(parser: Parser) -> Any:
    return getattr(parser, "cut", None) or getattr(parser, "record_start", None)


@dataclass(frozen=True)
class Piece:
    """A run of consecutive blocks of one file, saved for a parse task."""

    number: int
    lines_path: str
    bad_path: str
    blocks: int
    text_bytes: int


def _split(blocks: list[Block], at: int) -> tuple[list[Block], list[Block]]:
    """``blocks`` cut before line ``at``: the blocks (or parts of a block) before, and after."""
    before: list[Block] = []
    after: list[Block] = []
    for block in blocks:
        line = pl.col("source_line") < at
        head = Block(block.lines.filter(line), block.bad.filter(line))
        tail = Block(block.lines.filter(~line), block.bad.filter(~line))
        if head.lines.height or head.bad.height:
            before.append(head)
        if tail.lines.height or tail.bad.height:
            after.append(tail)
    return before, after


def _cut(parser: Parser, blocks: list[Block]) -> tuple[list[Block], list[Block]]:
    """A multi-line file's pending blocks cut where :mod:`timeline.parse.chunks` would cut them:
    what is complete, and the lines carried on (they start a record)."""
    whole = pl.concat([b.lines for b in blocks])
    cutter = getattr(parser, "cut", None)
    if cutter is not None:
        _done, carry = chunks.cut_by(whole, cutter)
    else:
        _done, carry = chunks.cut_at_record(whole, getattr(parser, "record_start", ""))
    if carry.height == 0:
        return blocks, []
    return _split(blocks, int(carry.get_column("source_line")[0]))


def _save(blocks: list[Block], number: int, stem: Path) -> Piece:
    lines = pl.concat(
        [b.lines.with_columns(pl.lit(i, pl.Int32).alias(BLOCK)) for i, b in enumerate(blocks)]
    )
    bad = pl.concat(
        [b.bad.with_columns(pl.lit(i, pl.Int32).alias(BLOCK)) for i, b in enumerate(blocks)]
    )
    lines_path = stem.with_name(f"{stem.name}-{number:06d}.lines.arrow")
    bad_path = stem.with_name(f"{stem.name}-{number:06d}.bad.arrow")
    lines.write_ipc(lines_path, compression="lz4")
    bad.write_ipc(bad_path, compression="lz4")
    return Piece(number, str(lines_path), str(bad_path), len(blocks), chunks.text_bytes(lines))


def read_pieces(job: FileJob, split_bytes: int, folder: Path) -> tuple[list[Piece], dict[str, Any]]:
    """Read ``job``'s file (its reader's ``head()`` already called) into pieces of about
    ``split_bytes`` of text saved in ``folder``; the pieces and the reader's statistics."""
    reader = job.reader
    reader.block_bytes = min(reader.block_bytes, max(1, split_bytes))
    parser = job.parser
    assert parser is not None
    multiline = is_multiline(parser)
    stem = folder / f"{job.index:06d}"
    pieces: list[Piece] = []
    pending: list[Block] = []
    size = 0
    for block in reader.blocks():
        pending.append(block)
        size += chunks.text_bytes(block.lines)
        if size < split_bytes:
            continue
        done, rest = _cut(parser, pending) if multiline else (pending, [])
        if done:
            pieces.append(_save(done, len(pieces), stem))
            pending = rest
            size = sum(chunks.text_bytes(b.lines) for b in rest)
    if pending:
        pieces.append(_save(pending, len(pieces), stem))
    stats = reader.stats
    return pieces, {
        "lines": stats.lines,
        "size": stats.size,
        "sha256": stats.sha256,
        "content_sha256": stats.content_sha256 or stats.sha256,
        "compression": stats.compression,
        "problems": list(stats.problems),
    }


class PieceReader(InputReader):
    """The reader of a parse task: the blocks of one saved :class:`Piece`, with the numbers
    of the whole file's lines."""

    def __init__(self, path: Path, name: str, max_line_bytes: int, piece: Piece) -> None:
        super().__init__(path, name, max_line_bytes)
        self.piece = piece

    def blocks(self) -> Iterator[Block]:
        """The piece's blocks, as the file's reader gave them."""
        lines = pl.read_ipc(self.piece.lines_path)
        bad = pl.read_ipc(self.piece.bad_path)
        by_lines = lines.partition_by(BLOCK, as_dict=True, include_key=False, maintain_order=True)
        by_bad = bad.partition_by(BLOCK, as_dict=True, include_key=False, maintain_order=True)
        empty_lines = pl.DataFrame(schema=LINE_SCHEMA)
        empty_bad = pl.DataFrame(schema=BAD_SCHEMA)
        for i in range(self.piece.blocks):
            yield Block(by_lines.get((i,), empty_lines), by_bad.get((i,), empty_bad))
        self.stats.lines = lines.height + bad.height


def piece_carry(parts: list[Path]) -> Carry:
    """What a parsed piece hands on to the next one: the time of its last timed event and the
    latest startup line with a revision, as :func:`timeline.normalize.inherit.inherit` carries
    them (the parts' events already inherited inside the piece, so they hold the same values)."""
    if not parts:
        return Carry()
    frame = pl.concat([pl.read_ipc(p, columns=list(_CARRY_COLUMNS)) for p in parts])
    carry = Carry()
    timed = frame.filter(pl.col("ts_source").is_not_null())
    if timed.height:
        ts, assumed, precision = timed.select(
            pl.col("ts_source").last(),
            pl.col("ts_assumed_tz").last().fill_null(False),
            pl.col("ts_precision_ms").last(),
        ).row(0)
        carry = replace(carry, ts=ts, assumed_tz=bool(assumed), precision_ms=precision)
    startup = pl.col("event_type").is_in(STARTUP_TYPES) & pl.col("model_revision").is_not_null()
    starts = frame.filter(startup)
    if starts.height:
        model, revision, line = starts.select("model", "model_revision", "source_line").row(-1)
        carry = replace(carry, model=model, model_revision=revision, revision_line=line)
    return carry


def chain(before: Carry, own: Carry) -> Carry:
    """The carry after a piece: what it carries of its own, else what it was given."""
    out = before
    if own.ts is not None:
        out = replace(out, ts=own.ts, assumed_tz=own.assumed_tz, precision_ms=own.precision_ms)
    if own.revision_line is not None:
        out = replace(
            out, model=own.model, model_revision=own.model_revision, revision_line=own.revision_line
        )
    return out


def carry_json(carry: Carry) -> dict[str, Any]:
    """A carry as JSON-ready values (the time in ISO form, microseconds and zone kept)."""
    raw = dataclasses.asdict(carry)
    raw["ts"] = carry.ts.isoformat() if carry.ts is not None else None
    return raw


def carry_from_json(raw: dict[str, Any]) -> Carry:
    """The carry :func:`carry_json` wrote."""
    ts = raw.get("ts")
    return Carry(**{**raw, "ts": datetime.fromisoformat(ts) if ts is not None else None})


def finished_events(
    parts: list[Path], carry: Carry, sha256: str, salt: bytes, keep_content: bool
) -> Iterator[pa.Table]:
    """A piece's event parts with the earlier pieces' ``carry`` inherited, ids from the file's
    ``sha256``, content redacted unless kept: the tables the local engine writes for them."""
    fill = carry != Carry()
    for part in parts:
        frame = pl.read_ipc(part)
        if fill:
            frame, carry = inherit(frame, carry)
        yield to_arrow(finish(conform(frame), sha256, salt, keep_content))


def finished_rejects(
    account: FileAccount, parts: list[Path], in_order: bool, salt: bytes, keep_content: bool
) -> Iterator[pa.Table]:
    """A piece's reject parts finished as the local engine finishes a file's."""
    outcome = FileOutcome(account, reject_parts=parts, rejects_in_order=in_order)
    return reject_tables([outcome], salt, keep_content)


def merged_outcome(job: FileJob, stats: dict[str, Any], pieces: list[FileOutcome]) -> FileOutcome:
    """One file's outcome from its pieces' outcomes (in order; parts are placeholders) and the
    reading task's statistics: the accounting the local engine's single pass gives."""
    accounts = [p.account for p in pieces]
    parser = job.parser
    account = FileAccount(source_file=job.reader.name, parser=parser.name if parser else None)
    year_note = bool(job.settings.year_origin and parser is not None and needs_year(parser))
    rejects: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    notes: list[str] = []
    for piece in accounts:
        account.lines_parsed += piece.lines_parsed
        account.lines_rejected += piece.lines_rejected
        account.lines_skipped += piece.lines_skipped
        account.events += piece.events
        rejects.update(piece.rejects_by_reason)
        skipped.update(piece.skipped_by_reason)
        notes.extend(piece.notes[:-1] if year_note else piece.notes)  # the year note: once
    account.rejects_by_reason = rejects
    account.skipped_by_reason = skipped
    account.lines_read = int(stats["lines"])
    account.size = int(stats["size"])
    account.sha256 = str(stats["sha256"])
    account.compression = stats["compression"]
    account.notes = [*notes, *stats["problems"]]
    if year_note and accounts:
        account.notes.append(accounts[0].notes[-1])  # run_file's note of the assumed year
    account.check()
    lows = [p.min_ts_year for p in pieces if p.min_ts_year is not None]
    highs = [p.max_ts_year for p in pieces if p.max_ts_year is not None]
    return FileOutcome(
        account,
        [part for p in pieces for part in p.event_parts],
        [part for p in pieces for part in p.reject_parts],
        min(lows) if lows else None,
        max(highs) if highs else None,
        str(stats["content_sha256"]),
    )
