"""Expression helpers shared by the gateway parsers (access logs of proxies and LLM gateways)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import polars as pl

from timeline.parserkit.api import MARK_SCHEMA
from timeline.parserkit.frame import kv_list, nullify
from timeline.parserkit.jsonpaths import decode_paths, jp
from timeline.parserkit.spec.readers import json_path

# One address: IPv4 (optional port), IPv6 (optionally bracketed, optional port), or "unknown".
IP_RE: Final = (
    r"(?:\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?"
    r"|\[?[0-9A-Fa-f]*:[0-9A-Fa-f:.]*\]?(?::\d+)?"
    r"|unknown)"
)
# A comma-separated list of addresses, as X-Forwarded-For carries it.
IP_LIST_RE: Final = rf"{IP_RE}(?:\s*,\s*{IP_RE})*"
# A double-quoted field with backslash escapes (the quotes are part of the match).
QUOTED_RE: Final = r'"(?:[^"\\]|\\.)*"'


def text(expr: pl.Expr) -> pl.Expr:
    """Strip blanks; null for the null tokens (``-``, empty, ``null`` ...)."""
    return nullify(expr.str.strip_chars())


def number(expr: pl.Expr) -> pl.Expr:
    """A Float64 from text; null when the text is not a number."""
    return text(expr).cast(pl.Float64, strict=False)


def integer(expr: pl.Expr) -> pl.Expr:
    """An Int64 from text that holds an integral number (``200``, ``200.0``); else null."""
    return number(expr).round(0).cast(pl.Int64, strict=False)


def route(target: pl.Expr) -> pl.Expr:
    """The path of a request target: the query (``?...``) and fragment removed; null when empty."""
    return text(target.str.replace(r"[?#].*$", ""))


def query(target: pl.Expr) -> pl.Expr:
    """The query string of a request target (without ``?``), or null."""
    return text(target.str.extract(r"\?([^#]*)", 1))


def first_hop(addresses: pl.Expr) -> pl.Expr:
    """The first address of an X-Forwarded-For style list (``"a, b, c"`` -> ``a``)."""
    return text(addresses.str.extract(r'^[\s"]*([^\s,"]+)', 1))


def unquote(expr: pl.Expr) -> pl.Expr:
    """Remove one pair of surrounding double quotes and undo ``\\"`` / ``\\\\`` escapes."""
    quoted = expr.str.starts_with('"') & expr.str.ends_with('"') & (expr.str.len_chars() >= 2)
    inner = expr.str.slice(1, expr.str.len_chars() - 2).str.replace_all(r'\\(["\\])', "${1}")
    return pl.when(quoted).then(inner).otherwise(expr)


def key_path(key: str) -> str:
    """The JSONPath of top-level ``key`` (``$['key']``, quotes and backslashes escaped)."""
    segment = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"$['{segment}']"


def json_field(line: pl.Expr, key: str) -> pl.Expr:
    """The value of top-level ``key`` of a JSON line as text (numbers too); null when absent."""
    return line.str.json_path_match(key_path(key))


def decoded_fields(lines: pl.DataFrame, keys: Iterable[str]) -> pl.DataFrame:
    """``lines`` plus the text of each top-level key (columns :func:`field`, one JSON decode per
    line for all of them) and :func:`whole` (the compacted line, null when it is not JSON)."""
    paths = sorted({key_path(k) for k in keys})
    return pl.concat([lines, decode_paths(lines.get_column("line"), paths)], how="horizontal")


def field(key: str) -> pl.Expr:
    """The decoded text of top-level ``key`` (see :func:`decoded_fields`)."""
    return jp(key_path(key))


def whole() -> pl.Expr:
    """The decoded line (see :func:`decoded_fields`): null when it is not valid JSON."""
    return jp("$")


def decoded_object(line: pl.Expr) -> pl.Expr:
    """:func:`is_json_object` from the columns :func:`decoded_fields` added."""
    return (line.str.strip_chars_start().str.starts_with("{") & whole().is_not_null()).fill_null(
        False
    )


def json_dotted(line: pl.Expr, source: str) -> pl.Expr:
    """The value at a dotted path (``a.b.0``) of a JSON line as text."""
    return line.str.json_path_match(json_path(source))


def is_json_object(line: pl.Expr) -> pl.Expr:
    """True where the line is one complete JSON object."""
    return (
        line.str.strip_chars_start().str.starts_with("{")
        & line.str.json_path_match("$").is_not_null()
    ).fill_null(False)


def attributes(pairs: Mapping[str, pl.Expr], *more: pl.Expr) -> pl.Expr:
    """``kv_list`` of the non-null values, followed by extra key/value lists."""
    base = kv_list({k: text(v.cast(pl.String)) for k, v in pairs.items()})
    if not more:
        return base
    return pl.concat_list(base, *more)


def empty_marks() -> pl.DataFrame:
    """An empty rejects / skipped frame."""
    return pl.DataFrame(schema=MARK_SCHEMA)


def mark_rows(rows: Iterable[tuple[int, str]]) -> pl.DataFrame:
    """A rejects / skipped frame from (source_line, reason) pairs."""
    items = list(rows)
    return pl.DataFrame(
        {"source_line": [r[0] for r in items], "reason": [r[1] for r in items]},
        schema=MARK_SCHEMA,
    )
