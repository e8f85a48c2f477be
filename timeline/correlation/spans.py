"""Where an event's interval lies relative to its ``ts`` (the convention of ``docs/schema.md``)."""

from __future__ import annotations

import polars as pl

END_SUFFIXES = (".response", ".error")


def ends_at_ts() -> pl.Expr:
    """True for events whose ``ts`` is the end of the operation: ``ts_at_end`` when the parser says,
    else ``*.response`` and ``*.error`` events. Their interval is ``[ts - duration, ts]``; every other
    event's is ``[ts, ts + duration]``."""
    etype = pl.col("event_type").fill_null("")
    by_type = etype.str.ends_with(END_SUFFIXES[0]) | etype.str.ends_with(END_SUFFIXES[1])
    return pl.coalesce(pl.col("ts_at_end"), by_type)


def slack_ms() -> pl.Expr:
    """How much later than ``ts`` the event may truly have happened: 1 s for timestamps printed
    without fractions (vLLM, nginx, syslog), else 0."""
    whole_seconds = pl.col("ts_raw").fill_null("").str.contains(r"\d{2}:\d{2}:\d{2}(?:$|[^.,\d])")
    return pl.when(whole_seconds).then(999.999).otherwise(0.0)


def interval_columns(ts: str) -> list[pl.Expr]:
    """Bounds in epoch milliseconds for checking that events lie inside a gateway span.

    ``outer_lo`` / ``outer_hi``: the widest the event's true interval can be (for the gateway side;
    null when one end is unknown). ``inner_lo`` / ``inner_hi``: the latest its start and the earliest
    its end can be (for the inner side), so that imprecise timestamps never create violations.
    """
    t = pl.col(ts).dt.epoch("us").cast(pl.Float64) / 1000.0
    d = pl.col("duration_ms")
    slack = slack_ms()
    end = ends_at_ts()
    return [
        pl.when(end).then(t - d).otherwise(t).alias("outer_lo"),
        pl.when(end).then(t + slack).otherwise(t + d + slack).alias("outer_hi"),
        (pl.when(end).then(t - d.fill_null(0)).otherwise(t) + slack).alias("inner_lo"),
        pl.when(end).then(t).otherwise(t + d.fill_null(0)).alias("inner_hi"),
    ]


def gateway_bounds() -> list[pl.Expr]:
    """Aggregations of a request's gateway events into its span (null bound when unknown)."""
    return [
        pl.when(pl.col("outer_lo").is_null().any())
        .then(None)
        .otherwise(pl.col("outer_lo").min())
        .alias("g_lo"),
        pl.when(pl.col("outer_hi").is_null().any())
        .then(None)
        .otherwise(pl.col("outer_hi").max())
        .alias("g_hi"),
    ]
