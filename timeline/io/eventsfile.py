"""The events correlation reads: a Parquet table, or the build's one-pass Arrow IPC scratch file.

``timeline build`` writes the full events once, as ``timeline.parquet`` with its correlation
columns. Until correlation has run they are kept in a scratch Arrow IPC file (zstd, batches of
``SCRATCH_BATCH_ROWS``): cheaper to write than Parquet, read back by row range and column as
cheaply, and never an output. ``timeline correlate`` reads ``events.parquet`` (a ``--no-correlate``
build) or the earlier ``timeline.parquet``; correlation does not depend on the order of its input
rows (``tests/test_correlate_properties.py``), so a timeline correlates again to itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from timeline.io.parquet import read_metadata

SCRATCH_SUFFIX: Final = ".arrow"
SCRATCH_BATCH_ROWS: Final = 64 * 1024  # a row range of a stage reads at most one batch too many
# zstd: a third less disk than lz4 at 1M requests (0.75 GB against 1.24 GB of scratch), 3 CPU
# seconds more to write, as fast to read (docs/performance.md, "Writing the events once").
SCRATCH_COMPRESSION: Final = "zstd"
# Arrow bytes per byte of Parquet's uncompressed size, over the whole 1M benchmark's
# ``events.parquet`` (777 against 406 per event). The memory budget's factors are per Parquet byte,
# as they were measured (``timeline.correlation.budget``); the scratch file, which has no Parquet
# statistics, converts. Converting a Parquet table the other way, from its first row group, gave
# smaller partitions at 1M and 24 % more correlation CPU (docs/performance.md, session 7).
ARROW_PER_PARQUET_BYTE: Final = 1.91


@dataclass(frozen=True)
class EventsFile:
    """Canonical events on disk: where, how many rows, about how many bytes in memory (for the
    memory budget), and the build's metadata."""

    path: Path
    rows: int
    size: int  # Parquet's uncompressed bytes: what the memory budget's factors are per
    metadata: dict[str, Any]

    @classmethod
    def parquet(cls, path: Path) -> EventsFile:
        """A Parquet table of events (``events.parquet`` or ``timeline.parquet``)."""
        meta = pq.ParquetFile(path).metadata
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        return cls(path, meta.num_rows, size, read_metadata(path))

    @property
    def is_scratch(self) -> bool:
        """Whether this is the build's Arrow IPC scratch file rather than a Parquet table."""
        return self.path.suffix == SCRATCH_SUFFIX

    def scan(self) -> pl.LazyFrame:
        """The events, lazily (only the columns and rows asked for are read)."""
        return pl.scan_ipc(self.path) if self.is_scratch else pl.scan_parquet(self.path)


def write_scratch(
    target: Path, schema: pa.Schema, tables: Iterable[pa.Table], metadata: dict[str, Any]
) -> EventsFile:
    """Stream ``tables`` into the Arrow IPC scratch file ``target``; what was written."""
    rows = size = 0
    options = ipc.IpcWriteOptions(compression=SCRATCH_COMPRESSION)
    with pa.OSFile(str(target), "wb") as sink, ipc.new_file(sink, schema, options=options) as out:
        for table in tables:
            if table.num_rows:
                out.write_table(table, max_chunksize=SCRATCH_BATCH_ROWS)
                rows += table.num_rows
                size += table.nbytes
    return EventsFile(target, rows, int(size / ARROW_PER_PARQUET_BYTE), metadata)
