"""Id lists (the ``ids`` column, ``list[struct{kind, value}]``) and the id shapes they hold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl

from timeline.parserkit.wide import pairs_expr

# Ids OpenAI-compatible servers give completions: ``chatcmpl-...`` and ``cmpl-...``.
OPENAI_ID_RE: Final = r"^(?:chatcmpl|cmpl)-"


def id_list(pairs: Mapping[str, pl.Expr]) -> pl.Expr:
    """A ``list[struct{kind, value}]`` of the non-null ids, in the given kind order."""
    return pairs_expr(pairs, "kind")


def is_openai_id(expr: pl.Expr) -> pl.Expr:
    """True where the id is an OpenAI completion id (``chatcmpl-...`` / ``cmpl-...``)."""
    return expr.str.contains(OPENAI_ID_RE)
