"""Key/value attribute lists (``list[struct{key, value}]``, the ``attributes`` column)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from timeline.parserkit.text import clean
from timeline.parserkit.wide import pairs_expr
from timeline.schema import KV_STRUCT


def kv_list(pairs: Mapping[str, pl.Expr]) -> pl.Expr:
    """A ``list[struct{key, value}]`` of the non-null values, in the given key order.

    Built long and grouped back (:func:`timeline.parserkit.wide.pairs_expr`), not as a
    ``concat_list`` of one struct per key: the cost follows the values present."""
    if not pairs:
        return empty_kv()
    return pairs_expr(pairs, "key")


def attributes(pairs: Mapping[str, pl.Expr], *more: pl.Expr) -> pl.Expr:
    """:func:`kv_list` of the values as text, blanks stripped and null tokens left out,
    followed by further key/value lists (``more``)."""
    base = kv_list({k: clean(v.cast(pl.String)) for k, v in pairs.items()})
    return pl.concat_list(base, *more) if more else base


def empty_kv() -> pl.Expr:
    """An empty attributes list."""
    return pl.lit([], dtype=pl.List(KV_STRUCT))


def dynamic_kv(pairs: pl.Expr, key_prefix: str = "") -> pl.Expr:
    """Attributes from a list of ``key=value`` / ``key: value`` strings; keys lowercased, runs of
    characters other than ``[a-z0-9_.]`` replaced by ``_``, ``key_prefix`` prepended."""
    key = pl.element().str.extract(r"^\s*([^=:]+?)\s*[=:]", 1)
    value = pl.element().str.extract(r"^\s*[^=:]+?\s*[=:]\s*(.*)$", 1)
    return pairs.list.eval(
        pl.struct(
            key=pl.lit(key_prefix) + key.str.to_lowercase().str.replace_all(r"[^a-z0-9_.]+", "_"),
            value=value,
        )
    ).cast(pl.List(KV_STRUCT))


def pairs_series(rows: Sequence[Sequence[tuple[str, str]]], prefix: str = "") -> pl.Series:
    """An attributes series from Python ``(key, value)`` pairs, one list per row."""
    return pl.Series(
        [[{"key": prefix + k, "value": v} for k, v in row] for row in rows],
        dtype=pl.List(KV_STRUCT),
    )
