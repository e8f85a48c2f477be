"""Latency percentiles of the appendix: exact, or from a log-bucketed sketch on large inputs.

An exact percentile needs every value of its group in memory (8 bytes per event, sorted). Above
``APPROX_ROWS`` timeline events the appendix computes them from a DDSketch-style histogram instead
(Masson, Rim and Lee, *DDSketch: a fast and fully-mergeable quantile sketch with relative-error
guarantees*, VLDB 2019): a value ``x > 0`` falls into bucket ``k = ceil(log_gamma(x))`` with
``gamma = (1 + a) / (1 - a)``, i.e. into ``(gamma^(k-1), gamma^k]``, and the bucket stands for
``2 gamma^k / (gamma + 1)``, which is within a relative ``a`` of every value in it. Negative values
use the mirrored buckets, zero and non-finite values buckets of their own.

The histogram is a polars ``group_by`` on (group, bucket) counting rows: vectorised, streaming,
and its memory is the number of distinct buckets per group (at ``a`` = 1 %, about 115 buckets per
decade of values), not the number of rows. A percentile is read off the cumulative counts with the
same rank interpolation as polars' exact ``quantile(q, "linear")``: it interpolates between the
estimates of the two order statistics around rank ``q (n - 1)``, each within ``a`` of the exact
one, so for values of one sign (latencies) the estimate is within a relative ``a`` of the exact
percentile (before the appendix rounds it to 0.1 ms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import polars as pl

from timeline.analyze.load import collect

# Timeline events above which the appendix's percentiles come from the sketch.
APPROX_ROWS: Final = 2_000_000
# The sketch's relative error bound.
RELATIVE_ERROR: Final = 0.01

# Bucket keys: 0 for zero, +/-(k + _OFFSET) for positive / negative finite values (|k| stays below
# 40,000 for every finite float64 at a 1 % bound, and below _OFFSET for bounds down to 0.04 %),
# then the infinities and NaN (which polars sorts above +inf, as its exact quantile does).
_OFFSET: Final = 1 << 20
_INF_KEY: Final = 1 << 40
_NAN_KEY: Final = 1 << 41


@dataclass(frozen=True)
class Percentiles:
    """How the appendix computes percentiles: exactly, or from the sketch (``approximate``)
    within a relative ``relative_error``."""

    approximate: bool = False
    relative_error: float = RELATIVE_ERROR

    def describe(self) -> dict[str, Any]:
        """The appendix's ``percentiles`` note: method, relative error bound and why."""
        if not self.approximate:
            return {"method": "exact", "relative_error": 0.0}
        return {
            "method": "sketch",
            "relative_error": self.relative_error,
            "threshold_events": APPROX_ROWS,
        }


EXACT: Final = Percentiles()


def percentiles_for(events: int, threshold: int = APPROX_ROWS) -> Percentiles:
    """Exact percentiles up to ``threshold`` timeline events, the sketch above."""
    return Percentiles(approximate=events > threshold)


def _gamma(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"relative error must be in (0, 1), not {alpha}")
    return (1.0 + alpha) / (1.0 - alpha)


def bucket_key(value: pl.Expr, alpha: float = RELATIVE_ERROR) -> pl.Expr:
    """The sketch bucket of each value (Int64; null for null)."""
    log_gamma = math.log(_gamma(alpha))
    k = (value.abs().log() / log_gamma).ceil().cast(pl.Int64, strict=False) + _OFFSET
    return (
        pl.when(value.is_nan())
        .then(pl.lit(_NAN_KEY, dtype=pl.Int64))
        .when(value == float("inf"))
        .then(pl.lit(_INF_KEY, dtype=pl.Int64))
        .when(value == float("-inf"))
        .then(pl.lit(-_INF_KEY, dtype=pl.Int64))
        .when(value > 0)
        .then(k)
        .when(value < 0)
        .then(-k)
        .when(value == 0)
        .then(pl.lit(0, dtype=pl.Int64))
    )


def bucket_value(key: pl.Expr, alpha: float = RELATIVE_ERROR) -> pl.Expr:
    """The value a bucket stands for: ``2 gamma^k / (gamma + 1)`` (signed), 0, +/-inf or NaN."""
    gamma = _gamma(alpha)
    magnitude = pl.lit(gamma, dtype=pl.Float64).pow(key.abs() - _OFFSET) * 2.0 / (gamma + 1.0)
    return (
        pl.when(key == _NAN_KEY)
        .then(pl.lit(float("nan")))
        .when(key == _INF_KEY)
        .then(pl.lit(float("inf")))
        .when(key == -_INF_KEY)
        .then(pl.lit(float("-inf")))
        .when(key == 0)
        .then(pl.lit(0.0))
        .when(key > 0)
        .then(magnitude)
        .otherwise(-magnitude)
    )


