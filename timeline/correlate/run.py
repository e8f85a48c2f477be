"""The correlation stage: events.parquet -> timeline.parquet, requests.parquet, correlation.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from timeline.correlate.components import components
from timeline.correlate.config import CorrelationConfig
from timeline.correlate.heuristics import RuleStats, link
from timeline.correlate.ids import id_nodes
from timeline.correlate.order import order
from timeline.correlate.requests import requests_table
from timeline.correlate.skew import Correction, estimate
from timeline.correlate.spans import gateway_bounds, interval_columns
from timeline.io.atomic import write_text_atomic
from timeline.io.parquet import polars_schema_to_arrow, read_events, read_metadata, write_tables
from timeline.schema import ARROW_SCHEMA, POLARS_SCHEMA, to_arrow

TIMELINE_FILE: Final = "timeline.parquet"
REQUESTS_FILE: Final = "requests.parquet"
REPORT_FILE: Final = "correlation.json"
GLOBAL_TYPES: Final = ("deploy.change", "server.start", "server.metrics", "server.log")


@dataclass
class CorrelationReport:
    """What correlation did, with the evidence for every decision."""

    events: int = 0
    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    orphans_by_layer: dict[str, int] = field(default_factory=dict)
    global_events: int = 0
    degenerate_ids: list[dict[str, Any]] = field(default_factory=list)
    heuristics: list[RuleStats] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    violations_before: int = 0
    violations_after: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "events": self.events,
            "requests": self.requests,
            "events_by_method": dict(sorted(self.by_method.items())),
            "orphans_by_layer": dict(sorted(self.orphans_by_layer.items())),
            "global_events": self.global_events,
            "degenerate_ids": self.degenerate_ids,
            "heuristics": [s.to_dict() for s in self.heuristics],
            "clock_corrections": [c.to_dict() for c in self.corrections],
            "causal_violations_before": self.violations_before,
            "causal_violations_after": self.violations_after,
        }

    def summary(self) -> str:
        """Two lines for the terminal."""
        m = self.by_method
        applied = [c for c in self.corrections if c.applied]
        fixes = ", ".join(f"{c.source} {c.offset_ms:+.1f} ms" for c in applied) or "none"
        return (
            f"correlated {self.events} events into {self.requests} requests (id {m.get('id', 0)}, alias "
            f"{m.get('alias', 0)}, heuristic {m.get('heuristic', 0)}); orphans "
            f"{sum(self.orphans_by_layer.values())}, global {self.global_events}, degenerate ids "
            f"{len(self.degenerate_ids)}\nclock corrections: {fixes}; causal violations "
            f"{self.violations_before} before, {self.violations_after} after"
        )


def _source(clock_source: str) -> pl.Expr:
    """The clock an event was stamped by: its host, else its file (or directory)."""
    path = pl.col("source_file")
    if clock_source == "directory":
        path = path.str.replace(r"/[^/]*$", "/")
    return pl.coalesce(pl.col("host"), path)


def violations(frame: pl.DataFrame, ts: str) -> int:
    """Requests in which an inner-layer event lies outside the gateway's span of the request.

    Only id-linked events count: a heuristic link is evidence of a weaker kind.
    """
    linked = frame.filter(
        pl.col("correlation_method").is_in(["id", "alias"]) & pl.col(ts).is_not_null()
    ).with_columns(interval_columns(ts))
    gw = (
        linked.filter(pl.col("layer") == "gateway").group_by("correlation_id").agg(gateway_bounds())
    )
    inner = linked.filter(pl.col("layer") != "gateway")
    bad = inner.join(gw, on="correlation_id").filter(
        (pl.col("inner_lo") < pl.col("g_lo")) | (pl.col("inner_hi") > pl.col("g_hi"))
    )
    return bad["correlation_id"].n_unique()


def correlate(
    events: pl.DataFrame, config: CorrelationConfig
) -> tuple[pl.DataFrame, pl.DataFrame, CorrelationReport]:
    """Assign requests, correct clocks, order; see the package docs."""
    report = CorrelationReport(events=events.height)
    frame = events.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))
    nodes = id_nodes(
        frame.select("row", pl.col("ts_source").alias("ts"), "ids"),
        config.exclude_kinds,
        config.max_events_per_id,
        config.max_id_span_s,
    )
    report.degenerate_ids = nodes.degenerate.to_dicts()
    layer_of = frame.select("row", (pl.col("layer") != "gateway").cast(pl.Int8).alias("prio"))
    comps = components(nodes.edges.join(layer_of, on="row", how="left"))
    direct = (
        nodes.edges.join(comps, on="row")
        .filter(pl.col("node") == pl.col("primary"))
        .select("row")
        .unique()
    )
    comps = comps.with_columns(
        pl.when(pl.col("row").is_in(direct["row"].implode()))
        .then(pl.lit("id"))
        .otherwise(pl.lit("alias"))
        .alias("method")
    )
    frame = frame.drop("correlation_id", "correlation_method", "correlation_confidence").join(
        comps.select("row", "correlation_id", pl.col("method").alias("correlation_method")),
        on="row",
        how="left",
    )
    keys = sorted({k for rule in config.heuristics for k in rule.match if k in frame.columns})
    links, report.heuristics = link(
        frame.select("row", pl.col("ts_source").alias("ts"), "layer", "correlation_id", *keys),
        config.heuristics,
    )
    frame = frame.join(
        links.select("row", pl.col("correlation_id").alias("h_cid"), "confidence"),
        on="row",
        how="left",
    )
    frame = frame.with_columns(
        pl.coalesce("correlation_id", "h_cid").alias("correlation_id"),
        pl.when(pl.col("correlation_method").is_not_null())
        .then(pl.col("correlation_method"))
        .when(pl.col("h_cid").is_not_null())
        .then(pl.lit("heuristic"))
        .otherwise(pl.lit("none"))
        .alias("correlation_method"),
        pl.when(pl.col("correlation_method").is_not_null())
        .then(1.0)
        .when(pl.col("h_cid").is_not_null())
        .then(pl.col("confidence"))
        .alias("correlation_confidence"),
    ).drop("h_cid", "confidence")

    frame = frame.with_columns(_source(config.clock_source).alias("source"))
    report.violations_before = violations(frame, "ts_source")
    linked = frame.filter(pl.col("correlation_method").is_in(["id", "alias"]))
    report.corrections = estimate(
        linked.select(
            "correlation_id",
            "source",
            "layer",
            "event_type",
            "policy_stage",
            "ts_source",
            "duration_ms",
            "ts_at_end",
            "ts_raw",
        ),
        config,
    )
    offsets = {c.source: c.offset_ms for c in report.corrections if c.applied}
    offset = (
        pl.col("source").replace_strict(offsets, default=0.0, return_dtype=pl.Float64)
        if offsets
        else pl.lit(0.0)
    )
    frame = frame.with_columns(
        (
            pl.col("ts_source") + pl.duration(microseconds=(offset * 1000).round(0).cast(pl.Int64))
        ).alias("ts"),
        pl.when(pl.col("ts_source").is_not_null()).then(offset).alias("clock_offset_ms"),
    )
    report.violations_after = violations(frame, "ts")
    timeline = order(frame.drop("row", "source")).select(POLARS_SCHEMA.names())
    requests = requests_table(timeline)
    report.requests = requests.height
    counts = timeline.group_by("correlation_method").len()
    report.by_method = dict(
        zip(counts["correlation_method"].to_list(), counts["len"].to_list(), strict=True)
    )
    unattached = timeline.filter(pl.col("correlation_id").is_null())
    is_global = pl.col("event_type").is_in(list(GLOBAL_TYPES))
    report.global_events = unattached.filter(is_global).height
    orphans = unattached.filter(~is_global).group_by("layer").len()
    report.orphans_by_layer = dict(
        zip(orphans["layer"].to_list(), orphans["len"].to_list(), strict=True)
    )
    return timeline, requests, report


def correlate_outdir(
    outdir: Path, events_file: str, config: CorrelationConfig
) -> CorrelationReport:
    """Read ``outdir/events_file``; write the timeline, the requests and the report atomically."""
    events_path = outdir / events_file
    metadata = read_metadata(events_path)
    events = read_events(events_path)
    timeline, requests, report = correlate(events, config)
    meta = {**metadata, "correlation": report.to_dict()}
    write_tables(outdir / TIMELINE_FILE, ARROW_SCHEMA, _chunks(timeline), meta)
    write_tables(
        outdir / REQUESTS_FILE, polars_schema_to_arrow(requests.schema), [requests.to_arrow()], meta
    )
    write_text_atomic(
        outdir / REPORT_FILE, json.dumps(report.to_dict(), indent=2, default=str) + "\n"
    )
    return report


def _chunks(timeline: pl.DataFrame, size: int = 256 * 1024) -> list[Any]:
    return [to_arrow(timeline.slice(i, size)) for i in range(0, max(timeline.height, 1), size)]
