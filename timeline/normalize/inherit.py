"""Timestamp inheritance: an event without a time takes the time of the nearest earlier timed event
of its file (e.g. uvicorn's untimed ``INFO:     ...`` lines inside a vLLM log).

The inherited time is written to ``ts_source`` and ``ts`` (so that correlation, which derives
``ts`` from ``ts_source``, keeps it and applies the file's clock correction to it) and marked with
``ts_inherited = true``; ``ts_raw`` keeps what the line printed, if anything (a time that did not
parse). An event with no earlier timed event in its file keeps a null time. "Earlier" is event
order: the source line, then the event's index on the line (a line with several events can give
its time to its later events).

A file is normalized block by block (``timeline.pipeline.files``): the last time of one block is
carried into the next as :class:`Carry`, so the result does not depend on where blocks are cut.
Vectorized: one forward fill over the block, in event order (source line, then index on the line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from timeline.schema import POLARS_SCHEMA


@dataclass(frozen=True)
class Carry:
    """The last timed event of a file so far: its time and whether its zone was assumed."""

    ts: datetime | None = None
    assumed_tz: bool | None = None


def inherit(frame: pl.DataFrame, carry: Carry = Carry()) -> tuple[pl.DataFrame, Carry]:
    """Fill the missing times of ``frame`` (canonical events of one file, in source order) from
    the nearest earlier timed event, starting from ``carry``; return the frame and the new carry.

    Only events whose ``ts_source`` is null change: ``ts_source`` and ``ts`` take the inherited
    time, ``ts_assumed_tz`` the inherited flag, ``clock_offset_ms`` 0 and ``ts_inherited`` true.
    """
    if frame.height == 0:
        return frame, carry
    ts = frame.get_column("ts_source")
    timed = ts.len() - ts.null_count()
    if timed:
        last = frame.select(
            pl.col("ts_source").drop_nulls().last().alias("ts"),
            pl.col("ts_assumed_tz")
            .filter(pl.col("ts_source").is_not_null())
            .last()
            .fill_null(False)
            .alias("assumed"),
        ).row(0)
        after = Carry(last[0], bool(last[1]))
    else:
        after = carry
    if timed == ts.len() or (timed == 0 and carry.ts is None):
        return frame, after
    own = pl.col("ts_source")
    filled = (
        own.forward_fill().fill_null(pl.lit(carry.ts, dtype=POLARS_SCHEMA["ts_source"])).alias("_t")
    )
    assumed = (
        pl.when(own.is_not_null())
        .then(pl.col("ts_assumed_tz").fill_null(False))
        .forward_fill()
        .fill_null(pl.lit(carry.assumed_tz, dtype=pl.Boolean))
        .alias("_a")
    )
    inherited = own.is_null() & pl.col("_t").is_not_null()
    out = (
        frame.with_columns(filled, assumed)
        .with_columns(
            pl.when(inherited).then(pl.col("_t")).otherwise(own).alias("ts_source"),
            pl.when(inherited).then(pl.col("_t")).otherwise(pl.col("ts")).alias("ts"),
            pl.when(inherited)
            .then(pl.col("_a").fill_null(False))
            .otherwise(pl.col("ts_assumed_tz"))
            .alias("ts_assumed_tz"),
            pl.when(inherited).then(True).otherwise(pl.col("ts_inherited")).alias("ts_inherited"),
            pl.when(inherited)
            .then(pl.lit(0.0))
            .otherwise(pl.col("clock_offset_ms"))
            .alias("clock_offset_ms"),
        )
        .drop("_t", "_a")
    )
    return out, after
