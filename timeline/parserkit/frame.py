"""Expression helpers shared by parsers: nulls, key/value lists, id lists, severities."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import polars as pl

from timeline.schema import ID_STRUCT, KV_STRUCT

NULL_TOKENS: Final = ("-", "", "null", "None", "none", "NULL", "nil")

_SEVERITY: Final = {
    "trace": "TRACE",
    "debug": "DEBUG",
    "dbug": "DEBUG",
    "info": "INFO",
    "information": "INFO",
    "notice": "INFO",
    "warn": "WARN",
    "warning": "WARN",
    "wrn": "WARN",
    "error": "ERROR",
    "err": "ERROR",
    "eror": "ERROR",
    "critical": "FATAL",
    "crit": "FATAL",
    "fatal": "FATAL",
    "panic": "FATAL",
    "emerg": "FATAL",
    "alert": "FATAL",
}


def nullify(expr: pl.Expr, tokens: Iterable[str] = NULL_TOKENS) -> pl.Expr:
    """Null where the text is one of ``tokens`` (``-``, empty, ``null`` ...)."""
    return pl.when(expr.is_in(list(tokens))).then(None).otherwise(expr)


def kv_list(pairs: Mapping[str, pl.Expr]) -> pl.Expr:
    """A ``list[struct{key, value}]`` of the non-null values, in the given key order."""
    if not pairs:
        return pl.lit([], dtype=pl.List(KV_STRUCT))
    items = [
        pl.struct(key=pl.lit(k, dtype=pl.String), value=v.cast(pl.String)) for k, v in pairs.items()
    ]
    return pl.concat_list(items).list.filter(pl.element().struct.field("value").is_not_null())


def id_list(pairs: Mapping[str, pl.Expr]) -> pl.Expr:
    """A ``list[struct{kind, value}]`` of the non-null ids."""
    if not pairs:
        return pl.lit([], dtype=pl.List(ID_STRUCT))
    items = [
        pl.struct(kind=pl.lit(k, dtype=pl.String), value=v.cast(pl.String))
        for k, v in pairs.items()
    ]
    return pl.concat_list(items).list.filter(pl.element().struct.field("value").is_not_null())


def severity(expr: pl.Expr) -> pl.Expr:
    """Map a level text (``warning``, ``E``, ``ERR`` ...) to OpenTelemetry severity text."""
    low = expr.str.strip_chars().str.to_lowercase()
    return low.replace_strict(_SEVERITY, default=None, return_dtype=pl.String)


def first_reason(cases: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """The text of the first case whose condition holds, else null (a reason column for rejects)."""
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for condition, text in reversed(cases):
        expr = pl.when(condition).then(pl.lit(text)).otherwise(expr)
    return expr


def http_status(code: pl.Expr) -> pl.Expr:
    """The canonical ``status`` for an HTTP status code."""
    return (
        pl.when(code.is_null())
        .then(None)
        .when(code == 429)
        .then(pl.lit("rate_limited"))
        .when(code.is_in([408, 504]))
        .then(pl.lit("timeout"))
        .when(code == 499)
        .then(pl.lit("cancelled"))
        .when(code >= 400)
        .then(pl.lit("error"))
        .otherwise(pl.lit("ok"))
    )
