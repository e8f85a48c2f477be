"""logfmt ``key=value`` pairs (``level=info msg="a b" dur=1.2ms``), vectorized.

A key starts with a letter or ``_`` and continues with word characters, ``.``, ``-`` or ``/``; it
stands at the start of the text or after a blank. A value is double-quoted (``\\"`` and ``\\\\``
escapes, removed by :func:`timeline.parserkit.text.unquote`) or runs to the next blank.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import polars as pl

from timeline.parserkit.text import QUOTED_RE, unquote
from timeline.schema import KV_STRUCT

KEY_RE: Final = r"[A-Za-z_][\w.\-/]*"
VALUE_RE: Final = rf"(?:{QUOTED_RE}|\S*)"
# One pair, with the blank before it (when not at the start).
PAIR_RE: Final = rf"(?:^|\s){KEY_RE}={VALUE_RE}"


def starts_with_pair(text: pl.Expr) -> pl.Expr:
    """True where the text (after leading blanks) begins with a ``key=`` pair."""
    return text.str.contains(rf"^\s*{KEY_RE}=")


def value(text: pl.Expr, key: str) -> pl.Expr:
    """The value of the first ``key=...`` pair, unquoted; null when the key is absent."""
    raw = text.str.extract(rf"(?:^|\s){re.escape(key)}=({VALUE_RE})", 1)
    return unquote(raw)


def pairs(text: pl.Expr, rename: Mapping[str, str] | None = None) -> pl.Expr:
    """Every pair as ``list[struct{key, value}]`` in text order (values unquoted); keys found
    in ``rename`` are replaced by their new names."""
    # each item split once on its first ``=`` (a key holds none): one pass gives both fields
    split = (
        pl.element()
        .str.strip_chars_start()
        .str.splitn("=", 2)
        .struct.rename_fields(["key", "value"])
    )
    key = pl.field("key").replace(rename) if rename else pl.field("key")
    return (
        text.str.extract_all(PAIR_RE)
        .list.eval(split.struct.with_fields(key, unquote(pl.field("value")).alias("value")))
        .cast(pl.List(KV_STRUCT))
    )


def without_pairs(text: pl.Expr, fill: str = " ") -> pl.Expr:
    """The text with every pair replaced by ``fill`` (what is left between the pairs)."""
    return text.str.replace_all(PAIR_RE, fill)
