"""The events correlation reads: the build's one-pass scratch file and Parquet tables give the same
rows by row range, and sizes in the unit the memory budget's factors are for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from timeline.correlation.pipeline import Layout, range_parts, read_range
from timeline.io.eventsfile import (
    ARROW_PER_PARQUET_BYTE,
    SCRATCH_BATCH_ROWS,
    EventsFile,
    write_scratch,
)
from timeline.io.parquet import write_tables
from timeline.schema import ARROW_SCHEMA, conform, to_arrow


def _events(rows: int) -> pl.DataFrame:
    start = datetime(2025, 3, 2, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "event_id": [f"abc:{i}:0" for i in range(rows)],
            "source_file": ["a.log" if i % 3 else None for i in range(rows)],
            "source_line": list(range(1, rows + 1)),
            "layer": [("gateway", "inference", None)[i % 3] for i in range(rows)],
            "ts_source": [
                start + timedelta(milliseconds=i) if i % 7 else None for i in range(rows)
            ],
            "message": [None if i % 5 == 0 else "x" * (i % 40) for i in range(rows)],
        }
    )
    return conform(frame)


def _tables(frame: pl.DataFrame, pieces: int) -> list[pa.Table]:
    step = max(1, -(-frame.height // pieces))
    return [to_arrow(frame.slice(i, step)) for i in range(0, frame.height, step)]


@pytest.mark.parametrize(
    ("rows", "parts"), [(0, 1), (1, 1), (1000, 3), (SCRATCH_BATCH_ROWS + 5, 2)]
)
def test_scratch_and_parquet_read_the_same_ranges(tmp_path: Path, rows: int, parts: int) -> None:
    frame = _events(rows)
    meta = {"build_id": "b"}
    scratch = write_scratch(tmp_path / "events.arrow", ARROW_SCHEMA, _tables(frame, 3), meta)
    write_tables(tmp_path / "events.parquet", ARROW_SCHEMA, _tables(frame, 3), meta)
    table = EventsFile.parquet(tmp_path / "events.parquet")
    assert scratch.is_scratch and not table.is_scratch
    assert scratch.rows == table.rows == rows
    assert scratch.metadata == table.metadata == meta
    layout = Layout.for_rows(rows, parts)
    columns = ["event_id", "ts_source", "layer"]
    for part in range_parts(layout):
        for wanted in (columns, None):
            a = read_range(scratch, wanted, layout, part)
            b = read_range(table, wanted, layout, part)
            assert a.height == min(layout.span, rows - part * layout.span)
            assert conform(a.drop("row")).equals(conform(b.drop("row")))
            assert a["row"].equals(b["row"])


def test_sizes_are_in_parquet_bytes(tmp_path: Path) -> None:
    """Sizes are in the unit the budget's factors were measured in: Parquet's uncompressed bytes
    for a table, the scratch file's Arrow bytes converted by the measured ratio."""
    frame = _events(20_000)
    scratch = write_scratch(tmp_path / "e.arrow", ARROW_SCHEMA, _tables(frame, 4), {})
    write_tables(tmp_path / "e.parquet", ARROW_SCHEMA, _tables(frame, 4), {})
    assert scratch.size == int(to_arrow(frame).nbytes / ARROW_PER_PARQUET_BYTE)
    meta = pq.ParquetFile(tmp_path / "e.parquet").metadata
    stored = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    assert EventsFile.parquet(tmp_path / "e.parquet").size == stored
