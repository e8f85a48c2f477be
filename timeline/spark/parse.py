"""Parsing on Spark: one task per input file (or per piece of a large one), running the local
engine's per-file code.

Detection runs once on the driver (``timeline.pipeline.plan``); each file then becomes a task
that reads it, runs its parser, normalizes and finishes the events exactly as the local engine
does (``timeline.pipeline.files.run_file``), and returns its parts as Arrow IPC cells plus its
line accounting. A file larger than the split size is read by one task into pieces, parsed by one
task per piece and finished by one more per piece (:mod:`timeline.spark.blocks`). The driver keeps
the accounting and streams the cells, in input order, into the same ``events.parquet`` /
``rejects.parquet`` the local engine writes.

Executors read local files by path: in local mode any path works; on a cluster such inputs must
be where every executor sees them at the same path (a shared or mounted file system). Files by
URI come to the tasks through Spark instead (:mod:`timeline.spark.remote_in`).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from timeline.ingest.reader import InputReader
from timeline.parse.registry import Registry, default_registry
from timeline.parserkit.api import SourceSettings
from timeline.pipeline.accounting import FileAccount
from timeline.pipeline.build import event_tables, reject_tables
from timeline.pipeline.files import FileJob, FileOutcome, run_file
from timeline.spark.blocks import (
    SPLIT_BYTES,
    Piece,
    PieceReader,
    carry_from_json,
    carry_json,
    finished_events,
    finished_rejects,
    piece_carry,
    read_pieces,
)
from timeline.spark.frames import BLOB_DDL, blob_batch, table_bytes

ACCOUNT: Final = "account"
EVENTS: Final = "events"
REJECTS: Final = "rejects"
READ: Final = "read"  # a large file read into pieces: the pieces and the file's statistics
PIECE: Final = "piece"  # a piece parsed: its outcome, part files and carry
# The tasks: a whole file; a large file's reading, the parse of one piece, the finish of one piece.
FILE_TASK: Final = "file"
READ_TASK: Final = "read"
PIECE_TASK: Final = "piece"
FINISH_TASK: Final = "finish"
PIECE_SHIFT: Final = 32  # the cells of piece n of a file: seq = n << PIECE_SHIFT | cell


@dataclass(frozen=True)
class TaskSpec:
    """What an executor needs to parse one file (JSON-safe: it travels as text)."""

    index: int
    path: str
    name: str
    parser: str | None
    settings: dict[str, Any]
    skip_reason: str | None
    reject_reason: str | None
    detection: str
    envelopes: tuple[str, ...]
    document: str | None
    keep_content: bool
    max_line_bytes: int
    max_file_bytes: int

    @classmethod
    def of(cls, job: FileJob, max_file_bytes: int) -> TaskSpec:
        """The spec of a planned job."""
        return cls(
            index=job.index,
            path=str(job.reader.path),
            name=job.reader.name,
            parser=job.parser.name if job.parser is not None else None,
            settings=dataclasses.asdict(job.settings),
            skip_reason=job.skip_reason,
            reject_reason=job.reject_reason,
            detection=job.detection,
            envelopes=tuple(job.envelopes),
            document=job.document,
            keep_content=job.keep_content,
            max_line_bytes=job.reader.max_line_bytes,
            max_file_bytes=max_file_bytes,
        )

    def to_json(self) -> str:
        """The spec as text."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TaskSpec:
        """The spec :meth:`to_json` wrote."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TaskSpec:
        """The spec of :func:`dataclasses.asdict`."""
        return cls(**{**raw, "envelopes": tuple(raw["envelopes"])})


@dataclass(frozen=True)
class ParseContext:
    """What every parse task shares: the spec files of the registry, the salt, content kept, the
    scratch folder of large files' pieces (seen by every executor) and the split size."""

    specs: tuple[str, ...]
    salt: bytes
    keep_content: bool
    scratch: str = ""
    split_bytes: int = SPLIT_BYTES


