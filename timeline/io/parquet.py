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
# zstd level 1: measured on the 100k-request benchmark's events (docs/performance.md, "Cheaper
# writes"), with the dictionary choice below it writes faster than level 3 and is smaller too.
ZSTD_LEVEL: Final = 1
# Dictionary pages only for string columns with few distinct values (in any of the tool's tables):
# a dictionary on ids, messages or hashes is built, found too large and dropped, at a cost.
DICTIONARY_COLUMNS: Final = frozenset(
    {
        "source_file",
        "parser",
        "host",
        "layer",
        "event_type",
        "severity",
        "status",
        "error_type",
        "http_method",
        "http_route",
        "upstream",
        "model",
        "model_revision",
        "provider",
        "prompt_template",
        "prompt_template_version",
        "finish_reason",
        "index_name",
        "index_version",
        "embedding_model",
        "policy_name",
        "policy_version",
        "policy_stage",
        "verdict",
        "correlation_method",
        "reason",
        "failure_reason",
        "blocked_by",
    }
)


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
        writer = pq.ParquetWriter(
            tmp,
            full_schema,
            compression="zstd",
            compression_level=ZSTD_LEVEL,
            use_dictionary=dictionary_columns(schema),
        )
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


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns of ``schema`` written with dictionary pages: low-cardinality strings."""
    return [
        f.name
        for f in schema
        if f.name in DICTIONARY_COLUMNS
        and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    ]


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
