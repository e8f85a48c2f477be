"""When did failures rise? One change point in the failing share per bucket.

The split maximises the binomial log-likelihood ratio of "one failing rate before, another
after" against "one rate throughout", among splits where the rate after is higher.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from timeline.analyze.evidence import iso
from timeline.analyze.load import collect
from timeline.analyze.scope import bucket
from timeline.analyze.stats import chi2_1_threshold

# Significance level of the tests of the rise and of the candidates; fewest excess failures.
ALPHA: Final = 0.05
MIN_EXCESS_FAILURES: Final = 5


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
    """The bucket at which the failing rate rose significantly (see :func:`assess_rise`), with the
    rates before and after; None when no split passes the test ("noise is not a rise")."""
    tested = assess_rise(series)
    if tested is None or not tested["significant"]:
        return None
    return {k: tested[k] for k in ("minute", "rate_before", "rate_after", "log_likelihood_ratio")}


def assess_rise(series: pl.DataFrame, alpha: float = ALPHA) -> dict[str, Any] | None:
    """The best split of the failing share into a lower rate before and a higher one after, and
    whether it is significant; None when there is nothing to split.

    Significant when 2 x the log-likelihood ratio exceeds the chi-square (1 degree of freedom)
    quantile at ``alpha`` divided by the number of splits tried (Bonferroni over the buckets), and
    the requests after the split hold at least ``MIN_EXCESS_FAILURES`` failures more than the
    rate before would give.
    """
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
    splits = series.height - 1
    threshold = chi2_1_threshold(alpha / splits) / 2.0
    excess = best["k1"] - best["rate_before"] * best["n1"]
    return {
        "minute": iso(best["minute"]),
        "rate_before": round(best["rate_before"], 4),
        "rate_after": round(best["rate_after"], 4),
        "log_likelihood_ratio": round(best["llr"], 2),
        "threshold": round(threshold, 2),
        "splits": splits,
        "excess_failures": round(excess, 1),
        "significant": bool(best["llr"] >= threshold and excess >= MIN_EXCESS_FAILURES),
    }
