"""SQL over a built OUTDIR: tables ``events``, ``timeline``, ``requests`` and ``rejects``.

Two engines read the same Parquet files:

* polars SQL (the default): lazy scans. ``attributes`` (a map in the Parquet) is shown as a struct
  with one field per key found in the table, so that ``attributes.user_agent`` (or
  ``attributes->>'user-agent'``) reads one key; an event without the key has null there.
* DuckDB (``engine="duckdb"``, when it is installed): ``attributes`` stays a map
  (``attributes['user_agent']``). The connection has no access to files beyond the four tables.

Either way the query must be one read-only statement: ``COPY``, ``ATTACH``, ``INSTALL``, ``SET``,
``PRAGMA``, several statements and the like are refused before anything runs.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import Any, Final

import polars as pl
import pyarrow.dataset as pads

from timeline.analyze.load import require_timeline
from timeline.correlation.show import visible
from timeline.errors import ConfigError, InputError
from timeline.io.atomic import atomic_path
from timeline.layout import EVENTS, REJECTS, REQUESTS, TIMELINE

TABLES: Final = {
    "events": EVENTS,
    "timeline": TIMELINE,
    "requests": REQUESTS,
    "rejects": REJECTS,
}
ENGINES: Final = ("polars", "duckdb")
FORMATS: Final = ("table", "csv", "json", "parquet")
MAP_COLUMN: Final = "attributes"
CELL_WIDTH: Final = 40  # a table cell longer than this is cut, with "…"
# The first word of a statement that only reads.
READ_ONLY: Final = frozenset(
    {"select", "with", "from", "values", "table", "show", "describe", "summarize", "explain"}
)
# Statements that write, load or reconfigure: named in the refusal.
WRITERS: Final = frozenset(
    {
        "ALTER",
        "ATTACH",
        "BEGIN",
        "CALL",
        "CHECKPOINT",
        "COMMIT",
        "COPY",
        "CREATE",
        "DELETE",
        "DETACH",
        "DROP",
        "EXECUTE",
        "EXPORT",
        "IMPORT",
        "INSERT",
        "INSTALL",
        "LOAD",
        "MERGE",
        "PRAGMA",
        "PREPARE",
        "RESET",
        "ROLLBACK",
        "SET",
        "TRUNCATE",
        "UPDATE",
        "USE",
        "VACUUM",
    }
)
_FIRST_WORD = re.compile(r"[A-Za-z_]+")
_MENTIONS_MAP = re.compile(r"attributes|\*", re.IGNORECASE)


def _code_only(sql: str) -> str:
    """``sql`` with string literals, quoted names and comments blanked out (for the checks)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # '' inside a literal
                        end += 2
                        continue
                    break
                end += 1
            out.append(" ")
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def check_read_only(sql: str) -> None:
    """Refuse anything but one read-only statement (SELECT, WITH, FROM, VALUES, SHOW, ...)."""
    code = _code_only(sql).strip().rstrip(";").strip()
    if not code:
        raise ConfigError("the query is empty; e.g. SELECT * FROM requests LIMIT 10")
    if ";" in code:
        raise ConfigError("the query holds several statements; run one statement at a time")
    first = _FIRST_WORD.match(code)
    word = first.group(0).upper() if first else code.split()[0]
    if word.lower() in READ_ONLY:
        return
    allowed = ", ".join(sorted(w.upper() for w in READ_ONLY))
    if word in WRITERS:
        raise ConfigError(
            f"{word} statements are refused: `timeline query` only reads (start with {allowed})"
        )
    raise ConfigError(f"the query failed: a statement starts with {allowed}, not {visible(word)!r}")


