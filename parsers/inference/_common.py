"""Helpers shared by the inference parsers: ANSI codes, durations, Python literals, records."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Final

import polars as pl

from timeline.schema import KV_STRUCT

ANSI: Final = r"\x1b\[[0-9;]*[A-Za-z]"

# Go `time.Duration.String()` (1h2m3.5s, 35.68s, 6.2826ms, 512µs, 0s) and Rust `Duration`'s
# Debug form (1.234567s, 12.3ms, 456µs, 12ns) share one grammar.
_DURATION: Final = (
    r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$"
    r"|^(?P<sub>\d+(?:\.\d+)?)(?P<unit>ms|µs|μs|us|ns)$"
)
_SUB_UNIT_MS: Final = {"ms": 1.0, "µs": 1e-3, "μs": 1e-3, "us": 1e-3, "ns": 1e-6}


def strip_ansi(expr: pl.Expr) -> pl.Expr:
    """Remove ANSI colour / style escape sequences."""
    return expr.str.replace_all(ANSI, "")


def duration_ms(expr: pl.Expr) -> pl.Expr:
    """Go / Rust duration text (``1m2.5s``, ``35.68s``, ``6.2ms``, ``456µs``) in milliseconds."""
    text = expr.str.strip_chars().str.strip_chars('"')
    parts = text.str.extract_groups(_DURATION)
    h = parts.struct.field("h").cast(pl.Float64, strict=False)
    m = parts.struct.field("m").cast(pl.Float64, strict=False)
    s = parts.struct.field("s").cast(pl.Float64, strict=False)
    sub = parts.struct.field("sub").cast(pl.Float64, strict=False)
    unit = parts.struct.field("unit").replace_strict(
        _SUB_UNIT_MS, default=None, return_dtype=pl.Float64
    )
    long_form = (
        h.fill_null(0.0) * 3_600_000.0 + m.fill_null(0.0) * 60_000.0 + s.fill_null(0.0) * 1000.0
    )
    has_long = h.is_not_null() | m.is_not_null() | s.is_not_null()
    return (
        pl.when(sub.is_not_null())
        .then(sub * unit)
        .when(has_long)
        .then(long_form)
        .otherwise(None)
        .round(6)  # 35.684791792s -> 35684.791792, not 35684.791791999996
    )


def dynamic_kv(pairs: pl.Expr, key_prefix: str = "") -> pl.Expr:
    """``list[struct{key, value}]`` from a list of ``key=value`` / ``key: value`` strings."""
    key = pl.element().str.extract(r"^\s*([^=:]+?)\s*[=:]", 1)
    value = pl.element().str.extract(r"^\s*[^=:]+?\s*[=:]\s*(.*)$", 1)
    return pairs.list.eval(
        pl.struct(
            key=pl.lit(key_prefix) + key.str.to_lowercase().str.replace_all(r"[^a-z0-9_.]+", "_"),
            value=value,
        )
    ).cast(pl.List(KV_STRUCT))


def empty_kv() -> pl.Expr:
    """An empty attributes list."""
    return pl.lit([], dtype=pl.List(KV_STRUCT))


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` on ``sep`` outside brackets and quotes (for Python/Rust reprs)."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    escaped = False
    current: list[str] = []
    for ch in text:
        if quote is not None:
            current.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return parts


def python_string(literal: str | None) -> str | None:
    """The value of a Python string literal (``'a\\nb'``); None when it is not one."""
    if literal is None or len(literal) < 2 or literal[0] not in "'\"":
        return None
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def keyword_pairs(
    text: str | None, sep: str = "=", skip: Iterable[str] = ("None", "")
) -> list[tuple[str, str]]:
    """``a=1, b='x'`` (or ``a: 1`` with ``sep=':'``) as ordered pairs; values kept as text."""
    if not text:
        return []
    skipped = set(skip)
    out: list[tuple[str, str]] = []
    for part in split_top_level(text):
        key, found, value = part.partition(sep)
        key = key.strip()
        value = value.strip()
        if not found or not key.isidentifier() or value in skipped:
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out.append((key, value))
    return out


def pairs_series(rows: list[list[tuple[str, str]]], prefix: str = "") -> pl.Series:
    """A ``list[struct{key, value}]`` series from Python pairs."""
    return pl.Series(
        [[{"key": prefix + k, "value": v} for k, v in row] for row in rows],
        dtype=pl.List(KV_STRUCT),
    )


def exception_type(expr: pl.Expr) -> pl.Expr:
    """The exception class named by a Python traceback's last line (``torch.OutOfMemoryError: ...``)."""
    return expr.str.extract(
        r"(?m)^\s*((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Failure|Fault|Timeout)\w*)(?::|\s*$)",
        1,
    )


def last_exception_type(lines: pl.Expr) -> pl.Expr:
    """The last exception class named in a list of lines (the one a traceback ends with)."""
    return lines.list.eval(exception_type(pl.element())).list.drop_nulls().list.last()
