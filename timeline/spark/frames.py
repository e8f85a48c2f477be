"""Frames between polars and Spark: Arrow record batches, and whole frames as Arrow IPC cells.

Spark moves flat columns (ids, times, strings) as Arrow record batches (``mapInArrow``); a
partition's frames with nested columns (the full events, the parsed parts) travel as one binary
cell of Arrow IPC (lz4), so no Spark type conversion ever touches them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Final

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc

_IPC_OPTIONS: Final = ipc.IpcWriteOptions(compression="lz4")

# The schema of a cell stream: which partition (or file) and piece it belongs to, and the bytes.
BLOB_DDL: Final = "key long, seq long, kind string, payload binary"
BLOB_SCHEMA: Final = pa.schema(
    [
        ("key", pa.int64()),
        ("seq", pa.int64()),
        ("kind", pa.string()),
        ("payload", pa.binary()),
    ]
)


def table_bytes(table: pa.Table) -> bytes:
    """``table`` as an Arrow IPC stream (lz4)."""
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema, options=_IPC_OPTIONS) as writer:
        writer.write_table(table)
    return sink.getvalue()


def bytes_table(payload: bytes) -> pa.Table:
    """The table :func:`table_bytes` wrote."""
    with ipc.open_stream(pa.py_buffer(payload)) as reader:
        return reader.read_all()


def frame_bytes(frame: pl.DataFrame) -> bytes:
    """A polars frame as Arrow IPC bytes (its polars types survive the round trip)."""
    sink = io.BytesIO()
    frame.write_ipc(sink, compression="lz4")
    return sink.getvalue()


def bytes_frame(payload: bytes) -> pl.DataFrame:
    """The frame :func:`frame_bytes` wrote."""
    return pl.read_ipc(io.BytesIO(payload))


def blob_batch(rows: Iterable[tuple[int, int, str, bytes]]) -> pa.RecordBatch:
    """Cells (key, seq, kind, payload) as one record batch of :data:`BLOB_SCHEMA`."""
    keys, seqs, kinds, payloads = [], [], [], []
    for key, seq, kind, payload in rows:
        keys.append(key)
        seqs.append(seq)
        kinds.append(kind)
        payloads.append(payload)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(keys, pa.int64()),
            pa.array(seqs, pa.int64()),
            pa.array(kinds, pa.string()),
            pa.array(payloads, pa.binary()),
        ],
        schema=BLOB_SCHEMA,
    )


def _flat_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        return pa.binary()
    return kind


def to_batches(frame: pl.DataFrame, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """A flat polars frame as record batches of ``schema`` (Spark's view of the columns)."""
    table = frame.select(schema.names).to_arrow()
    table = table.cast(pa.schema([pa.field(f.name, _flat_type(f.type)) for f in table.schema]))
    yield from table.cast(schema).to_batches(max_chunksize=64 * 1024)


def from_batches(batches: Iterable[pa.RecordBatch], schema: pl.Schema) -> pl.DataFrame:
    """Record batches from Spark as one polars frame of ``schema`` (empty when there are none)."""
    tables = [pa.Table.from_batches([b]) for b in batches if b.num_rows]
    if not tables:
        return pl.DataFrame(schema=schema)
    frame = pl.from_arrow(pa.concat_tables(tables))
    assert isinstance(frame, pl.DataFrame)
    return frame.select(schema.names()).cast(schema)


def arrow_schema(schema: pl.Schema) -> pa.Schema:
    """The flat Arrow schema (plain strings, UTC microseconds) Spark exchanges for ``schema``."""
    fields = []
    for name, dtype in schema.items():
        kind = pl.DataFrame(schema={name: dtype}).to_arrow().schema.field(name).type
        fields.append(pa.field(name, _flat_type(kind)))
    return pa.schema(fields)


def spark_ddl(schema: pl.Schema) -> str:
    """A Spark DDL string for a flat polars schema (what ``mapInArrow`` is told it returns)."""
    names: dict[type[pl.DataType], str] = {
        pl.Int8: "tinyint",
        pl.Int16: "smallint",
        pl.Int32: "int",
        pl.Int64: "long",
        pl.Float64: "double",
        pl.Float32: "float",
        pl.Boolean: "boolean",
        pl.String: "string",
        pl.Binary: "binary",
    }
    parts = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Datetime):
            kind = "timestamp"
        else:
            found = names.get(dtype.base_type())
            if found is None:
                raise TypeError(f"column {name!r}: {dtype} has no flat Spark type")
            kind = found
        parts.append(f"`{name}` {kind}")
    return ", ".join(parts)