def _available(outdir: Path) -> dict[str, Path]:
    if not (outdir / EVENTS).is_file():
        require_timeline(outdir)  # the message says how to make the folder
    # A correlated build writes its events once, as the timeline: ``events`` then names it too.
    fallback = {"events": TIMELINE}
    found = {}
    for name, file in TABLES.items():
        for candidate in (file, fallback.get(name, file)):
            if (outdir / candidate).is_file():
                found[name] = outdir / candidate
                break
    return found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def attributes_as_struct(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``attributes`` (a map) as a struct with one field per key present in ``frame``.

    polars SQL cannot index a map, but reads a struct field (``attributes.user_agent``,
    ``attributes->>'user-agent'``). One pass over the column finds the keys. Accepts the map as
    polars reads it from Parquet or as key/value pairs; a key repeated on one event keeps its first
    value.
    """
    schema = frame.collect_schema()
    if MAP_COLUMN not in schema.names():
        return frame
    column = pl.col(MAP_COLUMN)
    if isinstance(schema[MAP_COLUMN], pl.Map):
        pairs = column.map.entries()
    else:
        pairs = column.cast(pl.List(pl.Struct({"key": pl.String, "value": pl.String})))
    keys = (
        frame.select(pairs.explode().struct.field("key").alias("key"))
        .drop_nulls()
        .unique()
        .sort("key")
        .collect()["key"]
        .to_list()
    )
    element = pl.element()
    fields = [
        pairs.list.eval(element.filter(element.struct.field("key") == key).struct.field("value"))
        .list.first()
        .alias(key)
        for key in keys
        if key
    ]
    struct = pl.struct(fields) if fields else pl.lit(None, dtype=pl.Struct([]))
    return frame.with_columns(struct.alias(MAP_COLUMN))


def run_query(outdir: Path, sql: str) -> pl.DataFrame:
    """Run ``sql`` with polars' SQLContext over lazy scans of the OUTDIR's Parquet files."""
    check_read_only(sql)
    paths = _available(outdir)
    wants_map = bool(_MENTIONS_MAP.search(sql))
    frames: dict[str, pl.LazyFrame] = {}
    for name, path in paths.items():
        frame = pl.scan_parquet(path)
        frames[name] = attributes_as_struct(frame) if wants_map else frame
    ctx = pl.SQLContext(frames=frames)
    try:
        return ctx.execute(sql).collect()
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        first = _first_line(exc).split("; valid columns")[0]
        raise ConfigError(f"the query failed: {first}; tables: {', '.join(frames)}") from None


def run_duckdb(outdir: Path, sql: str) -> pl.DataFrame:
    """Run ``sql`` with DuckDB over the OUTDIR's tables; no other file is reachable."""
    check_read_only(sql)
    paths = _available(outdir)
    try:
        import duckdb  # optional: only --duckdb needs it
    except ImportError:
        raise InputError(
            "--duckdb needs DuckDB: pip install duckdb (or run the query with polars SQL, "
            "without --duckdb)"
        ) from None
    con = duckdb.connect(":memory:")
    try:
        for name, path in paths.items():
            con.register(name, pads.dataset(path, format="parquet"))
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        try:
            result = con.sql(sql)
            table = result.arrow() if result is not None else None
        except duckdb.Error as exc:
            raise ConfigError(
                f"the query failed: {_first_line(exc)}; tables: {', '.join(paths)}"
            ) from None
    finally:
        con.close()
    if table is None:
        return pl.DataFrame()
    if hasattr(table, "read_all"):  # newer DuckDB returns a record batch reader
        table = table.read_all()
    frame = pl.from_arrow(table)
    return frame if isinstance(frame, pl.DataFrame) else frame.to_frame()


def _plain(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return value


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts; in ``attributes`` only the keys the event has (the struct has them all)."""
    rows = frame.to_dicts()
    if MAP_COLUMN in frame.columns and isinstance(frame.schema[MAP_COLUMN], pl.Struct):
        for row in rows:
            if row[MAP_COLUMN] is not None:
                row[MAP_COLUMN] = {k: v for k, v in row[MAP_COLUMN].items() if v is not None}
    return rows


def to_csv(frame: pl.DataFrame) -> str:
    """CSV with a header; nested values as JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in _rows(frame):
        writer.writerow(["" if v is None else _plain(v) for v in row.values()])
    return buffer.getvalue()


def to_json(frame: pl.DataFrame) -> str:
    """A JSON array of row objects."""
    return json.dumps(_rows(frame), default=str, ensure_ascii=False, indent=2) + "\n"


def _width(text: str) -> int:
    """Terminal columns ``text`` takes (wide East Asian characters count 2, combining ones 0)."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _cut(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        step = _width(char)
        if used + step > width - 1:
            break
        out.append(char)
        used += step
    return "".join(out) + "…"


def cells(frame: pl.DataFrame, width: int | None = None) -> list[list[str]]:
    """Every cell as one line of text for a terminal: control characters shown as escapes
    (``\\x1b``, ``\\n``), nested values as JSON, cut to ``width`` columns when given."""
    rows = []
    for row in _rows(frame):
        texts = [visible("" if v is None else str(_plain(v))) for v in row.values()]
        rows.append(texts if width is None else [_cut(t, width) for t in texts])
    return rows


def to_table(frame: pl.DataFrame, width: int = CELL_WIDTH) -> str:
    """A plain-text table: one line per row, columns aligned, wide cells cut to ``width``, then
    ``N rows``. Numbers are right-aligned."""
    header = [_cut(visible(name), width) for name in frame.columns]
    body = cells(frame, width)
    widths = [
        max([_width(header[i]), *(_width(row[i]) for row in body)]) for i in range(len(header))
    ]
    numeric = [dtype.is_numeric() for dtype in frame.dtypes]

    def line(texts: list[str]) -> str:
        parts = []
        for text, size, right in zip(texts, widths, numeric, strict=True):
            pad = " " * (size - _width(text))
            parts.append(pad + text if right else text + pad)
        return "  ".join(parts).rstrip()

    out = [line(header), "  ".join("-" * size for size in widths)] if header else []
    out += [line(row) for row in body]
    out.append(f"{frame.height} row" + ("" if frame.height == 1 else "s"))
    return "\n".join(out) + "\n"


def write_parquet(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` (zstd Parquet), atomically."""
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, compression="zstd")
    return path
