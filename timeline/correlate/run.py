"""The correlation stage: events.parquet -> timeline.parquet, requests.parquet, correlation.json."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from timeline.correlate.components import components
from timeline.correlate.config import CorrelationConfig
from timeline.correlate.heuristics import RuleStats, link
from timeline.correlate.ids import id_nodes
from timeline.correlate.order import order
from timeline.correlate.requests import REQUEST_INPUT_COLUMNS, requests_table
from timeline.correlate.skew import Correction, estimate
from timeline.correlate.spans import gateway_bounds, interval_columns
from timeline.io.atomic import write_text_atomic
from timeline.io.parquet import polars_schema_to_arrow, read_metadata, write_tables
from timeline.schema import ARROW_SCHEMA, POLARS_SCHEMA, conform, to_arrow

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


# The columns correlation reads; the rest of each event is only carried through.
COMPACT_COLUMNS: Final = (
    "event_id",
    "source_file",
    "source_line",
    "host",
    "ts_source",
    "ts_raw",
    "ts_at_end",
    "duration_ms",
    "layer",
    "event_type",
    "policy_stage",
    "ids",
    "client_address",
    "http_route",
    "session_id",
    "prompt_hash",
)
ASSIGNMENT_COLUMNS: Final = (
    "correlation_id",
    "correlation_method",
    "correlation_confidence",
    "ts",
    "clock_offset_ms",
    "seq",
    "offset_ms",
)


def assign(
    events: pl.DataFrame, config: CorrelationConfig
) -> tuple[pl.DataFrame, CorrelationReport]:
    """Correlate the compact columns of ``events`` (in file order).

    Returns one row per event: ``row`` (its index in ``events``), ``position`` (its index in the
    ordered timeline) and the correlation columns, plus the report (without request counts).
    """
    report = CorrelationReport(events=events.height)
    frame = events.select([c for c in COMPACT_COLUMNS if c in events.columns]).with_row_index("row")
    frame = frame.with_columns(pl.col("row").cast(pl.Int64))
    nodes = id_nodes(
        frame.select("row", pl.col("ts_source").alias("ts"), "ids"),
        config.exclude_kinds,
        config.max_events_per_id,
        config.max_id_span_s,
    )
    report.degenerate_ids = nodes.degenerate.to_dicts()
    frame = frame.drop("ids")  # the heaviest column; only the id graph needed it
    layer_of = frame.select("row", (pl.col("layer") != "gateway").cast(pl.Int8).alias("prio"))
    comps = components(nodes.edges.join(layer_of, on="row", how="left"))
    direct = (
        nodes.edges.join(comps, on="row")
        .filter(pl.col("node") == pl.col("primary"))
        .select("row")
        .unique()
    )
    del nodes, layer_of
    comps = comps.with_columns(
        pl.when(pl.col("row").is_in(direct["row"].implode()))
        .then(pl.lit("id"))
        .otherwise(pl.lit("alias"))
        .alias("method")
    )
    frame = frame.join(
        comps.select("row", "correlation_id", pl.col("method").alias("correlation_method")),
        on="row",
        how="left",
    )
    del comps, direct
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
    ordered = (
        order(frame).with_row_index("position").with_columns(pl.col("position").cast(pl.Int64))
    )
    counts = ordered.group_by("correlation_method").len()
    report.by_method = dict(
        zip(counts["correlation_method"].to_list(), counts["len"].to_list(), strict=True)
    )
    unattached = ordered.filter(pl.col("correlation_id").is_null())
    is_global = pl.col("event_type").is_in(list(GLOBAL_TYPES))
    report.global_events = unattached.filter(is_global).height
    orphans = unattached.filter(~is_global).group_by("layer").len()
    report.orphans_by_layer = dict(
        zip(orphans["layer"].to_list(), orphans["len"].to_list(), strict=True)
    )
    return ordered.select("row", "position", *ASSIGNMENT_COLUMNS), report


def apply_assignment(
    events: pl.DataFrame, assignment: pl.DataFrame, first_row: int = 0
) -> pl.DataFrame:
    """Events (rows ``first_row``.. of the file) with their correlation columns, canonical columns only."""
    base = events.drop(*ASSIGNMENT_COLUMNS, strict=False).with_row_index("row", offset=first_row)
    joined = base.with_columns(pl.col("row").cast(pl.Int64)).join(assignment, on="row", how="left")
    return joined.select([*POLARS_SCHEMA.names(), "position"])


def correlate(
    events: pl.DataFrame, config: CorrelationConfig
) -> tuple[pl.DataFrame, pl.DataFrame, CorrelationReport]:
    """In memory: the ordered timeline, the requests and the report for ``events``."""
    assignment, report = assign(events, config)
    timeline = apply_assignment(events, assignment).sort("position").drop("position")
    requests = requests_table(timeline)
    report.requests = requests.height
    return timeline, requests, report


def correlate_outdir(
    outdir: Path, events_file: str, config: CorrelationConfig, buckets: int = 0
) -> CorrelationReport:
    """Correlate ``outdir/events_file`` into the timeline, the requests and the report (atomically).

    Only the compact columns are held for the whole input. The full events are streamed once into
    buckets of consecutive timeline positions, then each bucket is sorted on its own and appended,
    so memory holds one bucket of full events at a time (``buckets``: 0 = about 250k events each).
    """
    events_path = outdir / events_file
    metadata = read_metadata(events_path)
    compact = conform_compact(pl.scan_parquet(events_path).select(COMPACT_COLUMNS).collect())
    assignment, report = assign(compact, config)
    del compact
    total = assignment.height
    count = buckets or max(1, -(-total // BUCKET_EVENTS))
    size = max(1, -(-total // count))
    # in file order, so that each streamed batch of events takes a contiguous slice
    assignment = assignment.sort("row").with_columns((pl.col("position") // size).alias("bucket"))
    with tempfile.TemporaryDirectory(prefix=".buckets-", dir=outdir) as tmp:
        parts = _scatter(events_path, assignment, Path(tmp), count)
        meta = {**metadata, "correlation": report.to_dict()}
        write_tables(outdir / TIMELINE_FILE, ARROW_SCHEMA, _gather(parts), meta)
    columns = pl.scan_parquet(outdir / TIMELINE_FILE).select(REQUEST_INPUT_COLUMNS).collect()
    requests = requests_table(columns.cast({c: POLARS_SCHEMA[c] for c in columns.columns}))
    report.requests = requests.height
    meta = {**metadata, "correlation": report.to_dict()}
    write_tables(
        outdir / REQUESTS_FILE, polars_schema_to_arrow(requests.schema), [requests.to_arrow()], meta
    )
    write_text_atomic(
        outdir / REPORT_FILE, json.dumps(report.to_dict(), indent=2, default=str) + "\n"
    )
    return report


BUCKET_EVENTS: Final = 250_000


def conform_compact(frame: pl.DataFrame) -> pl.DataFrame:
    """The compact columns with canonical types (the map column is not among them)."""
    return frame.cast({c: POLARS_SCHEMA[c] for c in frame.columns})


def _scatter(
    events_path: Path, assignment: pl.DataFrame, tmp: Path, count: int
) -> list[list[Path]]:
    """Stream the events file once, writing each batch's rows to the part of its bucket."""
    parts: list[list[Path]] = [[] for _ in range(count)]
    first = 0
    for n, batch in enumerate(pq.ParquetFile(events_path).iter_batches(batch_size=BATCH_ROWS)):
        frame = conform(pl.from_arrow(pa.Table.from_batches([batch])))  # type: ignore[arg-type]
        rows = assignment.slice(first, frame.height)
        joined = apply_assignment(frame, rows.drop("bucket"), first).with_columns(rows["bucket"])
        first += frame.height
        for (bucket,), part in joined.partition_by("bucket", as_dict=True).items():
            path = tmp / f"{bucket:05d}-{n:06d}.parquet"
            part.drop("bucket").write_parquet(path, compression="lz4", statistics=False)
            parts[int(bucket)].append(path)
    return parts


def _gather(parts: list[list[Path]]) -> Iterator[pa.Table]:
    for bucket in parts:
        if bucket:
            frame = (
                pl.concat([pl.read_parquet(p) for p in bucket]).sort("position").drop("position")
            )
            yield from _chunks(frame)


BATCH_ROWS: Final = 64 * 1024


def _chunks(timeline: pl.DataFrame, size: int = 256 * 1024) -> list[pa.Table]:
    return [to_arrow(timeline.slice(i, size)) for i in range(0, timeline.height, size)]
