"""Where an event's interval lies relative to its ``ts`` (the convention of ``docs/schema.md``)."""

from __future__ import annotations

from typing import Final

import polars as pl

END_SUFFIXES = (".response", ".error")
# Stamps this precise or finer count as exact; coarser ones are intervals [ts, ts + precision).
PRECISE_MS: Final = 1.0
# Columns the precision expressions read (``ts_raw`` only for events without a precision).
PRECISION_COLUMNS: Final = ("ts_raw", "ts_precision_ms", "ts_inherited")


def ends_at_ts() -> pl.Expr:
    """True for events whose ``ts`` is the end of the operation: ``ts_at_end`` when the parser says,
    else ``*.response`` and ``*.error`` events. Their interval is ``[ts - duration, ts]``; every other
    event's is ``[ts, ts + duration]``."""
    etype = pl.col("event_type").fill_null("")
    by_type = etype.str.ends_with(END_SUFFIXES[0]) | etype.str.ends_with(END_SUFFIXES[1])
    return pl.coalesce(pl.col("ts_at_end"), by_type)


MAX_PRECISION_MS: Final = 86_400_000.0  # a stamp printed to the day


def precision_ms() -> pl.Expr:
    """The precision of the event's stamp: ``ts_precision_ms``, else 1000 when ``ts_raw`` is
    printed to the second (events written before the column existed), else null (exact). A value
    no stamp can have (negative, NaN, infinite) counts as missing; one above a day as a day."""
    whole_seconds = pl.col("ts_raw").fill_null("").str.contains(r"\d{2}:\d{2}:\d{2}(?:$|[^.,\d])")
    given = pl.col("ts_precision_ms")
    sane = pl.when(given.is_finite() & (given >= 0)).then(given.clip(upper_bound=MAX_PRECISION_MS))
    return pl.coalesce(sane, pl.when(whole_seconds).then(pl.lit(1000.0)))


def inherited() -> pl.Expr:
    """True for an inherited time (``ts_inherited``): the event happened at ``ts`` or later."""
    return pl.col("ts_inherited").fill_null(False)


def slack_ms() -> pl.Expr:
    """How much later than ``ts`` the event may truly have happened: its precision less 1 µs
    (999.999 for whole seconds: vLLM, nginx, syslog; 0.999 for milliseconds), 0 when exact or
    unknown; null (no bound) for an inherited time. Used by the interval checks (clock-skew
    evidence, causal violations), which must never call a possible order impossible."""
    p = precision_ms()
    return (
        pl.when(inherited())
        .then(pl.lit(None, dtype=pl.Float64))
        .when(p > 0.001)
        .then(p - 0.001)
        .otherwise(pl.lit(0.0))
    )


def coarse_slack_ms() -> pl.Expr:
    """``slack_ms`` for stamps coarser than ``PRECISE_MS``, else 0 (null for an inherited time):
    what ordering moves an event by; a millisecond stamp counts as exact there."""
    return (
        pl.when(precision_ms().fill_null(0.0) > PRECISE_MS)
        .then(slack_ms())
        .otherwise(pl.when(inherited()).then(pl.lit(None, dtype=pl.Float64)).otherwise(pl.lit(0.0)))
    )


def exactness() -> pl.Expr:
    """0 for a precise stamp, 1 for an imprecise one (coarser than ``PRECISE_MS``), 2 for an
    inherited time: evidence prefers the lowest a source offers."""
    return pl.when(inherited()).then(2).when(precision_ms() > PRECISE_MS).then(1).otherwise(0)


def interval_columns(ts: str) -> list[pl.Expr]:
    """Bounds in epoch milliseconds for checking that events lie inside a gateway span.

    ``outer_lo`` / ``outer_hi``: the widest the event's true interval can be (for the gateway side;
    null when one end is unknown). ``inner_lo`` / ``inner_hi``: the latest its start and the earliest
    its end can be (for the inner side; ``inner_lo`` null when unbounded, as for an inherited time),
    so that imprecise timestamps never create violations.
    """
    t = pl.col(ts).dt.epoch("us").cast(pl.Float64) / 1000.0
    d = pl.col("duration_ms")
    slack = slack_ms()
    end = ends_at_ts()
    # Half a microsecond (the stamps' resolution) of float noise in sums of milliseconds never
    # turns an order the stamps allow into a violation.
    noise = 0.0005
    return [
        (pl.when(end).then(t - d).otherwise(t) - noise).alias("outer_lo"),
        (pl.when(end).then(t + slack).otherwise(t + d + slack) + noise).alias("outer_hi"),
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