@lru_cache(maxsize=4)
def _registry(specs: tuple[str, ...]) -> Registry:
    """One registry per worker process and spec list (built-ins, plugins, the specs)."""
    return default_registry([Path(s) for s in specs])


def _job(spec: TaskSpec, registry: Registry) -> FileJob:
    reader = InputReader(Path(spec.path), spec.name, spec.max_line_bytes, None, spec.max_file_bytes)
    reader.head()  # sets what blocks() needs (binary note, copytruncate holes), as planning did
    return FileJob(
        spec.index,
        reader,
        registry.get(spec.parser) if spec.parser is not None else None,
        SourceSettings(**spec.settings),
        skip_reason=spec.skip_reason,
        reject_reason=spec.reject_reason,
        detection=spec.detection,
        envelopes=spec.envelopes,
        document=spec.document,
        keep_content=spec.keep_content,
    )


def account_json(outcome: FileOutcome) -> str:
    """A file's accounting, years and content hash as text (for the driver)."""
    return json.dumps(
        {
            "account": outcome.account.to_dict(),
            "min_ts_year": outcome.min_ts_year,
            "max_ts_year": outcome.max_ts_year,
            "content_sha256": outcome.content_sha256,
            "event_parts": len(outcome.event_parts),
            "reject_parts": len(outcome.reject_parts),
        }
    )


def outcome_from_json(text: str) -> FileOutcome:
    """The :class:`FileOutcome` of :func:`account_json` (parts are placeholders: the cells)."""
    raw = json.loads(text)
    data = raw["account"]
    account = FileAccount(
        **{
            **data,
            "rejects_by_reason": Counter(data["rejects_by_reason"]),
            "skipped_by_reason": Counter(data["skipped_by_reason"]),
            "notes": list(data["notes"]),
        }
    )
    return FileOutcome(
        account,
        [Path(f"cell-{i}") for i in range(raw["event_parts"])],
        [Path(f"cell-{i}") for i in range(raw["reject_parts"])],
        raw["min_ts_year"],
        raw["max_ts_year"],
        raw["content_sha256"],
    )


def parse_one(spec: TaskSpec, context: ParseContext) -> Iterator[tuple[int, int, str, bytes]]:
    """Parse one file as the local engine does; cells of its finished events, rejects, account.

    The accounting cell comes last."""
    registry = _registry(context.specs)
    job = _job(spec, registry)
    parts = Path(tempfile.mkdtemp(prefix="timeline-spark-parse-"))
    try:
        outcome = run_file(job, parts)
        seq = 0
        for table in event_tables([outcome], context.salt, context.keep_content):
            yield spec.index, seq, EVENTS, table_bytes(table)
            seq += 1
        for table in reject_tables([outcome], context.salt, context.keep_content):
            yield spec.index, seq, REJECTS, table_bytes(table)
            seq += 1
        yield spec.index, seq, ACCOUNT, account_json(outcome).encode()
    finally:
        job.reader.close()
        shutil.rmtree(parts, ignore_errors=True)


def read_one(spec: TaskSpec, context: ParseContext) -> Iterator[tuple[int, int, str, bytes]]:
    """Read a large file into pieces (:func:`timeline.spark.blocks.read_pieces`): one cell."""
    pieces, stats = read_local(spec, context, Path(context.scratch))
    payload = {"pieces": [dataclasses.asdict(p) for p in pieces], "stats": stats}
    yield spec.index, 0, READ, json.dumps(payload).encode()


def parse_piece(
    spec: TaskSpec, piece: Piece, context: ParseContext
) -> Iterator[tuple[int, int, str, bytes]]:
    """Parse one piece of a large file with the local engine's ``run_file``; one cell: the
    piece's outcome, its part files (kept in the scratch folder for the finish) and its carry."""
    parts = Path(context.scratch) / f"{spec.index:06d}-{piece.number:06d}"
    parts.mkdir(exist_ok=True)
    outcome = run_piece(spec, piece, context, parts)
    payload = {
        "outcome": json.loads(account_json(outcome)),
        "events": [str(p) for p in outcome.event_parts],
        "rejects": [str(p) for p in outcome.reject_parts],
        "in_order": outcome.rejects_in_order,
        "carry": carry_json(piece_carry(outcome.event_parts)),
    }
    yield spec.index, piece.number, PIECE, json.dumps(payload).encode()