def sketch(
    frame: pl.LazyFrame, by: Sequence[str], column: str, alpha: float = RELATIVE_ERROR
) -> pl.LazyFrame:
    """The histogram of ``column`` per group ``by``: columns ``by``, ``_key``, ``_count``
    (null values are left out, as the exact percentiles drop them)."""
    return (
        frame.select(*by, pl.col(column))
        .filter(pl.col(column).is_not_null())
        .group_by(*by, bucket_key(pl.col(column), alpha).alias("_key"))
        .agg(pl.len().cast(pl.Int64).alias("_count"))
    )


def from_sketch(
    histogram: pl.DataFrame,
    by: Sequence[str],
    wanted: Sequence[tuple[float, str]],
    alpha: float = RELATIVE_ERROR,
) -> pl.DataFrame:
    """Percentiles ``(q, name)`` per group from a :func:`sketch` histogram, interpolated between
    order statistics as polars' ``quantile(q, "linear")`` does. One row per group in
    ``histogram``; columns ``by`` and the names."""
    keys = list(by)
    ordered = histogram.sort([*keys, "_key"]).with_columns(
        bucket_value(pl.col("_key"), alpha).alias("_value"),
        (pl.col("_count").cum_sum().over(keys) if keys else pl.col("_count").cum_sum()).alias(
            "_cum"
        ),
    )
    n = pl.col("_count").sum()
    out = []
    for q, name in wanted:
        rank = (n - 1).cast(pl.Float64) * q
        low, high = rank.floor(), rank.ceil()
        v_low = pl.col("_value").filter(pl.col("_cum") > low).first()
        v_high = pl.col("_value").filter(pl.col("_cum") > high).first()
        out.append(
            pl.when(v_low == v_high)
            .then(v_low)
            .otherwise(v_low + (rank - low) * (v_high - v_low))
            .alias(name)
        )
    if not keys:
        return (
            ordered.select(out)
            if ordered.height
            else pl.DataFrame(
                {name: [None] for _, name in wanted},
                schema={name: pl.Float64 for _, name in wanted},
            )
        )
    return ordered.group_by(keys, maintain_order=True).agg(out)


@dataclass(frozen=True)
class Pct:
    """One percentile to compute: quantile ``q`` of ``column`` (nulls dropped), named ``name``."""

    column: str
    q: float
    name: str

    def exact(self) -> pl.Expr:
        """The exact percentile, as a polars aggregation."""
        return pl.col(self.column).drop_nulls().quantile(self.q, "linear").alias(self.name)


def grouped(
    frame: pl.LazyFrame, by: Sequence[str], wanted: Sequence[Pct], how: Percentiles
) -> pl.DataFrame:
    """Percentiles per group ``by`` (one row per group with a non-null value; all groups when
    exact): exact, or from the sketch, one streaming histogram pass per column."""
    keys = list(by)
    if not how.approximate:
        exprs = [p.exact() for p in wanted]
        return collect(frame.group_by(keys).agg(exprs) if keys else frame.select(exprs))
    per_column: dict[str, list[tuple[float, str]]] = {}
    for p in wanted:
        per_column.setdefault(p.column, []).append((p.q, p.name))
    result: pl.DataFrame | None = None
    for column, qs in per_column.items():
        histogram = collect(sketch(frame, keys, column, how.relative_error))
        values = from_sketch(histogram, keys, qs, how.relative_error)
        if result is None:
            result = values
        elif keys:
            result = result.join(values, on=keys, how="full", coalesce=True, nulls_equal=True)
        else:
            result = pl.concat([result, values], how="horizontal")
    if result is None:
        return pl.DataFrame(schema={k: frame.collect_schema()[k] for k in keys})
    return result


def aggregate(
    frame: pl.LazyFrame,
    by: Sequence[str],
    parts: Sequence[pl.Expr | Pct],
    how: Percentiles,
    digits: int | None = 1,
) -> pl.LazyFrame:
    """``frame.group_by(by).agg(parts)`` where a :class:`Pct` part is a percentile (rounded to
    ``digits``): exact in the same aggregation, or from the sketch joined onto the other parts;
    the columns keep the order of ``parts`` either way."""
    keys = list(by)

    def rounded(expr: pl.Expr) -> pl.Expr:
        return expr if digits is None else expr.round(digits)

    if not how.approximate:
        exprs = [rounded(p.exact()) if isinstance(p, Pct) else p for p in parts]
        return frame.group_by(keys).agg(exprs)
    plain = [p for p in parts if isinstance(p, pl.Expr)]
    wanted = [p for p in parts if isinstance(p, Pct)]
    names = [p.name if isinstance(p, Pct) else p.meta.output_name() for p in parts]
    main = frame.group_by(keys).agg(plain)
    values = grouped(frame, keys, wanted, how).with_columns(rounded(pl.col(p.name)) for p in wanted)
    return main.join(values.lazy(), on=keys, how="left", nulls_equal=True).select(*keys, *names)
