"""OTLP attribute lists (``list[{key, value: AnyValue}]``) as one long frame, vectorized.

:func:`long_attributes` turns an attributes column of any level (resource, scope, span, span
event) into rows ``(owner, pos, key, kind, text, ...)``: one per distinct key of each owner, at the
position of its first occurrence with the value of its last (what a Python ``dict`` built from the
list holds). ``text`` is ``json_text(any_value(value))``; arrays of scalars are written as
``json.dumps`` writes the Python list. ``odd`` marks values only the Python walker reproduces
exactly (key/value lists, nested arrays, non-finite numbers in arrays).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.otel._otlp_values import finite, float_text, int_text, value_kind

LONG_SCHEMA: Final = pl.Schema(
    {
        "owner": pl.UInt32(),
        "pos": pl.UInt32(),
        "key": pl.String(),
        "kind": pl.String(),
        "text": pl.String(),
        "raw": pl.String(),  # the scalar's own text (before int / float normalization)
        "first": pl.String(),  # arrays: json_text of the first element
        "items": pl.List(pl.String()),  # arrays: str() of every element
        "size": pl.UInt32(),  # arrays: number of elements
        "odd": pl.Boolean(),
    }
)


def _quoted(text: pl.Expr) -> pl.Expr:
    """``json.dumps(text, ensure_ascii=False)``."""
    encoded = pl.struct(text.alias("v")).struct.json_encode()
    return encoded.str.slice(5, encoded.str.len_chars() - 6)


def _scalar(value: pl.Expr, kind: pl.Expr, dnum: str) -> tuple[pl.Expr, pl.Expr]:
    """(text before float formatting, raw) of a scalar AnyValue; doubles go to column ``dnum``."""
    f = value.struct.field
    text = (
        pl.when(kind == "s")
        .then(f("stringValue"))
        .when(kind == "b")
        .then(f("boolValue"))
        .when(kind == "i")
        .then(int_text(f("intValue")))
        .when(kind == "y")
        .then(f("bytesValue"))
    )
    raw = pl.coalesce(
        f("stringValue"), f("boolValue"), f("intValue"), f("doubleValue"), f("bytesValue")
    )
    return text, raw


def _with_floats(frame: pl.DataFrame, text: str, dnum: str) -> pl.DataFrame:
    """``text`` filled with Python's float text where ``dnum`` holds a double."""
    if frame.height == 0:
        return frame.drop(dnum)
    floats = float_text(frame.get_column(dnum))
    return frame.with_columns(pl.coalesce(pl.col(text), floats).alias(text)).drop(dnum)


def _arrays(values: pl.DataFrame) -> pl.DataFrame:
    """Per array row (``_i``): its JSON text, first element text, element texts, size, oddness."""
    elems = (
        values.select("_i", pl.col("value").struct.field("arrayValue").struct.field("values"))
        .with_columns(pl.col("values").fill_null(pl.lit([], dtype=pl.List(pl.Null))))
        .explode("values", keep_nulls=True, empty_as_null=True)
        .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("_i").alias("_e"))
    )
    ev = pl.col("values")
    kind = value_kind(ev)
    text, _ = _scalar(ev, kind, "_d")
    elems = elems.with_columns(
        kind.alias("_k"),
        text.alias("_t"),
        pl.when(kind == "d").then(finite(ev.struct.field("doubleValue"))).alias("_d"),
        (
            kind.is_in(["a", "k"])
            | ((kind == "d") & finite(ev.struct.field("doubleValue")).is_null())
        )
        .fill_null(False)
        .alias("_odd"),
        ev.is_null().alias("_none"),
    )
    elems = _with_floats(elems, "_t", "_d")
    k = pl.col("_k")
    t = pl.col("_t")
    as_json = (
        pl.when(k.is_in(["s", "y"]))
        .then(_quoted(t))
        .when(k.is_in(["b", "i", "d"]))
        .then(t.fill_null("null"))
        .otherwise(pl.lit("null"))
    )
    as_str = (
        pl.when(k == "b")
        .then(pl.when(t == "true").then(pl.lit("True")).when(t == "false").then(pl.lit("False")))
        .otherwise(t)
        .fill_null("None")
    )
    real = ~pl.col("_none")
    return elems.group_by("_i", maintain_order=True).agg(
        pl.lit("[").add(as_json.filter(real).str.join(", ")).add(pl.lit("]")).alias("_atext"),
        t.filter(real).first().alias("_afirst"),
        as_str.filter(real).alias("_aitems"),
        real.sum().cast(pl.UInt32).alias("_asize"),
        pl.col("_odd").any().alias("_aodd"),
    )


def long_attributes(frame: pl.DataFrame, owner: str, column: str) -> pl.DataFrame:
    """The attributes of ``frame[column]`` (a list of key/values per ``owner``), long; see the
    module docstring. Rows are ordered by owner, then position."""
    exploded = (
        frame.select(pl.col(owner).cast(pl.UInt32).alias("owner"), pl.col(column).alias("kv"))
        .explode("kv", keep_nulls=True, empty_as_null=True)
        .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("owner").alias("pos"))
        .filter(pl.col("kv").struct.field("key").is_not_null())
        .select(
            "owner", "pos", pl.col("kv").struct.field("key"), pl.col("kv").struct.field("value")
        )
    )
    if exploded.height == 0:
        return pl.DataFrame(schema=LONG_SCHEMA)
    # a dict of the list: the first position of a key, its last value
    if exploded.select(pl.struct("owner", "key").n_unique()).item() < exploded.height:
        exploded = exploded.with_columns(pl.col("pos").min().over("owner", "key").alias("_first"))
        exploded = exploded.unique(["owner", "key"], keep="last", maintain_order=True)
        exploded = exploded.with_columns(pl.col("_first").alias("pos")).drop("_first")
    value = pl.col("value")
    kind = value_kind(value)
    text, raw = _scalar(value, kind, "_d")
    values = exploded.with_row_index("_i").with_columns(
        kind.alias("kind"),
        text.alias("text"),
        raw.alias("raw"),
        pl.when(kind == "d").then(finite(value.struct.field("doubleValue"))).alias("_d"),
    )
    values = _with_floats(values, "text", "_d")
    is_array = pl.col("kind") == "a"
    odd = (pl.col("kind") == "k").alias("odd")
    arrays = values.filter(is_array)
    if arrays.height:
        values = values.join(_arrays(arrays), on="_i", how="left", maintain_order="left")
        values = values.with_columns(
            pl.when(is_array).then(pl.col("_atext")).otherwise(pl.col("text")).alias("text"),
            (odd | pl.col("_aodd").fill_null(False)).alias("odd"),
        ).rename({"_afirst": "first", "_aitems": "items", "_asize": "size"})
    else:
        values = values.with_columns(
            odd,
            pl.lit(None, dtype=pl.String).alias("first"),
            pl.lit(None, dtype=pl.List(pl.String)).alias("items"),
            pl.lit(None, dtype=pl.UInt32).alias("size"),
        )
    return (
        values.select(LONG_SCHEMA.names())
        .cast(LONG_SCHEMA)
        .sort("owner", "pos", maintain_order=True)
    )
