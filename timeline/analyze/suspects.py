"""Suspects: attribute values over-represented among failing requests, with their effect sizes.

Evidence, not verdicts: a value that coincides with failures is listed with its counts, its lift
(share among failing requests / share among the rest) and 95 % interval, the failure rate with
and without it, the relative risk and its interval, the excess failures it accounts for, the share
of failing requests it covers, when it was first and last seen, and the change point at which it
appeared, if any. The order comes from ``analyze.ranking``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import polars as pl

from timeline.analyze.evidence import cite, iso
from timeline.analyze.features import carriers, first_carriers
from timeline.analyze.load import collect
from timeline.analyze.stats import lift, relative_risk, wilson

MAX_SUSPECTS: Final = 10
# A deploy or startup line this soon after a changed value is part of the same change (a restart
# that loaded a new revision logs for a minute or two after naming it).
EPISODE_MINUTES: Final = 5


def value_counts(features: pl.DataFrame, n_failing: int, n_requests: int) -> pl.DataFrame:
    """Per (field, value): failing and other requests carrying it, shares, lift and intervals.

    ``features`` is ``feature_counts`` output; ``n_failing`` of ``n_requests`` requests fail.
    """
    n1 = n_failing
    n2 = n_requests - n1
    lo1, hi1 = wilson(pl.col("failing_with"), pl.lit(n1))
    lo2, hi2 = wilson(pl.col("rest_with"), pl.lit(n2))
    carriers = pl.col("carriers")
    without = pl.lit(n_requests, dtype=pl.Int64) - carriers
    failing_without = pl.lit(n1, dtype=pl.Int64) - pl.col("failing_with")
    rate_with = pl.when(carriers > 0).then(pl.col("failing_with") / carriers)
    rate_without = pl.when(without > 0).then(failing_without / without)
    return (
        features.filter((pl.col("failing_with") + pl.col("rest_with")) > 0)
        .select(
            "field",
            "value",
            "rank",
            "failing_with",
            "rest_with",
            "failing_event_only",
            "rest_before_rise",
            "first_start",
            "last_start",
        )
        .with_columns((pl.col("failing_with") + pl.col("rest_with")).alias("carriers"))
        .with_columns(
            rate_with.alias("rate_with"),
            rate_without.alias("rate_without"),
            ((rate_with - rate_without) * carriers).alias("excess_failures"),
            (pl.col("failing_with") / n1 if n1 else pl.lit(None, dtype=pl.Float64)).alias(
                "failing_coverage"
            ),
            *relative_risk(pl.col("failing_with"), carriers, failing_without, without),
        )
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


# The columns of a ranked value shown for each suspect, in order.
SHOWN: Final = (
    "field",
    "value",
    "stage",
    "likely",
    "failing_with",
    "rest_with",
    "failing_total",
    "rest_total",
    "failing_share",
    "rest_share",
    "failing_share_low",
    "failing_share_high",
    "rest_share_low",
    "rest_share_high",
    "lift",
    "lift_low",
    "lift_high",
    "carriers",
    "rate_with",
    "rate_without",
    "relative_risk",
    "relative_risk_low",
    "relative_risk_high",
    "excess_failures",
    "failing_coverage",
    "p_value",
    "p_adjusted",
)


def present_since(end: datetime | None, span_s: float | None, width: int) -> datetime | None:
    """A value last carried at or after this time is still present at the window's end: the
    last bucket or the last 5 % of the window, whichever is longer."""
    if end is None:
        return None
    tail = max(60.0 * width, 0.05 * float(span_s or 0.0))
    return end - timedelta(seconds=tail)


def value_item(row: dict[str, Any], present_after: datetime | None) -> dict[str, Any]:
    """One ranked value as plain JSON values: counts, shares, effect sizes, first and last seen."""
    item = {k: _round(row.get(k)) for k in SHOWN}
    item["likely"] = bool(row.get("likely"))
    order = row.get("causal_order")
    item["causal_rank"] = None if order is None else int(order) + 1
    item["first_seen"] = iso(row.get("first_start"))
    item["last_seen"] = iso(row.get("last_start"))
    last = row.get("last_start")
    item["present_at_end"] = bool(
        last is not None and present_after is not None and last >= present_after
    )
    return item


def suspects(
    ranked: pl.DataFrame,
    timeline: pl.LazyFrame,
    requests: pl.LazyFrame,
    change_points: list[dict[str, Any]],
    rise: dict[str, Any] | None,
    present_after: datetime | None = None,
    limit: int = MAX_SUSPECTS,
) -> list[dict[str, Any]]:
    """Candidate causes: the likely candidates in causal order (``analyze.ranking``), then the
    other values over-represented among failing requests (lift > 1) by the lower bound of the
    lift interval. Failure modes (symptoms) are never among them.

    ``requests`` carries ``failing``; carriers are read from ``timeline`` for the values listed.
    """
    top = ranked.filter(
        ~pl.col("symptom") & (pl.col("failing_with") > 0) & (pl.col("lift") > 1.0)
    ).head(limit)
    return _with_evidence(top, timeline, requests, change_points, rise, present_after)


def _with_evidence(
    rows: pl.DataFrame,
    timeline: pl.LazyFrame,
    requests: pl.LazyFrame,
    change_points: list[dict[str, Any]],
    rise: dict[str, Any] | None,
    present_after: datetime | None,
) -> list[dict[str, Any]]:
    failing_ids = requests.filter(pl.col("failing")).select("correlation_id")
    appeared = {(p["field"], p["value"]): p for p in change_points if p["kind"] == "appeared"}
    out = []
    for row in rows.iter_rows(named=True):
        found = carriers(timeline, row["field"], row["value"]).join(
            failing_ids, on="correlation_id", how="semi"
        )
        # streaming: only the failing carriers are held (the carriers of a common value are
        # about every request)
        firsts = first_carriers(collect(found))
        change = appeared.get((row["field"], row["value"]))
        item = value_item(row, present_after)
        item["change"] = (
            {"minute": change["minute"], "at": change["at"], "evidence": change["evidence"]}
            if change
            else None
        )
        item["coincides_with_rise"] = bool(change and rise and change["minute"] <= rise["minute"])
        item["evidence"] = cite(firsts.sort("source_file", "source_line"))
        out.append(item)
    return out


def symptoms(
    ranked: pl.DataFrame,
    timeline: pl.LazyFrame,
    requests: pl.LazyFrame,
    change_points: list[dict[str, Any]],
    present_after: datetime | None = None,
    limit: int = MAX_SUSPECTS,
) -> list[dict[str, Any]]:
    """Values logged (almost) only on failing events: how requests failed, most failing first."""
    rows = ranked.filter(pl.col("symptom")).sort(
        "failing_with", "rank", "value", descending=[True, False, False]
    )
    return _with_evidence(rows.head(limit), timeline, requests, change_points, None, present_after)


def nearest_change_before(
    change_points: list[dict[str, Any]],
    rise: dict[str, Any] | None,
    failure_modes: set[tuple[str, str]] | None = None,
    width: int = 1,
) -> dict[str, Any] | None:
    """The change point nearest before the rise (the latest), if any.

    The rise's minute is a split estimated from per-bucket counts, known to about one bucket
    (``width`` minutes), so a change up to one bucket after its start still counts as before it.
    A disappearance is no such change, nor is a value that is a failure mode (``failure_modes``:
    (field, value) pairs logged only on failing events): a symptom is never "the change before
    the rise". A deploy or startup line logged within ``EPISODE_MINUTES`` after a changed value
    (a restart that loaded a new model_revision) is the same change: the value names it."""
    if rise is None or not rise.get("minute"):
        return None
    modes = failure_modes or set()
    limit = _at(rise["minute"]) + timedelta(minutes=width)
    before = [
        p
        for p in change_points
        if p["minute"] is not None
        and _at(p["minute"]) <= limit
        and p["kind"] != "disappeared"
        and (p["field"], p["value"]) not in modes
    ]
    if not before:
        return None
    best = max(before, key=lambda p: (p["minute"], p["kind"] == "appeared", p["at"] or ""))
    if best["kind"] == "appeared" or not best.get("at"):
        return best
    episode = [
        p
        for p in before
        if p["kind"] == "appeared"
        and p.get("at")
        and timedelta(0) <= _at(best["at"]) - _at(p["at"]) <= timedelta(minutes=EPISODE_MINUTES)
    ]
    return max(episode, key=lambda p: p["at"]) if episode else best


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
