"""Text cleaning expressions: null tokens, blanks, quotes and escapes, terminal colour codes.

Every function takes and returns a polars expression over String values, so parsers stay
vectorized. A value that is missing in the log (``-``, empty, ``null`` ...) becomes null.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
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
    if not quotes:
        return expr
    # starts-with / ends-with and a slice: the same texts as ``^q(.*)q$`` (a lone quote is not
    # quoted), for a fraction of its cost; the slices and escapes see only the quoted texts.
    if expr.meta.is_column():
        return _unquote_text(expr, quotes)
    # anything but a column is evaluated once, into a struct field the steps read (an
    # expression used several times is evaluated once per use)
    out = (
        pl.struct(expr.alias("text"))
        .struct.with_fields(_unquote_text(pl.field("text"), quotes).alias("text"))
        .struct.field("text")
    )
    name = expr.meta.output_name(raise_if_undetermined=False)
    return out if name is None else out.alias(name)


def _unquote_text(text: pl.Expr, quotes: str) -> pl.Expr:
    """:func:`unquote` of ``text``, a cheap expression (it is read several times)."""
    quoted = pl.any_horizontal(
        [text.str.starts_with(q) & text.str.ends_with(q) & (text != q) for q in set(quotes)]
    )
    inner = unescape(pl.when(quoted).then(text).str.slice(1).str.head(-1), quotes)
    return pl.coalesce(inner, text)


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


def split_head(frame: pl.DataFrame, text: pl.Expr, head: str, rest: str) -> pl.DataFrame:
    """``frame`` with a column per named group of ``head`` (its ``_head`` group, which must wrap
    the whole header, left out) and ``rest``: the text after the header.

    The same values as ``text.str.extract_groups(head + "(?P<rest>.*)$")`` (all null where the
    rest holds a line break, which ``.`` does not match), provided the header's match cannot end
    later by backtracking (its last part greedy). A capture of the whole rest costs several
    times the header's match; slicing it off is nearly free. The header is matched once (an
    expression reading a struct's fields one by one would repeat the match per field).
    """
    names = [n for n in re.findall(r"\(\?P<(\w+)>", head) if n != "_head"]
    df = frame.with_columns(text.alias("_split_text"))
    df = df.with_columns(pl.col("_split_text").str.extract_groups(head).alias("_split"))
    df = df.drop(names, rest, strict=False).unnest("_split")
    tail = pl.col("_split_text").str.slice(pl.col("_head").str.len_chars())
    df = df.with_columns(tail.alias(rest))
    df = df.with_columns((~pl.col(rest).str.contains("\n", literal=True)).alias("_split_ok"))
    ok = pl.col("_split_ok")
    return df.with_columns([pl.when(ok).then(pl.col(n)).alias(n) for n in [*names, rest]]).drop(
        "_split_text", "_head", "_split_ok"
    )


def row_positions(keep: pl.Series) -> pl.Series:
    """Per row, its position among the rows where ``keep`` holds (null elsewhere): a ``gather``
    of a column computed on those rows alone puts its values back in place."""
    return pl.select(
        pl.when(keep).then(keep.cast(pl.UInt32).cum_sum() - 1).alias("_pos")
    ).get_column("_pos")


def on_rows(frame: pl.DataFrame, mask: pl.Expr, exprs: Mapping[str, pl.Expr]) -> pl.DataFrame:
    """``frame`` with one column per ``exprs`` item, computed only on the rows where ``mask`` is
    true and null on the others.

    ``pl.when(mask).then(expr)`` evaluates ``expr`` on every row before choosing; for a costly
    text expression (a regex with captures) that only a few rows need, this evaluates it on
    those rows and spreads the results back with one ``gather``. ``exprs`` must be row-wise (no
    aggregation, shift or window: they see the selected rows only).
    """
    if not exprs:
        return frame
    keep = frame.select(mask.fill_null(False).alias("_keep")).get_column("_keep")
    pos = row_positions(keep)
    sub = (
        frame.lazy()
        .with_columns(keep)
        .filter(pl.col("_keep"))
        .select([e.alias(k) for k, e in exprs.items()])
        .collect()
    )
    return frame.with_columns([sub.get_column(k).gather(pos).alias(k) for k in exprs])


def on_distinct(
    frame: pl.DataFrame, columns: Sequence[str], exprs: Mapping[str, pl.Expr]
) -> pl.DataFrame:
    """``frame`` with one column per ``exprs`` item, computed once per distinct combination of
    ``columns`` (the only columns ``exprs`` may read) and joined back.

    For costly row-wise expressions over values that repeat (timestamps at second precision,
    request ids, logger names): the cost follows the distinct values, not the rows."""
    if not exprs:
        return frame
    keys = list(columns)
    distinct = (
        frame.lazy().select(keys).unique().with_columns([e.alias(k) for k, e in exprs.items()])
    )
    return (
        frame.lazy()
        .join(distinct, on=keys, how="left", nulls_equal=True, maintain_order="left")
        .collect()
    )


def concat_lists(
    frame: pl.DataFrame, columns: Sequence[str], name: str, drop_nulls: bool = False
) -> pl.Series:
    """Per row, the lists of ``columns`` one after the other (a null list counts as empty), like
    ``pl.concat_list`` of the columns filled with empty lists (each list's null items left out
    first with ``drop_nulls``, like ``.list.drop_nulls()``).

    Built long (one row per element, sorted back by row and column) and grouped: for lists of
    structs (the ``attributes`` column) ``pl.concat_list`` costs about ten times as much.
    """
    dtype = frame.schema[columns[0]]
    parts = []
    for i, column in enumerate(columns):
        col = pl.col(column).cast(dtype)
        part = (
            frame.lazy()
            .select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), col.alias("_v"))
            .filter(pl.col("_v").list.len() > 0)
            .explode("_v")
            .filter(pl.col("_v").is_not_null() if drop_nulls else pl.lit(True))
            .select("_row", pl.lit(i, dtype=pl.UInt32).alias("_part"), "_v")
        )
        parts.append(part)
    # within a row, elements keep their order: column by column, each list's own order
    grouped = (
        pl.concat(parts)
        .group_by("_row", maintain_order=True)
        .agg(pl.col("_v"))
        .sort("_row")
        .collect()
    )
    # rows holding an item: the grouped rows (unique, in order), set by index
    present = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).scatter(
        grouped.get_column("_row"), True
    )
    values = grouped.get_column("_v").cast(dtype).gather(row_positions(present))
    return (
        values.to_frame(name)
        .select(pl.col(name).fill_null(pl.lit([], dtype=dtype)))
        .get_column(name)
    )


def _class(chars: str) -> str:
    """``chars`` escaped for use inside a regex character class."""
    return "".join("\\" + c if c in "\\]^-[" else c for c in chars)
