"""Intervals for proportions and their ratio, as polars expressions (vectorized over values).

* Wilson score interval for a proportion k / n.
* Lift = (a / n1) / (c / n2): the share of failing requests carrying a value over the share of
  the other requests carrying it. Its 95 % interval is the Katz log interval,
  exp(ln lift +- z * sqrt(1/a - 1/n1 + 1/c - 1/n2)), with 0.5 added to a and c when either is 0
  (Haldane-Anscombe), so that a value absent from the rest still gets a finite interval.
"""

from __future__ import annotations

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
