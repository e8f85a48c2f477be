"""Which requests fail: the default definition, or the user's SQL predicate over ``requests``."""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.errors import ConfigError

DEFAULT_DEFINITION: Final = (
    "requests.failed: a policy block, a gateway 5xx or 4xx, a timeout or error event, "
    "or a retrieval that returned 0 documents"
)


def with_failing(requests: pl.LazyFrame, predicate: str | None) -> pl.LazyFrame:
    """``requests`` with a boolean column ``failing``: True when the request counts as failing.

    Without ``predicate`` the column ``failed`` of ``requests.parquet`` is used. Otherwise the
    predicate is evaluated with polars SQL as ``SELECT ... FROM requests WHERE <predicate>``; only
    the row numbers of the failing requests are held in memory.
    """
    if predicate is None:
        return requests.with_columns(pl.col("failed").fill_null(False).alias("failing"))
    if not predicate.strip():
        raise ConfigError('--failing is empty; give a SQL predicate, e.g. "status_code >= 500"')
    frame = requests.with_row_index("_row")
    ctx = pl.SQLContext(requests=frame)
    try:
        rows = ctx.execute(f"SELECT _row FROM requests WHERE {predicate}").collect()
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.split("; valid columns")[0]
        raise ConfigError(
            f"--failing {predicate!r} is not a valid SQL predicate over the requests table "
            f"({first}); columns: {', '.join(requests.collect_schema().names())}"
        ) from None
    return frame.with_columns(pl.col("_row").is_in(rows["_row"].implode()).alias("failing")).drop(
        "_row"
    )


def definition(predicate: str | None) -> str:
    """The failing definition in words, for the report."""
    return DEFAULT_DEFINITION if predicate is None else f"the predicate {predicate!r} over requests"
