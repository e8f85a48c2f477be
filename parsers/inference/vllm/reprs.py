"""Python-literal payloads in server logs (prompt / output reprs, ``SamplingParams(...)``), read
at column speed.

:func:`timeline.parserkit.pyrepr.python_string` and :func:`~timeline.parserkit.pyrepr.keyword_pairs`
are Python calls; here they run once per *distinct* text of the rows that need them, and the
common case of a string literal without escapes is read by polars directly (its value is the text
between the quotes, exactly what ``ast.literal_eval`` returns). The results equal the Python
helpers applied row by row.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from timeline.parserkit.pyrepr import MAX_LITERAL_CHARS, keyword_pairs, python_string
from timeline.schema import KV_STRUCT

_KV_LIST = pl.List(KV_STRUCT)


def _plain_literal(text: pl.Expr) -> pl.Expr:
    """True where ``text`` is one quoted literal (``'...'`` or ``"..."``) whose inside holds no
    backslash, no quote of its kind, no line break and no NUL: its value is the inside as it is."""
    first = text.str.slice(0, 1)
    inner = text.str.slice(1, text.str.len_chars() - 2)
    return (
        (text.str.len_chars() >= 2)
        & (text.str.len_chars() <= MAX_LITERAL_CHARS)
        & first.is_in(["'", '"'])
        & text.str.ends_with(first)
        & ~inner.str.contains(r"[\\\r\n\x00]")
        & ~inner.str.contains(first, literal=True)
    )


def python_strings(values: pl.Series) -> pl.Series:
    """:func:`~timeline.parserkit.pyrepr.python_string` of every value (null stays null)."""
    frame = values.rename("text").to_frame()
    plain = _plain_literal(pl.col("text")).fill_null(False)
    inner = pl.col("text").str.slice(1, pl.col("text").str.len_chars() - 2)
    frame = frame.with_columns(plain.alias("_plain"), inner.alias("_inner"))
    others = (
        frame.filter(~pl.col("_plain") & pl.col("text").is_not_null())
        .get_column("text")
        .unique()
        .to_list()
    )
    if others:
        read = pl.DataFrame(
            {"text": others, "_value": [python_string(t) for t in others]},
            schema={"text": pl.String, "_value": pl.String},
        )
        frame = frame.join(read, on="text", how="left", maintain_order="left")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("_value"))
    out = frame.select(
        pl.when(pl.col("_plain")).then(pl.col("_inner")).otherwise(pl.col("_value")).alias("v")
    )
    return out.get_column("v").rename(values.name)


def keyword_attrs(values: pl.Series, prefix: str, skip: Iterable[str] = ("None", "")) -> pl.Series:
    """Attributes (``list[struct{key, value}]``) of ``a=1, b='x'`` argument texts, keys prefixed:
    :func:`~timeline.parserkit.pyrepr.keyword_pairs` once per distinct text. Null texts, and
    texts without a pair, give null (callers fill an empty list)."""
    skipped = tuple(skip)
    texts = values.drop_nulls().unique().to_list()
    keys: list[str] = []
    vals: list[str] = []
    owners: list[str] = []
    for text in texts:
        for key, value in keyword_pairs(text, skip=skipped):
            owners.append(text)
            keys.append(prefix + key)
            vals.append(value)
    frame = values.rename("text").to_frame()
    if not owners:
        return pl.repeat(None, values.len(), dtype=_KV_LIST, eager=True).alias(values.name)
    long = pl.DataFrame(
        {"text": owners, "key": keys, "value": vals},
        schema={"text": pl.String, "key": pl.String, "value": pl.String},
    )
    grouped = long.group_by("text", maintain_order=True).agg(pl.struct("key", "value").alias("_kv"))
    joined = frame.join(grouped, on="text", how="left", maintain_order="left")
    return joined.get_column("_kv").cast(_KV_LIST).rename(values.name)
