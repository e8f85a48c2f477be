"""Clock skew: estimate each source's offset against the reference source from causal constraints.

Inside a correlated request every inner-layer event must lie within the reference gateway's span of
that request (``http.request`` events begin at ``ts``, ``http.response`` events end at it; with
``duration_ms`` both ends are known). For a source S and a request r this bounds S's offset:

    gateway_start - event_start  <=  offset  <=  gateway_end - event_end      (over S's events in r)

Each request gives an interval of offsets; the estimate is the region that satisfies the most
requests (a sweep over interval ends, so a few mis-attached events cannot drag it). When zero lies in
that region the source is left alone: nothing demands a correction (silent adjustment misleads, as
Jaeger's adjuster showed). Otherwise the offset is the middle of the region and half its width is
reported as the bound; a one-sided region gives the smallest correction that satisfies it. Offsets
beyond ``max_skew_ms`` are reported and not applied. Manual offsets from ``timeline.toml`` win.

Imprecise stamps are intervals (``spans.interval_columns``), and the evidence of a source in a
request uses only its most exact stamps: precise ones when it has any, else imprecise ones
(coarser than 1 ms), and inherited times (``ts_inherited``: then or later) only when it has nothing
else. The reference source's events all count (their intervals are sound, only wider).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl

from timeline.correlation.config import CorrelationConfig
from timeline.correlation.order import causal_rank
from timeline.correlation.spans import exactness, gateway_bounds, interval_columns


@dataclass
class Correction:
    """The estimate for one source, with its evidence."""

    source: str
    offset_ms: float
    applied: bool
    method: str  # estimated | manual | none
    requests: int = 0
    satisfied: int = 0
    low_ms: float | None = None
    high_ms: float | None = None
    bound_ms: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "source": self.source,
            "offset_ms": round(self.offset_ms, 3),
            "applied": self.applied,
            "method": self.method,
            "requests": self.requests,
            "requests_consistent": self.satisfied,
            "feasible_low_ms": None if self.low_ms is None else round(self.low_ms, 3),
            "feasible_high_ms": None if self.high_ms is None else round(self.high_ms, 3),
            "bound_ms": None if self.bound_ms is None else round(self.bound_ms, 3),
            "note": self.note,
        }


def source_stats(frame: pl.DataFrame) -> pl.DataFrame:
    """Events per (``source``, ``layer``): all (``n``) and those with a time (``n_ts``)."""
    return frame.group_by("source", "layer").agg(
        pl.len().alias("n"), pl.col("ts_source").is_not_null().sum().alias("n_ts")
    )


def reference_sources(stats: pl.DataFrame, reference: str) -> list[str]:
    """The reference source: the busiest source of the reference layer, or the sources matching a glob."""
    if reference in ("gateway", "policy", "retrieval", "inference", "other"):
        counts = (
            stats.filter(pl.col("layer") == reference)
            .group_by("source")
            .agg(pl.col("n").sum().alias("len"))
            .sort(["len", "source"], descending=[True, False])
        )
        return counts["source"].head(1).to_list()
    return sorted(
        s
        for s in stats["source"].unique().to_list()
        if s is not None and fnmatch.fnmatchcase(s, reference)
    )


def _sweep(intervals: pl.DataFrame) -> tuple[int, float, float]:
    """The region covered by the most intervals (lo, hi; nulls are infinite), nearest to zero."""
    points = pl.concat(
        [
            intervals.select(pl.col("lo").fill_null(-math.inf).alias("x"), pl.lit(1).alias("d")),
            intervals.select(pl.col("hi").fill_null(math.inf).alias("x"), pl.lit(-1).alias("d")),
        ]
    ).sort(["x", "d"], descending=[False, True])
    nxt_x, nxt_d = pl.col("x").shift(-1), pl.col("d").shift(-1)
    # a region opens after the last of a run of equal opening points and lasts to the next point
    opens = points.with_columns(
        pl.col("d").cum_sum().alias("cover"), nxt_x.fill_null(math.inf).alias("end")
    ).filter((pl.col("d") == 1) & (nxt_x.is_null() | (nxt_x != pl.col("x")) | (nxt_d != 1)))
    if opens.height == 0:
        return 0, -math.inf, math.inf
    best = int(opens["cover"].max())  # type: ignore[arg-type]
    regions = opens.filter(pl.col("cover") == best)
    distance = (
        pl.when((pl.col("x") <= 0) & (pl.col("end") >= 0))
        .then(0.0)
        .otherwise(pl.min_horizontal(pl.col("x").abs(), pl.col("end").abs()))
    )
    nearest = regions.with_columns(distance.alias("dist")).sort("dist", "x", maintain_order=True)
    return best, float(nearest["x"][0]), float(nearest["end"][0])


def _gateway_bounds(spans: pl.DataFrame, gateway: pl.DataFrame, source: str) -> pl.DataFrame:
    """Per request: the offsets that put ``source``'s events inside the reference gateway span."""
    return (
        spans.filter(pl.col("source") == source)
        .join(gateway, on="correlation_id", how="inner")
        .group_by("correlation_id")
        .agg(
            (pl.col("g_lo") - pl.col("inner_lo")).max().alias("lo"),
            (pl.col("g_hi") - pl.col("inner_hi")).min().alias("hi"),
        )
    )


