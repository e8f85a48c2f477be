"""Text cleaning expressions: null tokens, blanks, quotes and escapes, terminal colour codes.

Every function takes and returns a polars expression over String values, so parsers stay
vectorized. A value that is missing in the log (``-``, empty, ``null`` ...) becomes null.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import polars as pl

# Texts that mean "no value" in logs.
NULL_TOKENS: Final = ("-", "", "null", "None", "none", "NULL", "nil")

# An ANSI colour / style escape sequence (``docker logs`` of a TTY container keeps them).
ANSI_RE: Final = r"\x1b\[[0-9;]*[A-Za-z]"

# A double-quoted field with backslash escapes (the quotes are part of the match).
QUOTED_RE: Final = r'"(?:[^"\\]|\\.)*"'

# ``service-1  | `` (``docker compose``) and ``2024-04-10 15:01:09 `` (Docker Desktop's log view:
# local time, no zone) before a container's own line; groups ``compose``, ``docker_time``, ``rest``.
CONTAINER_PREFIX_RE: Final = (
    r"^(?:(?P<compose>[A-Za-z0-9][\w.-]*)\s+\|\s?)?"
    r"(?:(?P<docker_time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?: |$))?"
    r"(?P<rest>.*)$"
)


def nullify(expr: pl.Expr, tokens: Iterable[str] = NULL_TOKENS) -> pl.Expr:
    """Null where the text is one of ``tokens`` (``-``, empty, ``null`` ...)."""
    return pl.when(expr.is_in(list(tokens))).then(None).otherwise(expr)


def clean(expr: pl.Expr) -> pl.Expr:
    """Blanks stripped; null for the null tokens (``-``, empty, ``null`` ...)."""
    return nullify(expr.str.strip_chars())


def number(expr: pl.Expr) -> pl.Expr:
    """A Float64 from text; null when the text is not a number."""
    return clean(expr).cast(pl.Float64, strict=False)


def integer(expr: pl.Expr) -> pl.Expr:
    """An Int64 from text that holds an integral number (``200``, ``200.0``); else null."""
    return number(expr).round(0).cast(pl.Int64, strict=False)


def strip_ansi(expr: pl.Expr) -> pl.Expr:
    """Remove ANSI colour / style escape sequences."""
    return expr.str.replace_all(ANSI_RE, "")


def unescape(expr: pl.Expr, quotes: str = '"') -> pl.Expr:
    """Undo backslash escapes of ``quotes`` and of the backslash (``\\"`` -> ``"``, ``\\\\`` -> ``\\``).

    One left-to-right pass, so ``\\\\"`` is an escaped backslash followed by a quote.
    """
    return expr.str.replace_all(rf"\\([{_class(quotes)}\\])", "${1}")


def unquote(expr: pl.Expr, quotes: str = '"') -> pl.Expr:
    """Remove one pair of surrounding quotes (any of ``quotes``, the same at both ends) and undo
    the escapes of the quotes and of the backslash inside; other texts are returned as they are.

    ``quotes="'\""`` reads Python string literals (``'it\'s'``); :func:`quote` is the inverse.
    """
    inner = [expr.str.extract(rf"(?s)^{re.escape(q)}(.*){re.escape(q)}$", 1) for q in quotes]
    return pl.coalesce(*[unescape(i, quotes) for i in inner], expr)


def quote(expr: pl.Expr, mark: str = '"') -> pl.Expr:
    """``expr`` in ``mark`` quotes, backslashes and ``mark`` escaped (the inverse of :func:`unquote`)."""
    escaped = expr.str.replace_all(rf"([{_class(mark)}\\])", r"\${1}")
    return pl.lit(mark) + escaped + pl.lit(mark)


def captures(expr: pl.Expr, pattern: str) -> pl.Expr:
    """The first capture group of every match of ``pattern`` (a list, empty when none)."""
    return (
        expr.str.extract_all(pattern)
        .list.eval(pl.element().str.extract(pattern, 1))
        .fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )


def list_max(values: pl.Expr) -> pl.Expr:
    """The largest number of a list of numeric strings (null when empty)."""
    return values.list.eval(pl.element().cast(pl.Float64, strict=False)).list.max()


def container_prefix(line: pl.Expr) -> pl.Expr:
    """A struct of :data:`CONTAINER_PREFIX_RE`'s groups: ``compose``, ``docker_time``, ``rest``."""
    return line.str.extract_groups(CONTAINER_PREFIX_RE)


def _class(chars: str) -> str:
    """``chars`` escaped for use inside a regex character class."""
    return "".join("\\" + c if c in "\\]^-[" else c for c in chars)
