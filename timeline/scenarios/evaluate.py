"""Score a built timeline against a scenario's ground truth."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from timeline.io.parquet import read_events
from timeline.layout import CORRELATION, TIMELINE


@dataclass
class Evaluation:
    """Assignment quality and clock recovery of one build of one scenario."""

    id_precision: float
    id_recall: float
    heuristic_precision: float
    heuristic_recall: float
    heuristic_events: int
    events_without_truth: int
    skews: list[dict[str, Any]] = field(default_factory=list)
    violations_after: int = 0
    # Requests whose id-linked events lie in two layers or more, and the share of them whose
    # events all landed in one correlated request.
    cross_layer_requests: int = 0
    joined_share: float = 1.0


def truth_frame(scenario: Path) -> pl.DataFrame:
    """Ground truth as rows: rel (path below logs/), line, key, method (``id``, ``heuristic``,
    or ``unlinked``: the line belongs to the request but nothing on it can link it)."""
    truth = json.loads((scenario / "ground_truth.json").read_text(encoding="utf-8"))
    rows = [
        (rel, line, key, method)
        for rel, items in truth["lines"].items()
        for line, key, method in items
    ]
    return pl.DataFrame(
        rows,
        schema={"rel": pl.String, "line": pl.Int64, "key": pl.String, "method": pl.String},
        orient="row",
    )


def with_truth(timeline: pl.DataFrame, scenario: Path) -> pl.DataFrame:
    """``timeline`` with the true request ``key`` and intended link ``method`` of every event."""
    rel = pl.col("source_file").str.extract(r"(?:^|/)logs/(.+)$", 1)
    return timeline.with_columns(rel.alias("rel")).join(
        truth_frame(scenario), left_on=["rel", "source_line"], right_on=["rel", "line"], how="left"
    )


def _pairs(counts: pl.Expr) -> pl.Expr:
    return (counts * (counts - 1) / 2).sum()


def pairwise(frame: pl.DataFrame, predicted: str, actual: str) -> tuple[float, float]:
    """Pairwise precision and recall of the predicted grouping against the true one."""
    pred = frame.filter(pl.col(predicted).is_not_null())
    tp = pred.group_by(predicted, actual).len().select(_pairs(pl.col("len"))).item()
    pp = pred.group_by(predicted).len().select(_pairs(pl.col("len"))).item()
    ap = frame.group_by(actual).len().select(_pairs(pl.col("len"))).item()
    return (tp / pp if pp else 1.0, tp / ap if ap else 1.0)


def evaluate(scenario: Path, outdir: Path) -> Evaluation:
    """Compare ``outdir``'s timeline and correlation report with ``scenario``'s ground truth."""
    timeline = with_truth(read_events(outdir / TIMELINE), scenario)
    ids = timeline.filter(pl.col("method") == "id")
    id_p, id_r = pairwise(ids, "correlation_id", "key")
    owner = (
        ids.filter(pl.col("correlation_id").is_not_null())
        .group_by("key")
        .agg(pl.col("correlation_id").mode().first().alias("owner"))
    )
    heur = timeline.filter(pl.col("method") == "heuristic").join(owner, on="key", how="left")
    attached = heur.filter(pl.col("correlation_id").is_not_null())
    correct = attached.filter(pl.col("correlation_id") == pl.col("owner")).height
    report = json.loads((outdir / CORRELATION).read_text(encoding="utf-8"))
    truth = json.loads((scenario / "ground_truth.json").read_text(encoding="utf-8"))
    skews = []
    injected_skews = [(rel, ms, False) for rel, ms in truth["skews_ms"].items()]
    injected_skews += [(host, ms, True) for host, ms in truth.get("host_skews_ms", {}).items()]
    for rel, injected, by_host in injected_skews:
        found = [
            c
            for c in report["clock_corrections"]
            if (str(c["source"]) == rel if by_host else str(c["source"]).endswith(rel))
        ]
        corrected = found[0]["offset_ms"] if found and found[0]["applied"] else 0.0
        skews.append(
            {
                "source": rel,
                "injected_ms": injected,
                "corrected_ms": corrected,
                "error_ms": abs(corrected + injected),
                "bound_ms": found[0]["bound_ms"] if found else None,
            }
        )
    crossing, joined = cross_layer(ids)
    return Evaluation(
        id_precision=id_p,
        id_recall=id_r,
        heuristic_precision=correct / attached.height if attached.height else 1.0,
        heuristic_recall=correct / heur.height if heur.height else 1.0,
        heuristic_events=heur.height,
        events_without_truth=timeline.filter(
            pl.col("key").is_null() & pl.col("correlation_id").is_not_null()
        ).height,
        skews=skews,
        violations_after=int(report["causal_violations_after"]),
        cross_layer_requests=crossing,
        joined_share=joined / crossing if crossing else 1.0,
    )


def cross_layer(ids: pl.DataFrame) -> tuple[int, int]:
    """Of the true requests whose id-linked events lie in two layers or more: how many there
    are, and how many have all those events in one correlated request."""
    per_key = (
        ids.filter(pl.col("key").is_not_null())
        .group_by("key")
        .agg(
            pl.col("layer").n_unique().alias("layers"),
            pl.col("correlation_id").n_unique().alias("requests"),
            pl.col("correlation_id").null_count().alias("unassigned"),
        )
        .filter(pl.col("layers") >= 2)
    )
    joined = per_key.filter((pl.col("requests") == 1) & (pl.col("unassigned") == 0)).height
    return per_key.height, joined
