"""Parsing on Spark: one task per input file, running the local engine's per-file code.

Detection runs once on the driver (``timeline.pipeline.plan``); each file then becomes a task
that reads it, runs its parser, normalizes and finishes the events exactly as the local engine
does (``timeline.pipeline.files.run_file``), and returns its parts as Arrow IPC cells plus its
line accounting. The driver keeps the accounting and streams the cells, in input order, into the
same ``events.parquet`` / ``rejects.parquet`` the local engine writes.

Executors read the files by path: in local mode any path works; on a cluster the inputs must be
where every executor sees them at the same path (a shared or mounted file system).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from timeline.ingest.reader import InputReader
from timeline.parse.registry import Registry, default_registry
from timeline.parserkit.api import SourceSettings
from timeline.pipeline.accounting import FileAccount
from timeline.pipeline.build import _event_tables, _reject_tables
from timeline.pipeline.files import FileJob, FileOutcome, run_file
from timeline.spark.frames import BLOB_DDL, blob_batch, table_bytes

ACCOUNT: Final = "account"
EVENTS: Final = "events"
REJECTS: Final = "rejects"


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
        raw = json.loads(text)
        raw["envelopes"] = tuple(raw["envelopes"])
        return cls(**raw)


@dataclass(frozen=True)
class ParseContext:
    """What every parse task shares: the spec files of the registry, the salt, content kept."""

    specs: tuple[str, ...]
    salt: bytes
    keep_content: bool


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
        for table in _event_tables([outcome], context.salt, context.keep_content):
            yield spec.index, seq, EVENTS, table_bytes(table)
            seq += 1
        for table in _reject_tables([outcome], context.salt, context.keep_content):
            yield spec.index, seq, REJECTS, table_bytes(table)
            seq += 1
        yield spec.index, seq, ACCOUNT, account_json(outcome).encode()
    finally:
        job.reader.close()
        shutil.rmtree(parts, ignore_errors=True)


def parse_partition(context: ParseContext) -> Any:
    """The ``mapInArrow`` function: each input row (``spec``: a :class:`TaskSpec`) to its cells."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for text in batch.column("spec").to_pylist():
                spec = TaskSpec.from_json(text)
                # one batch per file part keeps the Arrow batches (and memory) to one part
                for cell in parse_one(spec, context):
                    yield blob_batch([cell])

    return run


PARSED_DDL: Final = BLOB_DDL


def spec_rows(jobs: Sequence[FileJob], max_file_bytes: int) -> list[tuple[int, str]]:
    """(index, spec) rows for the jobs, in input order."""
    return [(job.index, TaskSpec.of(job, max_file_bytes).to_json()) for job in jobs]
