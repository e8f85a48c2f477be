"""Which requests fail: the default definition, or the user's SQL predicate over ``requests``."""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.errors import ConfigError

DEFAULT_DEFINITION: Final = (
    "requests.failed: a policy block, a gateway 5xx or 4xx, a timeout or error event, "
    "or a retrieval that returned 0 documents"
)


def failing_mask(requests: pl.DataFrame, predicate: str | None) -> pl.Series:
    """A boolean Series, one per request: True when the request counts as failing.

    Without ``predicate`` the column ``failed`` of ``requests.parquet`` is used. Otherwise the
    predicate is evaluated with polars SQL as ``SELECT ... FROM requests WHERE <predicate>``.
    """
    if predicate is None:
        return requests["failed"].fill_null(False).alias("failing")
    if not predicate.strip():
        raise ConfigError('--failing is empty; give a SQL predicate, e.g. "status_code >= 500"')
    frame = requests.with_row_index("_row")
    ctx = pl.SQLContext(requests=frame.lazy())
    try:
        rows = ctx.execute(f"SELECT _row FROM requests WHERE {predicate}").collect()
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.split("; valid columns")[0]
        raise ConfigError(
            f"--failing {predicate!r} is not a valid SQL predicate over the requests table "
            f"({first}); columns: {', '.join(requests.columns)}"
        ) from None
    return frame["_row"].is_in(rows["_row"].implode()).alias("failing")


def definition(predicate: str | None) -> str:
    """The failing definition in words, for the report."""
    return DEFAULT_DEFINITION if predicate is None else f"the predicate {predicate!r} over requests"
