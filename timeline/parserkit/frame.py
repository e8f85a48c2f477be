"""Expression helpers for canonical columns: severities, HTTP statuses, reject reasons.

``NULL_TOKENS`` / ``nullify`` (:mod:`timeline.parserkit.text`), ``kv_list``
(:mod:`timeline.parserkit.kv`) and ``id_list`` (:mod:`timeline.parserkit.ids`) are re-exported
here for the callers that import them from this module.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit.ids import id_list
from timeline.parserkit.kv import kv_list
from timeline.parserkit.text import NULL_TOKENS, nullify

__all__ = [
    "NULL_TOKENS",
    "first_reason",
    "http_status",
    "id_list",
    "kv_list",
    "nullify",
    "severity",
]

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