# Data dependencies of the chain: a model call needs the retrieved documents, an output check the
# completion. Other inner steps are only ordered by their starts.
_DEPENDS = ((2, 3), (3, 4))


def _chain_bounds(spans: pl.DataFrame, source: str, trusted: set[str]) -> pl.DataFrame:
    """Per request: the offsets that keep ``source``'s events in causal order with trusted sources'
    inner events (policy input < retrieval < inference < policy output)."""
    inner = pl.col("rank").is_between(1, 4)
    own = spans.filter((pl.col("source") == source) & inner).select(
        "correlation_id",
        "rank",
        pl.col("outer_lo").alias("s_start_min"),
        pl.col("inner_lo").alias("s_start_max"),
        pl.col("inner_hi").alias("s_end_min"),
    )
    others = spans.filter(pl.col("source").is_in(sorted(trusted - {source})) & inner).select(
        "correlation_id",
        pl.col("rank").alias("n_rank"),
        pl.col("outer_lo").alias("n_start_min"),
        pl.col("inner_lo").alias("n_start_max"),
        pl.col("inner_hi").alias("n_end_min"),
    )
    dep_up = pl.any_horizontal(
        [(pl.col("n_rank") == a) & (pl.col("rank") == b) for a, b in _DEPENDS]
    )
    dep_down = pl.any_horizontal(
        [(pl.col("rank") == a) & (pl.col("n_rank") == b) for a, b in _DEPENDS]
    )
    lo = pl.when(pl.col("n_rank") < pl.col("rank")).then(
        pl.when(dep_up).then(pl.col("n_end_min")).otherwise(pl.col("n_start_min"))
        - pl.col("s_start_max")
    )
    hi = pl.when(pl.col("n_rank") > pl.col("rank")).then(
        pl.col("n_start_max")
        - pl.when(dep_down).then(pl.col("s_end_min")).otherwise(pl.col("s_start_min"))
    )
    return (
        own.join(others, on="correlation_id")
        .filter(pl.col("rank") != pl.col("n_rank"))
        .group_by("correlation_id")
        .agg(lo.max().alias("lo"), hi.min().alias("hi"))
    )


def _decide(c: Correction, lo: float, hi: float, config: CorrelationConfig) -> None:
    c.low_ms = None if math.isinf(lo) else lo
    c.high_ms = None if math.isinf(hi) else hi
    c.offset_ms, c.bound_ms, c.applied = 0.0, None, False
    if lo <= 0 <= hi:
        c.note = "consistent with the reference; no correction needed"
        return
    if math.isinf(lo) or math.isinf(hi):
        c.offset_ms = hi if math.isinf(lo) else lo
        c.note = "one-sided constraint: smallest correction that satisfies it"
    else:
        c.offset_ms = (lo + hi) / 2
        c.bound_ms = (hi - lo) / 2
        c.note = ""
    if abs(c.offset_ms) > config.max_skew_ms:
        c.note = f"estimated {c.offset_ms:.0f} ms exceeds max_skew_ms ({config.max_skew_ms:.0f}); not applied"
    else:
        c.applied = True


Buckets = Callable[[], Iterable[pl.DataFrame]]


def estimate(frame: pl.DataFrame, config: CorrelationConfig) -> list[Correction]:
    """``frame``: correlation_id, source, layer, event_type, policy_stage, ts_source, ts_raw,
    ts_precision_ms, ts_inherited, duration_ms, ts_at_end of id-linked events. See
    ``estimate_buckets``."""
    return estimate_buckets(lambda: [frame], config)


def _spans(frame: pl.DataFrame, refs: list[str]) -> pl.DataFrame:
    """Intervals and causal ranks of the timed events; a non-reference source's events in a
    request only at the best exactness it has there."""
    timed = frame.filter(pl.col("ts_source").is_not_null()).with_columns(exactness().alias("_x"))
    best = pl.col("_x") == pl.col("_x").min().over("correlation_id", "source")
    return (
        timed.filter(pl.col("source").is_in(refs) | best)
        .drop("_x")
        .with_columns(*interval_columns("ts_source"), causal_rank().alias("rank"))
    )


