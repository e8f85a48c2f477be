"""Id lists (the ``ids`` column, ``list[struct{kind, value}]``) and the id shapes they hold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl

from timeline.schema import ID_STRUCT

# Ids OpenAI-compatible servers give completions: ``chatcmpl-...`` and ``cmpl-...``.
OPENAI_ID_RE: Final = r"^(?:chatcmpl|cmpl)-"


def id_list(pairs: Mapping[str, pl.Expr]) -> pl.Expr:
    """A ``list[struct{kind, value}]`` of the non-null ids, in the given kind order."""
    if not pairs:
        return pl.lit([], dtype=pl.List(ID_STRUCT))
    items = [
        pl.struct(kind=pl.lit(k, dtype=pl.String), value=v.cast(pl.String))
        for k, v in pairs.items()
    ]
    return pl.concat_list(items).list.filter(pl.element().struct.field("value").is_not_null())


def is_openai_id(expr: pl.Expr) -> pl.Expr:
    """True where the id is an OpenAI completion id (``chatcmpl-...`` / ``cmpl-...``)."""
    return expr.str.contains(OPENAI_ID_RE)
