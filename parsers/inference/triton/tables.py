"""Tables Triton prints with ``LOG_TABLE_INFO`` (``triton::common::TablePrinter``).

A table record is a log line with an empty message followed by ``+---+`` borders and ``| a | b |``
rows: header, border, data rows, border. ``TablePrinter`` wraps a cell that is wider than its
column share (or holds newlines) onto extra row lines whose other cells are blank, so a row line
whose first cell is blank continues the row before it. Column bounds come from the ``+`` of the
first border. The tables printed at startup (core ``server.cc``, ``tritonserver.cc``) are the
server options (``Option | Value``), the repository agents, the backends (``Backend | Path |
Config``) and the models (``Model | Version | Status``).

Tables are few and short, so they are read with a plain loop (a genuinely multi-line record),
once per distinct table: a server prints the same tables at every start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

import polars as pl

from timeline.schema import KV_STRUCT

_BORDER: Final = re.compile(r"^\+[-+]*\+\s*$")
MODEL_HEADER: Final = ("Model", "Version", "Status")
OPTIONS_HEADER: Final = ("Option", "Value")
# Attribute key prefix of the other tables' rows, by header.
_PREFIX: Final = {
    ("Backend", "Path", "Config"): "backend",
    ("Repository Agent", "Path"): "repository_agent",
    ("GRPC KeepAlive Option", "Value"): "grpc_keepalive",
}
ROW_SCHEMA: Final = pl.Schema(
    {
        "source_line": pl.Int64(),
        "row": pl.Int64(),
        "table": pl.String(),
        "table_model": pl.String(),
        "table_version": pl.String(),
        "table_state": pl.String(),
        "table_reason": pl.String(),
        "table_message": pl.String(),
        "table_attrs": pl.List(KV_STRUCT),
    }
)


@dataclass(frozen=True)
class Table:
    """A parsed table: header cells and data rows (wrapped lines joined back)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _pieces(line: str, cuts: list[int]) -> list[str]:
    """The text between each pair of column bounds, without the one-space padding either side."""
    out = []
    for left, right in pairwise(cuts):
        segment = line[left + 1 : right]
        out.append(segment[1:-1] if len(segment) >= 2 else segment.strip())
    return out


def _join(pieces: list[str], width: int) -> str:
    """One cell from its pieces. TablePrinter cuts a long line into pieces of exactly the column
    width, so a piece that reaches the width (or all but its last character, which may be a
    space of the text) continues on the next line without a newline; a shorter piece ended a
    line of the cell."""
    text = ""
    full = False
    for index, piece in enumerate(pieces):
        if index == 0 or full:
            text += piece
        else:
            text = text.rstrip(" ") + "\n" + piece
        full = len(piece.rstrip(" ")) >= width - 1
    return "\n".join(line.rstrip(" ") for line in text.split("\n")).strip("\n")


def _assemble(lines: list[list[str]], widths: list[int]) -> tuple[str, ...]:
    return tuple(_join([line[col] for line in lines], widths[col]) for col in range(len(widths)))


def parse_table(lines: list[str]) -> Table | None:
    """The table in ``lines`` (borders and rows), or None when there is no border to read."""
    border = next((line for line in lines if _BORDER.match(line)), None)
    if border is None:
        return None
    cuts = [i for i, ch in enumerate(border.rstrip()) if ch == "+"]
    if len(cuts) < 2:
        return None
    widths = [right - left - 3 for left, right in pairwise(cuts)]
    borders = 0
    header: list[list[str]] = []
    rows: list[list[list[str]]] = []
    for line in lines:
        if _BORDER.match(line):
            borders += 1
            continue
        pieces = _pieces(line.rstrip(), cuts)
        if len(pieces) < len(widths):
            pieces += [""] * (len(widths) - len(pieces))
        if borders <= 1:
            header.append(pieces)
        elif rows and not pieces[0].strip():
            rows[-1].append(pieces)
        else:
            rows.append([pieces])
    return Table(
        header=_assemble(header, widths) if header else (),
        rows=tuple(_assemble(row, widths) for row in rows),
    )


def _model_rows(source_line: int, table: Table) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for index, (model, version, status) in enumerate(r[:3] for r in table.rows if len(r) >= 3):
        state, _, reason = status.partition(": ")
        out.append(
            {
                "source_line": source_line,
                "row": index,
                "table": "models",
                "table_model": model or None,
                "table_version": None if version in ("", "-") else version,
                "table_state": state,
                "table_reason": reason or None,
                "table_message": f"model {model} version {version}: {status.splitlines()[0] if status else ''}",
                "table_attrs": [],
            }
        )
    return out


def _kv_rows(source_line: int, table: Table) -> list[dict[str, object]]:
    if table.header == OPTIONS_HEADER:
        name, prefix = "options", "option"
    else:
        name = _PREFIX.get(table.header, "table")
        prefix = name
    attrs = [
        {"key": f"{prefix}.{row[0]}", "value": " | ".join(row[1:])}
        for row in table.rows
        if row and row[0]
    ]
    heading = " | ".join(table.header)
    return [
        {
            "source_line": source_line,
            "row": 0,
            "table": name,
            "table_model": None,
            "table_version": None,
            "table_state": None,
            "table_reason": None,
            "table_message": f"{heading} table ({len(table.rows)} rows)" if heading else "table",
            "table_attrs": attrs,
        }
    ]


def table_rows(source_lines: list[int], bodies: list[list[str] | None]) -> pl.DataFrame:
    """Rows for the events of table records: one per model of a model table, else one per table."""
    out: list[dict[str, object]] = []
    for source_line, body in zip(source_lines, bodies, strict=True):
        table = parse_table(body or [])
        if table is None:
            out += _kv_rows(source_line, Table(header=(), rows=()))
        elif table.header == MODEL_HEADER and table.rows:
            out += _model_rows(source_line, table)
        else:
            out += _kv_rows(source_line, table)
    return pl.DataFrame(out, schema=ROW_SCHEMA)


def table_frame(tables: pl.DataFrame) -> pl.DataFrame:
    """:func:`table_rows` of the table records of ``tables`` (``source_line``, ``cont_lines``),
    each distinct table body read once; ordered by ``source_line`` and ``row``."""
    bodies = tables.group_by("cont_lines", maintain_order=True).agg(pl.col("source_line"))
    distinct = table_rows(
        list(range(bodies.height)), bodies.get_column("cont_lines").to_list()
    ).rename({"source_line": "_body"})
    placed = (
        bodies.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("_body"), "source_line")
        .explode("source_line")
        .join(distinct, on="_body", how="inner")
        .sort("source_line", "row")
    )
    return placed.select(ROW_SCHEMA.names())
