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


def kv_column(
    frame: pl.DataFrame,
    pairs: Mapping[str, pl.Expr],
    lists: Sequence[pl.Expr] = (),
    name: str = "attributes",
) -> pl.Series:
    """Per row of ``frame``, :func:`kv_list` of ``pairs`` followed by the items of ``lists``
    (``list[struct{key, value}]`` expressions; a null list counts as empty, null items are left
    out): the same values as ``kv_list`` and :func:`timeline.parserkit.text.concat_lists`.

    Built long in one pass: each key's non-null values are taken where they are (no unpivot of
    rows x keys, keys null on every row cost one null count), the lists exploded, and the whole
    grouped back once per row; a group keeps its items in the order they were concatenated."""
    dtype = pl.List(KV_STRUCT)
    height = frame.height
    keys = list(pairs)
    values = frame.select(
        *[expr.cast(pl.String).alias(f"_p{i}") for i, expr in enumerate(pairs.values())],
        *[lst.cast(dtype).alias(f"_l{i}") for i, lst in enumerate(lists)],
    )
    parts: list[pl.LazyFrame] = []
    for i, key in enumerate(keys):
        column = values.get_column(f"_p{i}")
        if column.null_count() == height:
            continue
        parts.append(
            column.to_frame("value")
            .lazy()
            .with_row_index("_row")
            .filter(pl.col("value").is_not_null())
            .select("_row", pl.struct(key=pl.lit(key, dtype=pl.String), value="value").alias("_v"))
        )
    for i in range(len(lists)):
        column = values.get_column(f"_l{i}")
        if column.null_count() == height:
            continue
        parts.append(
            column.to_frame("_v")
            .lazy()
            .with_row_index("_row")
            .filter(pl.col("_v").list.len() > 0)
            .explode("_v")
            .filter(pl.col("_v").is_not_null())
        )
    empty = pl.lit([], dtype=dtype)
    if not parts:
        rows = pl.int_range(height, eager=True, dtype=pl.UInt32).alias("_row").to_frame()
        return rows.with_columns(empty.alias(name)).get_column(name)
    # a group keeps its items in concatenation order; the groups go back by position (each
    # row's group number scattered into a null index per row, then one gather), which costs
    # less than a join on the row number; one chunk: a gather from a many-chunk list column
    # costs several times as much
    grouped = pl.concat(parts).group_by("_row").agg(pl.col("_v")).collect().rechunk()
    pos = pl.select(pl.repeat(None, height, dtype=pl.UInt32)).to_series()
    pos = pos.scatter(
        grouped.get_column("_row"), pl.int_range(grouped.height, eager=True, dtype=pl.UInt32)
    )
    items = grouped.get_column("_v").cast(dtype).gather(pos)
    return items.to_frame(name).select(pl.col(name).fill_null(empty).cast(dtype)).get_column(name)


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
