"""Causal ranking: which values are candidate causes, in what order, and which are symptoms.

Every (field, value) carried by requests gets its effect sizes (``analyze.suspects.value_counts``).
Here each one is

* a **failure mode** (how requests failed, never a cause) when it is logged (almost) only on
  failing events: at least ``SYMPTOM_RATE`` of the requests carrying it fail, (nearly) no
  successful request before the rise carries it, and on (nearly) every carrier it is logged only
  on events that are themselves failures (an error, a timeout, a block) beside other events of the
  request. A guardrail rail that appears in a trace only when it blocks is the typical case;
* a **likely candidate** when a one-sided Fisher exact test, Holm-corrected over every value
  tested, gives p < ``ALPHA``, the relative risk's 95 % interval lies above 1, the relative risk is
  at least ``MIN_RELATIVE_RISK`` and the value accounts for at least ``MIN_EXCESS_FAILURES`` excess
  failures;
* otherwise, when over-represented among failing requests (lift > 1), a value listed for context.

Likely candidates are ordered first by whether their value appeared (a change point) no later than
the rise bucket, then along the causal chain of a request (prompt / template, retrieval, model,
policy, then context: upstream, route, host), then by the time they appeared, then by excess
failures. Evidence, not verdicts: the order says where to look first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import polars as pl

from timeline.analyze.rise import ALPHA, MIN_EXCESS_FAILURES
from timeline.analyze.stats import fisher_greater, holm

STAGES: Final[dict[str, str]] = {
    "prompt_template": "prompt",
    "prompt_template_version": "prompt",
    "index_name": "retrieval",
    "index_version": "retrieval",
    "embedding_model": "retrieval",
    "model": "model",
    "model_revision": "model",
    "provider": "model",
    "policy_name": "policy",
    "policy_version": "policy",
    "upstream": "context",
    "http_route": "context",
    "host": "context",
}
STAGE_ORDER: Final = ("prompt", "retrieval", "model", "policy", "context")
SYMPTOM_RATE: Final = 0.95
SYMPTOM_BEFORE_SHARE: Final = 0.01
SYMPTOM_EVENT_SHARE: Final = 0.95
MIN_RELATIVE_RISK: Final = 1.5
# At most this many values get an exact test (the most over-represented ones); the others count
# as tested with p = 1 in the correction, which only makes it stricter.
MAX_TESTED: Final = 500


@dataclass(frozen=True)
class RankContext:
    """What the ranking needs besides the counts."""

    rise: dict[str, Any] | None
    rise_end: datetime | None
    rest_before_rise: int
    appeared: dict[tuple[str, str], dict[str, Any]]


def stage_of(field: str) -> str:
    """The step of the causal chain a field belongs to (``context`` for unknown fields)."""
    return STAGES.get(field, "context")


def _symptom() -> pl.Expr:
    carriers = pl.col("failing_with") + pl.col("rest_with")
    return (
        (pl.col("failing_with") > 0)
        & (pl.col("rate_with") >= SYMPTOM_RATE)
        & (pl.col("failing_event_only") >= SYMPTOM_EVENT_SHARE * carriers)
        & (pl.col("rest_before_limit") >= pl.col("rest_before_rise"))
    ).fill_null(False)


def _pvalues(frame: pl.DataFrame, n_failing: int, n_requests: int) -> pl.DataFrame:
    """One-sided Fisher p-values for the over-represented values that could be likely, and their
    Holm adjustment over every non-symptom value."""
    tests = int((~frame["symptom"]).sum())
    eligible = (
        frame.with_row_index("_i")
        .filter(
            ~pl.col("symptom")
            & (pl.col("failing_with") >= MIN_EXCESS_FAILURES)
            & (pl.col("relative_risk").fill_null(0.0) > 1.0)
        )
        .sort("relative_risk_low", descending=True, nulls_last=True)
        .head(MAX_TESTED)
    )
    pvalues: list[float | None] = [None] * frame.height
    for i, a, carriers in eligible.select("_i", "failing_with", "carriers").iter_rows():
        pvalues[i] = fisher_greater(int(a), int(carriers), n_failing, n_requests)
    adjusted = holm(pvalues, tests)
    return frame.with_columns(
        pl.Series("p_value", pvalues, dtype=pl.Float64),
        pl.Series("p_adjusted", adjusted, dtype=pl.Float64),
    )


def rank_values(
    counts: pl.DataFrame, n_failing: int, n_requests: int, ctx: RankContext
) -> pl.DataFrame:
    """``counts`` (``value_counts`` output) with ``stage``, ``symptom``, ``p_value``,
    ``p_adjusted``, ``likely``, ``appeared_at`` and ``causal_order`` (0, 1, ... for likely
    candidates in ranking order, null for the rest)."""
    limit = SYMPTOM_BEFORE_SHARE * ctx.rest_before_rise
    appeared_keys = list(ctx.appeared)
    appeared = pl.DataFrame(
        {
            "field": [k[0] for k in appeared_keys],
            "value": [k[1] for k in appeared_keys],
            "appeared_at": [ctx.appeared[k]["at"] for k in appeared_keys],
        },
        schema={"field": pl.String, "value": pl.String, "appeared_at": pl.String},
    )
    frame = (
        counts.with_columns(
            pl.col("field").replace_strict(STAGES, default="context").alias("stage"),
            pl.lit(limit).alias("rest_before_limit"),
        )
        .with_columns(
            pl.col("stage")
            .replace_strict({s: i for i, s in enumerate(STAGE_ORDER)}, return_dtype=pl.Int32)
            .alias("stage_rank"),
            _symptom().alias("symptom"),
        )
        .join(appeared, on=["field", "value"], how="left")
    )
    frame = _pvalues(frame, n_failing, n_requests)
    rise_end = None if ctx.rise_end is None else ctx.rise_end.isoformat().replace("+00:00", "Z")
    in_rise = pl.col("appeared_at").is_not_null()
    if rise_end is not None:
        in_rise = in_rise & (pl.col("appeared_at") < rise_end)
    likely = (
        ~pl.col("symptom")
        & (pl.col("p_adjusted") < ALPHA)
        & (pl.col("relative_risk_low") > 1.0)
        & (pl.col("relative_risk") >= MIN_RELATIVE_RISK)
        & (pl.col("excess_failures") >= MIN_EXCESS_FAILURES)
    ).fill_null(False)
    frame = frame.with_columns(likely.alias("likely"), in_rise.fill_null(False).alias("_in_rise"))
    ordered = frame.filter(pl.col("likely")).sort(
        [
            "_in_rise",
            "stage_rank",
            "appeared_at",
            "first_start",
            "excess_failures",
            "rank",
            "value",
        ],
        descending=[True, False, False, False, True, False, False],
        nulls_last=True,
    )
    order = ordered.select("field", "value").with_row_index("causal_order")
    return (
        frame.join(order.cast({"causal_order": pl.Int64}), on=["field", "value"], how="left")
        .drop("_in_rise", "rest_before_limit")
        .sort(
            "causal_order",
            "lift_low",
            "failing_with",
            "rank",
            "value",
            descending=[False, True, True, False, False],
            nulls_last=True,
        )
    )


def rise_end(rise: dict[str, Any] | None, width: int) -> datetime | None:
    """The end of the rise bucket (a cause appears no later than that), or None."""
    if rise is None or not rise.get("minute"):
        return None
    start = datetime.fromisoformat(str(rise["minute"]).replace("Z", "+00:00"))
    return start + timedelta(minutes=width)


def rise_start(rise: dict[str, Any] | None) -> datetime | None:
    """The start of the rise bucket as a datetime, or None."""
    if rise is None or not rise.get("minute"):
        return None
    return datetime.fromisoformat(str(rise["minute"]).replace("Z", "+00:00"))
