"""Partitions: rows written by partition number, read back one partition at a time.

Correlation streams its input once per stage and scatters rows to partitions (by node hash, by
row range, by request bucket, by time range), then works on a few partitions at a time. Out of
core, each partition is one file of Arrow IPC streams (lz4), one per buffer flush, so memory holds
at most the write buffers and the partitions being worked on. When correlation fits its memory
budget, the same partitions are held in memory instead (no directory): the stages cannot tell the
difference.

Threads: one thread writes (and releases); once ``close()`` has written every buffer, several
threads may read different partitions at once (a read then changes nothing shared).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Final

import polars as pl
import pyarrow.ipc as ipc

FLUSH_BYTES: Final = 4 << 20  # a partition's buffer is written once it holds about this much
BUFFER_BYTES: Final = 96 << 20  # the fullest buffers are written once together they hold this much


class Spill:
    """``parts`` partition files under ``directory``, all with the polars ``schema``; with no
    ``directory``, ``parts`` partitions held in memory.

    Rows wait in per-partition buffers (in memory they stay there). A partition's buffer is written once it holds about
    ``FLUSH_BYTES``; when all of them together pass ``buffer_bytes`` the fullest are written until
    half of that is left. Memory is bounded by ``buffer_bytes`` whatever the number of partitions,
    and a wide fan-out (hundreds of partitions) still writes segments of a useful size."""

    def __init__(
        self,
        directory: Path | None,
        name: str,
        parts: int,
        schema: pl.Schema,
        buffer_bytes: int = 0,
    ) -> None:
        self.directory = directory
        self.buffer_bytes = buffer_bytes or BUFFER_BYTES
        self.flush_bytes = min(FLUSH_BYTES, max(64 << 10, self.buffer_bytes // 8))
        self.name = name
        self.parts = parts
        self.schema = schema
        self.rows = [0] * parts
        self._pending: list[list[pl.DataFrame]] = [[] for _ in range(parts)]
        self._pending_bytes = [0] * parts
        self._buffered = 0
        self._segments: list[list[tuple[int, int]]] = [[] for _ in range(parts)]

    @property
    def in_memory(self) -> bool:
        """Whether the partitions are held in memory (no files)."""
        return self.directory is None

    def path(self, part: int) -> Path:
        """The file of partition ``part`` (out of core only)."""
        if self.directory is None:
            raise ValueError(f"spill {self.name!r} is held in memory: it has no files")
        return self.directory / f"{self.name}-{part:05d}.ipcs"

    def write(self, frame: pl.DataFrame, part: pl.Series | int) -> None:
        """Append the rows of ``frame`` to their partitions (``part``: one number per row, or one for all)."""
        if frame.height == 0:
            return
        frame = frame.select(self.schema.names()).cast(self.schema)
        row_bytes = max(1, int(frame.estimated_size()) // frame.height)
        if isinstance(part, int):
            self._add(part, frame, row_bytes)
        else:
            keyed = frame.with_columns(part.alias("__part").cast(pl.Int64))
            for (number,), piece in keyed.partition_by("__part", as_dict=True).items():
                self._add(int(number), piece.drop("__part"), row_bytes)
        if self._buffered >= self.buffer_bytes and not self.in_memory:
            fullest = sorted(range(self.parts), key=lambda n: -self._pending_bytes[n])
            for number in fullest:
                if self._buffered <= self.buffer_bytes // 2:
                    break
                self._flush(number)

    def _add(self, part: int, frame: pl.DataFrame, row_bytes: int) -> None:
        size = frame.height * row_bytes
        self._pending[part].append(frame)
        self._pending_bytes[part] += size
        self._buffered += size
        self.rows[part] += frame.height
        if self._pending_bytes[part] >= self.flush_bytes and not self.in_memory:
            self._flush(part)

    def _flush(self, part: int) -> None:
        if not self._pending[part] or self.in_memory:
            return
        # Exported to plain Arrow strings first: string views of a sliced frame point into the
        # whole frame's buffers, and an IPC writer then copies every one of them (polars' own
        # writer does so for lists of strings: 25x the data). Each flush is one IPC stream
        # appended to the partition's file.
        table = pl.concat(self._pending[part]).to_arrow()
        buffer = io.BytesIO()
        options = ipc.IpcWriteOptions(compression="lz4")
        with ipc.new_stream(buffer, table.schema, options=options) as writer:
            writer.write_table(table)
        data = buffer.getbuffer()
        with self.path(part).open("ab") as out:
            start = out.tell()
            out.write(data)
        self._segments[part].append((start, len(data)))
        self._buffered -= self._pending_bytes[part]
        self._pending[part], self._pending_bytes[part] = [], 0

    def close(self) -> None:
        """Write every buffer (reading does this too)."""
        for number in range(self.parts):
            self._flush(number)

    def read(self, part: int) -> pl.DataFrame:
        """Every row written to partition ``part`` (in write order)."""
        if part not in range(self.parts):
            return pl.DataFrame(schema=self.schema)
        if self.in_memory:
            if not self._pending[part]:
                return pl.DataFrame(schema=self.schema)
            # Concatenated once (chunks, no copy), read as often as a stage needs.
            self._pending[part] = [pl.concat(self._pending[part], rechunk=False)]
            return self._pending[part][0]
        self._flush(part)
        if not self._segments[part]:
            return pl.DataFrame(schema=self.schema)
        frames = []
        with self.path(part).open("rb") as source:
            for start, length in self._segments[part]:
                source.seek(start)
                frames.append(pl.read_ipc_stream(io.BytesIO(source.read(length))))
        return pl.concat(frames).cast(self.schema)

    def release(self, part: int) -> None:
        """Forget partition ``part`` (its file, or its rows in memory): read for the last time."""
        if self.directory is not None:
            self.path(part).unlink(missing_ok=True)
        self._segments[part].clear()
        self._buffered -= self._pending_bytes[part]
        self._pending[part], self._pending_bytes[part] = [], 0

    def drop(self) -> None:
        """Delete the files (and forget what was buffered)."""
        for number in range(self.parts):
            self.release(number)
        self._buffered = 0