def run_piece(spec: TaskSpec, piece: Piece, context: ParseContext, parts: Path) -> FileOutcome:
    """``run_file`` on one saved piece of ``spec``'s file, its parts written into ``parts``."""
    registry = _registry(context.specs)
    reader = PieceReader(Path(spec.path), spec.name, spec.max_line_bytes, piece)
    job = FileJob(
        spec.index,
        reader,
        registry.get(spec.parser) if spec.parser is not None else None,
        SourceSettings(**spec.settings),
        detection=spec.detection,
        envelopes=spec.envelopes,
        keep_content=spec.keep_content,
    )
    return run_file(job, parts)


def read_local(
    spec: TaskSpec, context: ParseContext, folder: Path
) -> tuple[list[Piece], dict[str, Any]]:
    """:func:`timeline.spark.blocks.read_pieces` of ``spec``'s file into ``folder``."""
    job = _job(spec, _registry(context.specs))
    try:
        return read_pieces(job, context.split_bytes, folder)
    finally:
        job.reader.close()


def finish_piece(
    spec: TaskSpec, task: dict[str, Any], context: ParseContext
) -> Iterator[tuple[int, int, str, bytes]]:
    """Finish one parsed piece (:func:`timeline.spark.blocks.finished_events`): its event and
    reject cells, numbered after the earlier pieces' cells of the file."""
    seq = int(task["number"]) << PIECE_SHIFT
    events = [Path(p) for p in task["events"]]
    carry = carry_from_json(task["carry"])
    for table in finished_events(events, carry, task["sha256"], context.salt, context.keep_content):
        yield spec.index, seq, EVENTS, table_bytes(table)
        seq += 1
    account = FileAccount(source_file=spec.name, parser=spec.parser)
    rejects = [Path(p) for p in task["rejects"]]
    for table in finished_rejects(
        account, rejects, task["in_order"], context.salt, context.keep_content
    ):
        yield spec.index, seq, REJECTS, table_bytes(table)
        seq += 1
    # The parts stay until the build removes the scratch folder: a task Spark runs again (a lost
    # executor, an evicted cache) reads them again.


def run_task(
    text: str, context: ParseContext, local_path: str | None = None
) -> Iterator[tuple[int, int, str, bytes]]:
    """The cells of one task row (:func:`task_row`); ``local_path``: where the file's bytes are
    (a file by URI, saved by the task), instead of the spec's path."""
    raw = json.loads(text)
    kind = raw.pop("task")
    spec = TaskSpec.from_dict(raw.pop("file"))
    if local_path is not None:
        spec = dataclasses.replace(spec, path=local_path)
    if kind == FILE_TASK:
        yield from parse_one(spec, context)
    elif kind == READ_TASK:
        yield from read_one(spec, context)
    elif kind == PIECE_TASK:
        yield from parse_piece(spec, Piece(**raw["piece"]), context)
    elif kind == FINISH_TASK:
        yield from finish_piece(spec, raw, context)
    else:
        raise ValueError(f"internal error: unknown task {kind!r}")


def parse_partition(context: ParseContext) -> Any:
    """The ``mapInArrow`` function: each input row (``spec``: a :func:`task_row`) to its cells."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for text in batch.column("spec").to_pylist():
                # one batch per file part keeps the Arrow batches (and memory) to one part
                for cell in run_task(text, context):
                    yield blob_batch([cell])

    return run


PARSED_DDL: Final = BLOB_DDL


def task_row(kind: str, spec: TaskSpec, **task: Any) -> str:
    """A task as the text of its row: the kind, the file's spec and what the kind needs."""
    return json.dumps({"task": kind, "file": dataclasses.asdict(spec), **task})