def _collect(pieces: list[pl.DataFrame]) -> pl.DataFrame:
    schema = {"correlation_id": pl.Int64, "lo": pl.Float64, "hi": pl.Float64}
    return pl.concat(pieces) if pieces else pl.DataFrame(schema=schema)


def estimate_buckets(buckets: Buckets, config: CorrelationConfig) -> list[Correction]:
    """Estimate every source's offset from id-linked events read bucket by bucket.

    ``buckets()`` yields frames as ``estimate`` takes them, each request wholly inside one frame;
    it is called three times (counts, pass 1, pass 2). Pass 1 bounds each source by the reference
    gateway span; pass 2 tightens the bounds with the causal chain against sources pass 1 left
    uncorrected. Only the per-request intervals are held, never the events."""
    stats_parts = [source_stats(b) for b in buckets()]
    stats = (
        pl.concat(stats_parts).group_by("source", "layer").agg(pl.col("n", "n_ts").sum())
        if stats_parts
        else pl.DataFrame(
            schema={"source": pl.String, "layer": pl.String, "n": pl.UInt32, "n_ts": pl.UInt32}
        )
    )
    sources = sorted(stats["source"].unique().drop_nulls().to_list())
    refs = reference_sources(stats, config.reference)
    manual = {
        s: m.offset_ms for s in sources for m in config.offsets if fnmatch.fnmatchcase(s, m.match)
    }
    timed = stats.filter(pl.col("n_ts") > 0)
    corrections: dict[str, Correction] = {}
    todo: list[str] = []
    for source in sources:
        if source in manual:
            corrections[source] = Correction(
                source, manual[source], True, "manual", note="set in timeline.toml"
            )
        elif source in refs:
            corrections[source] = Correction(source, 0.0, False, "none", note="reference clock")
        elif timed.filter(pl.col("source") == source)["layer"].unique().to_list() == [
            config.reference
        ]:
            corrections[source] = Correction(
                source, 0.0, False, "none", note="same layer as the reference; not estimated"
            )
        else:
            todo.append(source)
    first: dict[str, list[pl.DataFrame]] = {s: [] for s in todo}
    if todo:
        for bucket in buckets():
            spans = _spans(bucket, refs)
            gateway = (
                spans.filter(pl.col("source").is_in(refs))
                .group_by("correlation_id")
                .agg(gateway_bounds())
            )
            for source in todo:
                first[source].append(_gateway_bounds(spans, gateway, source))
    bounds: dict[str, pl.DataFrame] = {}
    for source in todo:
        per_request = _collect(first.pop(source)).filter(
            pl.col("lo").is_not_null() | pl.col("hi").is_not_null()
        )
        if per_request.height == 0:
            corrections[source] = Correction(
                source, 0.0, False, "none", note="shares no request with the reference"
            )
            continue
        satisfied, lo, hi = _sweep(per_request)
        c = Correction(source, 0.0, False, "estimated", per_request.height, satisfied)
        _decide(c, lo, hi, config)
        corrections[source] = c
        bounds[source] = per_request
    trusted = set(refs) | {
        s
        for s, c in corrections.items()
        if c.method == "estimated" and not c.applied and c.satisfied == c.requests
    }
    chains: dict[str, list[pl.DataFrame]] = {s: [] for s in bounds}
    if bounds:
        for bucket in buckets():
            spans = _spans(bucket, refs)
            for source in bounds:
                chains[source].append(_chain_bounds(spans, source, trusted))
    for source, per_request in bounds.items():
        _refine(corrections[source], per_request, _collect(chains.pop(source)), config)
    return [corrections[s] for s in sources]


def _refine(
    c: Correction, per_request: pl.DataFrame, chain: pl.DataFrame, config: CorrelationConfig
) -> None:
    if chain.height == 0:
        return
    combined = per_request.join(
        chain, on="correlation_id", how="full", coalesce=True, suffix="_c"
    ).select(
        "correlation_id",
        pl.max_horizontal("lo", "lo_c").alias("lo"),
        pl.min_horizontal("hi", "hi_c").alias("hi"),
    )
    satisfied, lo, hi = _sweep(combined)
    before = (
        c.low_ms if c.low_ms is not None else -math.inf,
        c.high_ms if c.high_ms is not None else math.inf,
    )
    if satisfied < 0.95 * combined.height or hi < before[0] or lo > before[1]:
        c.note = (
            c.note + "; " if c.note else ""
        ) + "causal chain constraints disagree; kept the gateway estimate"
        return
    c.requests, c.satisfied = combined.height, satisfied
    _decide(c, lo, hi, config)
    c.note = (c.note + "; " if c.note else "") + "refined with the causal chain of inner layers"
