"""When did failures rise? One change point in the failing share per bucket.

The split maximises the binomial log-likelihood ratio of "one failing rate before, another
after" against "one rate throughout", among splits where the rate after is higher.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from timeline.analyze.evidence import iso
from timeline.analyze.load import collect
from timeline.analyze.scope import bucket


def _ll(k: pl.Expr, n: pl.Expr) -> pl.Expr:
    p = k.cast(pl.Float64) / n.cast(pl.Float64)
    term1 = pl.when(k > 0).then(k * p.log()).otherwise(0.0)
    term2 = pl.when(n - k > 0).then((n - k) * (1 - p).log()).otherwise(0.0)
    return pl.when(n > 0).then(term1 + term2).otherwise(0.0)


def failing_series(requests: pl.LazyFrame, width: int) -> pl.DataFrame:
    """Requests and failing requests per bucket of request start, with the failing share.

    ``requests`` carries ``failing``.
    """
    query = (
        requests.select(bucket("start", width), "failing")
        .drop_nulls("minute")
        .group_by("minute")
        .agg(pl.len().alias("requests"), pl.col("failing").sum().alias("failing"))
        .with_columns((pl.col("failing") / pl.col("requests")).alias("failing_share"))
        .sort("minute")
    )
    return collect(query)


def find_rise(series: pl.DataFrame) -> dict[str, Any] | None:
    """The bucket at which the failing rate rose, with the rates before and after; None if none."""
    if series.height < 2 or series["failing"].sum() == 0:
        return None
    k_all = series["failing"].sum()
    n_all = series["requests"].sum()
    scored = (
        series.with_columns(
            (pl.col("failing").cum_sum() - pl.col("failing")).alias("k0"),
            (pl.col("requests").cum_sum() - pl.col("requests")).alias("n0"),
        )
        .with_columns((k_all - pl.col("k0")).alias("k1"), (n_all - pl.col("n0")).alias("n1"))
        .filter(pl.col("n0") > 0)
        .with_columns(
            (pl.col("k0") / pl.col("n0")).alias("rate_before"),
            (pl.col("k1") / pl.col("n1")).alias("rate_after"),
            (
                _ll(pl.col("k0"), pl.col("n0"))
                + _ll(pl.col("k1"), pl.col("n1"))
                - _ll(pl.lit(k_all), pl.lit(n_all))
            ).alias("llr"),
        )
        .filter(pl.col("rate_after") > pl.col("rate_before"))
        .sort("llr", "minute", descending=[True, False])
    )
    if scored.is_empty():
        return None
    best = scored.row(0, named=True)
    return {
        "minute": iso(best["minute"]),
        "rate_before": round(best["rate_before"], 4),
        "rate_after": round(best["rate_after"], 4),
        "log_likelihood_ratio": round(best["llr"], 2),
    }
