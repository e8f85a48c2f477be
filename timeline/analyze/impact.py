"""How requests failed (failure modes) and the impact of the rise, for the summary and the draft.

Failure modes are outcomes, never causes: failure reasons, error types, the policies that
blocked, the status classes failing requests were answered with, and the values logged (almost)
only on failing events (``analyze.ranking``). Impact counts the requests from the rise on: how
many failed, how many distinct clients they came from, how many failed silently (answered HTTP
2xx), whether a status-code alert would have seen it, and whether the failures were still going
on when the logs end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import polars as pl

from timeline.analyze.evidence import iso
from timeline.analyze.load import collect

MAX_MODES: Final = 10
# The share of 5xx answers at which a status-code alert is assumed to fire.
ALERT_5XX_SHARE: Final = 0.01
UTC_US: Final = pl.Datetime("us", "UTC")


def _column(names: list[str], name: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(name).cast(dtype) if name in names else pl.lit(None, dtype=dtype).alias(name)


def _requests(requests: pl.LazyFrame) -> pl.LazyFrame:
    """The columns used here, typed; a column ``requests`` lacks is null."""
    names = requests.collect_schema().names()
    return requests.select(
        _column(names, "correlation_id", pl.String()),
        pl.col("failing").fill_null(False),
        _column(names, "start", UTC_US),
        _column(names, "status_code", pl.Int64()),
        _column(names, "failure_reason", pl.String()),
        _column(names, "error_type", pl.String()),
        _column(names, "blocked_by", pl.String()),
        pl.coalesce(
            _column(names, "client_address", pl.String()),
            _column(names, "session_id", pl.String()),
        ).alias("client"),
    )


def _counts(failing: pl.LazyFrame, expr: pl.Expr, n: int) -> list[dict[str, Any]]:
    frame = collect(
        failing.select(expr.alias("value"))
        .drop_nulls("value")
        .group_by("value")
        .agg(pl.len().cast(pl.Int64).alias("requests"))
        .sort("requests", "value", descending=[True, False])
        .head(MAX_MODES)
    )
    return [
        {"value": str(v), "requests": int(k), "share": round(k / n, 4) if n else 0.0}
        for v, k in frame.iter_rows()
    ]


def status_class() -> pl.Expr:
    """``2xx``, ``4xx``, ``5xx``, ... of ``status_code``; ``none`` when the request has none."""
    code = pl.col("status_code")
    return (
        pl.when(code.is_null() | (code < 100) | (code > 999))
        .then(pl.lit("none"))
        .otherwise((code // 100).cast(pl.String) + pl.lit("xx"))
    )


def failure_modes(requests: pl.LazyFrame, logged: list[dict[str, Any]]) -> dict[str, Any]:
    """How requests failed: counts among failing requests per reason, error type, blocking
    policy and status class, and the values logged only on failing events (``logged``)."""
    failing = _requests(requests).filter(pl.col("failing"))
    n = int(collect(failing.select(pl.len())).item())
    return {
        "failing_requests": n,
        "reasons": _counts(failing, pl.col("failure_reason").fill_null("predicate"), n),
        "error_types": _counts(failing, pl.col("error_type"), n),
        "blocked_by": _counts(failing, pl.col("blocked_by"), n),
        "status_classes": _counts(failing, status_class(), n),
        "logged_on_failures": logged,
    }


def impact(
    requests: pl.LazyFrame,
    rise: dict[str, Any] | None,
    rise_at: datetime | None,
    window_end: datetime | None,
    present_after: datetime | None,
) -> dict[str, Any]:
    """Impact from the rise on (the whole window without a rise).

    ``ongoing_at_end``: the failing share of the requests in the window's tail (from
    ``present_after``) is still at least halfway from the rate before the rise to the rate after;
    then the impact lasts to the end of the logs. Null without a rise or a tail.
    """
    frame = _requests(requests)
    if rise_at is not None:
        frame = frame.filter(pl.col("start") >= pl.lit(rise_at, dtype=UTC_US))
    failing = pl.col("failing")
    code = pl.col("status_code")
    row = collect(
        frame.select(
            pl.len().cast(pl.Int64).alias("requests"),
            failing.sum().cast(pl.Int64).alias("failing"),
            (failing & code.is_between(200, 299)).sum().cast(pl.Int64).alias("silent"),
            (failing & code.is_null()).sum().cast(pl.Int64).alias("no_status"),
            (code >= 500).sum().cast(pl.Int64).alias("status_5xx"),
            code.is_not_null().sum().cast(pl.Int64).alias("with_status"),
            pl.col("client").filter(failing).drop_nulls().n_unique().alias("clients_affected"),
            pl.col("client").drop_nulls().n_unique().alias("clients"),
            pl.col("start").filter(failing).min().alias("first_failing"),
            pl.col("start").filter(failing).max().alias("last_failing"),
        )
    ).row(0, named=True)
    ongoing = None
    if rise is not None and present_after is not None:
        tail = collect(
            frame.filter(pl.col("start") >= pl.lit(present_after, dtype=UTC_US)).select(
                pl.len().alias("n"), failing.sum().alias("k")
            )
        ).row(0, named=True)
        if tail["n"]:
            middle = (float(rise["rate_before"]) + float(rise["rate_after"])) / 2.0
            ongoing = bool(tail["k"] / tail["n"] >= middle)
    ends = window_end if ongoing else row["last_failing"]
    duration = None
    if rise_at is not None and ends is not None and ends >= rise_at:
        duration = round((ends - rise_at).total_seconds() / 60.0, 1)
    n_status = row["with_status"]
    share_5xx = round(row["status_5xx"] / n_status, 4) if n_status else None
    return {
        "since": iso(rise_at),
        "until": iso(ends),
        "duration_minutes": duration,
        "ongoing_at_end": ongoing,
        "requests": row["requests"],
        "failing_requests": row["failing"],
        "excess_failures": (
            round(row["failing"] - float(rise["rate_before"]) * row["requests"], 1)
            if rise is not None
            else None
        ),
        "clients": int(row["clients"] or 0),
        "clients_affected": int(row["clients_affected"] or 0),
        "silent_failures": row["silent"],
        "failing_without_status": row["no_status"],
        "status_5xx_share": share_5xx,
        "alert_5xx_share": ALERT_5XX_SHARE,
        "status_alert_would_fire": None if share_5xx is None else share_5xx >= ALERT_5XX_SHARE,
        "first_failing": iso(row["first_failing"]),
        "last_failing": iso(row["last_failing"]),
    }
