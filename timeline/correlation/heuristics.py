"""Heuristic links: attach events without usable ids to a request sharing fields nearby in time.

Each rule names canonical fields that must be equal (``client_address`` and ``http_route``; a
``session_id``; a ``prompt_hash``) and a time window. An orphan is attached only when exactly one
request has a matching event within the window; when several do, it stays unattached and is
counted as ambiguous: a guess would put evidence in the wrong request. The confidence falls from
0.9 to 0.5 as the time distance grows to the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from timeline.correlation.config import HeuristicRule

LINK_SCHEMA = pl.Schema(
    {
        "row": pl.Int64(),
        "correlation_id": pl.String(),
        "confidence": pl.Float64(),
        "rule": pl.String(),
    }
)


@dataclass
class RuleStats:
    """What one rule did."""

    rule: str
    orphans: int = 0
    attached: int = 0
    ambiguous: int = 0
    no_match: int = 0

    def to_dict(self) -> dict[str, int | str]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "orphans": self.orphans,
            "attached": self.attached,
            "ambiguous": self.ambiguous,
            "no_match": self.no_match,
        }


def _layer_filter(layers: tuple[str, ...] | None) -> pl.Expr:
    return pl.lit(True) if layers is None else pl.col("layer").is_in(list(layers))


def link(
    frame: pl.DataFrame, rules: tuple[HeuristicRule, ...]
) -> tuple[pl.DataFrame, list[RuleStats]]:
    """``frame``: row, ts, layer, correlation_id (null for orphans; any type) and the rules' fields.

    Returns the links (row, correlation_id, confidence, rule) and per-rule statistics.
    """
    links: list[pl.DataFrame] = []
    stats: list[RuleStats] = []
    attached: set[int] = set()
    for rule in rules:
        st = RuleStats(rule.name)
        stats.append(st)
        keys = [k for k in rule.match if k in frame.columns]
        if len(keys) != len(rule.match):
            continue
        window_us = int(rule.window_ms * 1000)
        has_keys = (
            pl.all_horizontal([pl.col(k).is_not_null() for k in keys]) & pl.col("ts").is_not_null()
        )
        orphans = frame.filter(
            pl.col("correlation_id").is_null()
            & has_keys
            & _layer_filter(rule.orphan_layers)
            & ~pl.col("row").is_in(list(attached))
        ).select("row", "ts", *keys)
        st.orphans = orphans.height
        if orphans.height == 0:
            continue
        candidates = (
            frame.filter(
                pl.col("correlation_id").is_not_null()
                & has_keys
                & _layer_filter(rule.candidate_layers)
            )
            .select(pl.col("ts").alias("cts"), "correlation_id", *keys)
            .with_columns((pl.col("cts").dt.epoch("us") // window_us).alias("bucket"))
        )
        probe = (
            orphans.with_columns((pl.col("ts").dt.epoch("us") // window_us).alias("b0"))
            .with_columns(
                pl.concat_list(pl.col("b0") - 1, pl.col("b0"), pl.col("b0") + 1).alias("bucket")
            )
            .explode("bucket")
        )
        matched = (
            probe.join(candidates, on=[*keys, "bucket"], how="inner")
            .with_columns((pl.col("cts") - pl.col("ts")).dt.total_microseconds().abs().alias("dt"))
            .filter(pl.col("dt") <= window_us)
        )
        per_orphan = matched.group_by("row").agg(
            pl.col("correlation_id").n_unique().alias("n"),
            pl.col("correlation_id").sort_by("dt").first(),
            pl.col("dt").min(),
        )
        unique = per_orphan.filter(pl.col("n") == 1)
        st.attached = unique.height
        st.ambiguous = per_orphan.filter(pl.col("n") > 1).height
        st.no_match = st.orphans - st.attached - st.ambiguous
        attached.update(unique["row"].to_list())
        links.append(
            unique.select(
                "row",
                "correlation_id",
                (0.5 + 0.4 * (1 - pl.col("dt") / window_us)).round(3).alias("confidence"),
                pl.lit(rule.name).alias("rule"),
            )
        )
    schema = pl.Schema({**LINK_SCHEMA, "correlation_id": frame.schema["correlation_id"]})
    result = pl.concat(links) if links else pl.DataFrame(schema=schema)
    return result.cast(schema), stats
