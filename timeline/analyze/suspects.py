"""Suspects: attribute values over-represented among failing requests, with lift and intervals.

Evidence, not verdicts: a value that coincides with failures is listed with its counts, its lift
(share among failing requests / share among the rest), a 95 % interval, and the change point at
which it appeared, if any.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from timeline.analyze.evidence import cite
from timeline.analyze.features import carriers, first_carriers
from timeline.analyze.stats import lift, wilson

MAX_SUSPECTS: Final = 10


def value_counts(features: pl.DataFrame, n_failing: int, n_requests: int) -> pl.DataFrame:
    """Per (field, value): failing and other requests carrying it, shares, lift and intervals.

    ``features`` is ``feature_counts`` output; ``n_failing`` of ``n_requests`` requests fail.
    """
    n1 = n_failing
    n2 = n_requests - n1
    lo1, hi1 = wilson(pl.col("failing_with"), pl.lit(n1))
    lo2, hi2 = wilson(pl.col("rest_with"), pl.lit(n2))
    return (
        features.filter((pl.col("failing_with") + pl.col("rest_with")) > 0)
        .select("field", "value", "rank", "failing_with", "rest_with")
        .with_columns(
            pl.lit(n1, dtype=pl.Int64).alias("failing_total"),
            pl.lit(n2, dtype=pl.Int64).alias("rest_total"),
        )
        .with_columns(
            (pl.col("failing_with") / pl.col("failing_total")).alias("failing_share"),
            (pl.col("rest_with") / pl.col("rest_total")).alias("rest_share"),
            lo1.alias("failing_share_low"),
            hi1.alias("failing_share_high"),
            lo2.alias("rest_share_low"),
            hi2.alias("rest_share_high"),
            *lift(pl.col("failing_with"), pl.lit(n1), pl.col("rest_with"), pl.lit(n2)),
        )
        .sort(
            "lift_low",
            "failing_with",
            "rank",
            "value",
            descending=[True, True, False, False],
            nulls_last=True,
        )
    )


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def suspects(
    counts: pl.DataFrame,
    timeline: pl.LazyFrame,
    requests: pl.LazyFrame,
    change_points: list[dict[str, Any]],
    rise: dict[str, Any] | None,
    limit: int = MAX_SUSPECTS,
) -> list[dict[str, Any]]:
    """The values most over-represented among failing requests (lift > 1), best first.

    Ranked by the lower bound of the lift interval, then by failing requests carrying the value.
    ``requests`` carries ``failing``; carriers are read from ``timeline`` for the values listed.
    """
    top = counts.filter((pl.col("failing_with") > 0) & (pl.col("lift") > 1.0)).head(limit)
    failing_ids = requests.filter(pl.col("failing")).select("correlation_id")
    appeared = {(p["field"], p["value"]): p for p in change_points if p["kind"] == "appeared"}
    out = []
    for row in top.iter_rows(named=True):
        found = carriers(timeline, row["field"], row["value"]).join(
            failing_ids, on="correlation_id", how="semi"
        )
        firsts = first_carriers(found.collect())
        change = appeared.get((row["field"], row["value"]))
        item = {k: _round(v) for k, v in row.items() if k != "rank"}
        item["change"] = (
            {"minute": change["minute"], "at": change["at"], "evidence": change["evidence"]}
            if change
            else None
        )
        item["coincides_with_rise"] = bool(change and rise and change["minute"] <= rise["minute"])
        item["evidence"] = cite(firsts.sort("source_file", "source_line"))
        out.append(item)
    return out


def nearest_change_before(
    change_points: list[dict[str, Any]], rise: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The change point at or before the rise bucket that is closest to it (latest), if any."""
    if rise is None:
        return None
    before = [
        p for p in change_points if p["minute"] <= rise["minute"] and p["kind"] != "disappeared"
    ]
    if not before:
        return None
    return max(before, key=lambda p: (p["minute"], p["at"]))
