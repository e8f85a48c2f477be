"""Intervals for proportions and their ratio, as polars expressions (vectorized over values).

* Wilson score interval for a proportion k / n.
* Lift = (a / n1) / (c / n2): the share of failing requests carrying a value over the share of
  the other requests carrying it. Its 95 % interval is the Katz log interval,
  exp(ln lift +- z * sqrt(1/a - 1/n1 + 1/c - 1/n2)), with 0.5 added to a and c when either is 0
  (Haldane-Anscombe), so that a value absent from the rest still gets a finite interval.
* Relative risk = failure rate with a value / failure rate without it, with the same Katz log
  interval; a one-sided Fisher exact test and the Holm correction over many values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Final

import polars as pl

Z95: Final = 1.959963984540054


def wilson(k: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """Lower and upper bounds of the Wilson interval of k / n (0..1; null when n is 0)."""
    nf = n.cast(pl.Float64)
    p = k.cast(pl.Float64) / nf
    denom = 1 + z * z / nf
    centre = (p + z * z / (2 * nf)) / denom
    half = z * ((p * (1 - p) / nf + z * z / (4 * nf * nf)).sqrt()) / denom
    ok = n > 0
    return (
        pl.when(ok).then((centre - half).clip(0.0, 1.0)),
        pl.when(ok).then((centre + half).clip(0.0, 1.0)),
    )


def lift(a: pl.Expr, n1: pl.Expr, c: pl.Expr, n2: pl.Expr, z: float = Z95) -> list[pl.Expr]:
    """Lift, its lower and upper 95 % bounds (Katz log interval with Haldane correction)."""
    zero = (a == 0) | (c == 0)
    af = pl.when(zero).then(a + 0.5).otherwise(a).cast(pl.Float64)
    cf = pl.when(zero).then(c + 0.5).otherwise(c).cast(pl.Float64)
    n1f = pl.when(zero).then(n1 + 1.0).otherwise(n1).cast(pl.Float64)
    n2f = pl.when(zero).then(n2 + 1.0).otherwise(n2).cast(pl.Float64)
    ratio = (af / n1f) / (cf / n2f)
    se = (1 / af - 1 / n1f + 1 / cf - 1 / n2f).clip(lower_bound=0.0).sqrt()
    ok = (n1 > 0) & (n2 > 0)
    return [
        pl.when(ok).then(ratio).alias("lift"),
        pl.when(ok).then((ratio.log() - z * se).exp()).alias("lift_low"),
        pl.when(ok).then((ratio.log() + z * se).exp()).alias("lift_high"),
    ]


def relative_risk(
    a: pl.Expr, n_with: pl.Expr, b: pl.Expr, n_without: pl.Expr, z: float = Z95
) -> list[pl.Expr]:
    """Relative risk of failing with a value against without it, and its 95 % interval.

    ``a`` of ``n_with`` requests carrying the value fail, ``b`` of ``n_without`` others do.
    RR = (a / n_with) / (b / n_without); Katz log interval
    exp(ln RR +- z * sqrt(1/a - 1/n_with + 1/b - 1/n_without)); when a or b is 0, 0.5 is added
    to both and 1 to both totals (Haldane-Anscombe). Null when either group is empty.
    """
    zero = (a == 0) | (b == 0)
    af = pl.when(zero).then(a + 0.5).otherwise(a).cast(pl.Float64)
    bf = pl.when(zero).then(b + 0.5).otherwise(b).cast(pl.Float64)
    n1f = pl.when(zero).then(n_with + 1.0).otherwise(n_with).cast(pl.Float64)
    n2f = pl.when(zero).then(n_without + 1.0).otherwise(n_without).cast(pl.Float64)
    ratio = (af / n1f) / (bf / n2f)
    se = (1 / af - 1 / n1f + 1 / bf - 1 / n2f).clip(lower_bound=0.0).sqrt()
    ok = (n_with > 0) & (n_without > 0)
    return [
        pl.when(ok).then(ratio).alias("relative_risk"),
        pl.when(ok).then((ratio.log() - z * se).exp()).alias("relative_risk_low"),
        pl.when(ok).then((ratio.log() + z * se).exp()).alias("relative_risk_high"),
    ]


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(a: int, n_with: int, failing: int, total: int) -> float:
    """One-sided Fisher exact test: P(X >= a) for X ~ Hypergeometric(total, failing, n_with).

    The chance that ``n_with`` requests drawn at random from ``total`` (of which ``failing``
    fail) include at least ``a`` failing ones. Terms past the mode shrink monotonically, so the
    sum stops once they no longer change it.
    """
    lo, hi = max(0, n_with - (total - failing)), min(failing, n_with)
    if total <= 0 or a <= lo:
        return 1.0
    if a > hi:
        return 0.0
    denom = _log_choose(total, n_with)
    mode = (n_with + 1) * (failing + 1) // (total + 2)
    p = 0.0
    for x in range(a, hi + 1):
        term = math.exp(_log_choose(failing, x) + _log_choose(total - failing, n_with - x) - denom)
        p += term
        if x > mode and term <= p * 1e-15:
            break
    return min(1.0, p)


def holm(pvalues: Sequence[float | None], tests: int | None = None) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (step-down), over ``tests`` comparisons.

    ``tests`` defaults to the number of p-values; comparisons not computed (None, or values
    beyond the list) count as p = 1, which leaves the others' adjustment unchanged in order.
    """
    m = len(pvalues) if tests is None else max(tests, len(pvalues))
    order = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for j, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - j) * p))
        out[i] = running
    return out


def chi2_1_threshold(alpha: float) -> float:
    """The ``1 - alpha`` quantile of the chi-square distribution with one degree of freedom."""
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    return z * z
