"""OTLP attribute lists (``list[{key, value: AnyValue}]``) as one long frame, vectorized.

:func:`long_attributes` turns an attributes column of any level (resource, scope, span, span
event) into rows ``(owner, pos, key, kind, text, ...)``: one per distinct key of each owner, at the
position of its first occurrence with the value of its last (what a Python ``dict`` built from the
list holds). ``text`` is ``json_text(any_value(value))``; arrays of scalars are written as
``json.dumps`` writes the Python list. ``odd`` marks values only the Python walker reproduces
exactly (key/value lists, nested arrays, non-finite numbers in arrays).

Integer and double texts are computed on the rows that hold one only (most rows hold strings).
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


def _texts(frame: pl.DataFrame, value: str, kind: str) -> pl.Series:
    """``json_text`` of the scalar AnyValue in column ``value`` (its kind in column ``kind``):
    strings, booleans and bytes as written, integers normalized (:func:`int_text`), finite
    doubles as Python writes them; null for other kinds. Integers and doubles are converted on
    their own rows only."""
    field = pl.col(value).struct.field
    kinds = frame.get_column(kind)
    text = frame.select(
        pl.when(pl.col(kind) == "s")
        .then(field("stringValue"))
        .when(pl.col(kind) == "b")
        .then(field("boolValue"))
        .when(pl.col(kind) == "y")
        .then(field("bytesValue"))
    ).to_series()
    for code, convert in (("i", _int_texts), ("d", _double_texts)):
        where = (kinds == code).fill_null(False).arg_true()
        if where.len():
            text = text.scatter(where, convert(frame.get_column(value).gather(where)))
    return text


def _int_texts(values: pl.Series) -> pl.Series:
    return values.to_frame("v").select(int_text(pl.col("v").struct.field("intValue"))).to_series()


def _double_texts(values: pl.Series) -> pl.Series:
    numbers = values.to_frame("v").select(finite(pl.col("v").struct.field("doubleValue")))
    return float_text(numbers.to_series())


def _arrays(values: pl.DataFrame) -> pl.DataFrame:
    """Per array row (``_i``): its JSON text, first element text, element texts, size, oddness."""
    elems = (
        values.select("_i", pl.col("value").struct.field("arrayValue").struct.field("values"))
        .with_columns(pl.col("values").fill_null(pl.lit([], dtype=pl.List(pl.Null))))
        # a null element (``[null]`` is not ``[]`` once exploded): only the walker writes it
        .with_columns(pl.col("values").list.eval(pl.element().is_null()).list.any().alias("_hole"))
        .explode("values", keep_nulls=True, empty_as_null=True)
    )
    ev = pl.col("values")
    elems = elems.with_columns(value_kind(ev).alias("_k"), ev.is_null().alias("_none"))
    k = pl.col("_k")
    elems = elems.with_columns(
        pl.lit(_texts(elems, "values", "_k")).alias("_t"),
        (k.is_in(["a", "k"]) | ((k == "d") & finite(ev.struct.field("doubleValue")).is_null()))
        .fill_null(False)
        .alias("_odd"),
    )
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
        (pl.col("_odd").any() | pl.col("_hole").first().fill_null(False)).alias("_aodd"),
    )


def long_attributes(frame: pl.DataFrame, owner: str, column: str) -> pl.DataFrame:
    """The attributes of ``frame[column]`` (a list of key/values per ``owner``), long; see the
    module docstring. Rows are ordered by owner, then position."""
    kv = pl.col(column)
    exploded = (
        frame.select(
            pl.col(owner).cast(pl.UInt32).alias("owner"),
            kv.alias("kv"),
            pl.int_ranges(0, kv.list.len(), dtype=pl.UInt32).alias("pos"),
        )
        .explode(["kv", "pos"], keep_nulls=True, empty_as_null=True)
        .filter(pl.col("kv").struct.field("key").is_not_null())
        .select(
            "owner", "pos", pl.col("kv").struct.field("key"), pl.col("kv").struct.field("value")
        )
    )
    if exploded.height == 0:
        return pl.DataFrame(schema=LONG_SCHEMA)
    ordered = bool(frame.get_column(owner).is_sorted())
    # a dict of the list: the first position of a key, its last value (hashes first: a
    # collision only sends a list without repeats through the exact step)
    if exploded.select(pl.struct("owner", "key").hash().n_unique()).item() < exploded.height:
        exploded = exploded.with_columns(pl.col("pos").min().over("owner", "key").alias("_first"))
        exploded = exploded.unique(["owner", "key"], keep="last", maintain_order=True)
        exploded = exploded.with_columns(pl.col("_first").alias("pos")).drop("_first")
        ordered = False
    values = exploded.with_row_index("_i").with_columns(value_kind(pl.col("value")).alias("kind"))
    values = values.with_columns(pl.lit(_texts(values, "value", "kind")).alias("text"))
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
    values = values.select(LONG_SCHEMA.names()).cast(LONG_SCHEMA)
    return values if ordered else values.sort("owner", "pos", maintain_order=True)
