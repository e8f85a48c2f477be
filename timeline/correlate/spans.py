"""Where an event's interval lies relative to its ``ts`` (the convention of ``docs/schema.md``)."""

from __future__ import annotations

import polars as pl

END_SUFFIXES = (".response", ".error")


def ends_at_ts() -> pl.Expr:
    """True for events logged when the exchange ended (``*.response``, ``*.error``): their
    interval is ``[ts - duration, ts]``; every other event's is ``[ts, ts + duration]``."""
    etype = pl.col("event_type").fill_null("")
    return etype.str.ends_with(END_SUFFIXES[0]) | etype.str.ends_with(END_SUFFIXES[1])
