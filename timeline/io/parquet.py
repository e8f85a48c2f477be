"""Parquet output: canonical Arrow schema, zstd, row groups, and the build metadata."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from timeline.io.atomic import atomic_path
from timeline.schema import conform

METADATA_KEY: Final = b"ai_timeline"
ROW_GROUP_ROWS: Final = 256 * 1024


def _with_metadata(schema: pa.Schema, metadata: dict[str, Any]) -> pa.Schema:
    blob = json.dumps(metadata, sort_keys=True, separators=(",", ":")).encode()
    existing = dict(schema.metadata or {})
    existing[METADATA_KEY] = blob
    return schema.with_metadata(existing)


def write_tables(
    target: Path, schema: pa.Schema, tables: Iterable[pa.Table], metadata: dict[str, Any]
) -> int:
    """Stream ``tables`` into ``target`` atomically; return the row count."""
    rows = 0
    full_schema = _with_metadata(schema, metadata)
    pending: list[pa.Table] = []
    pending_rows = 0

    def flush(writer: pq.ParquetWriter) -> None:
        nonlocal pending, pending_rows
        if pending:
            merged = pa.concat_tables(pending).replace_schema_metadata(full_schema.metadata)
            writer.write_table(merged, row_group_size=ROW_GROUP_ROWS)
        pending, pending_rows = [], 0

    with atomic_path(target) as tmp:
        writer = pq.ParquetWriter(tmp, full_schema, compression="zstd", compression_level=3)
        try:
            for table in tables:
                if table.num_rows:
                    pending.append(table)
                    pending_rows += table.num_rows
                    rows += table.num_rows
                    if pending_rows >= ROW_GROUP_ROWS:
                        flush(writer)
            flush(writer)
        finally:
            writer.close()
    return rows


def read_metadata(path: Path) -> dict[str, Any]:
    """The ai-timeline metadata of a Parquet file written by this tool."""
    meta = pq.read_schema(path).metadata or {}
    blob = meta.get(METADATA_KEY)
    if blob is None:
        return {}
    value: dict[str, Any] = json.loads(blob)
    return value


def polars_schema_to_arrow(schema: pl.Schema) -> pa.Schema:
    """The Arrow schema polars writes for ``schema`` (for small side tables such as rejects)."""
    return pl.DataFrame(schema=schema).to_arrow().schema


def read_events(path: Path) -> pl.DataFrame:
    """An events/timeline Parquet file as a canonical polars frame (the map column as key/value lists)."""
    return conform(pl.read_parquet(path))
