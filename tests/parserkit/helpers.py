"""Small helpers for the parserkit tests: run one expression over a column of values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from hypothesis import strategies as st

from timeline.parserkit.api import LINE_SCHEMA


def texts(exclude: str = "", min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    """Text polars can hold (no lone surrogates), without the characters in ``exclude``."""
    alphabet = st.characters(blacklist_categories=["Cs"], blacklist_characters=exclude)
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


def apply(expr: pl.Expr, values: Sequence[Any], dtype: pl.DataType | None = None) -> list[Any]:
    """``expr`` (over ``pl.col("x")``) evaluated on ``values``."""
    frame = pl.DataFrame({"x": list(values)}, schema={"x": dtype or pl.String()})
    return frame.select(expr.alias("out")).get_column("out").to_list()


def one(expr: pl.Expr, value: Any, dtype: pl.DataType | None = None) -> Any:
    """``expr`` (over ``pl.col("x")``) evaluated on one value."""
    return apply(expr, [value], dtype)[0]


def lines_frame(lines: Sequence[str]) -> pl.DataFrame:
    """A ``source_line`` / ``line`` frame numbered from 1."""
    return pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": list(lines)}, schema=LINE_SCHEMA
    )
