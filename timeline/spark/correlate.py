"""Correlation on Spark: the local engine's stages (``timeline.correlation.pipeline``) as Spark jobs.

1. edges: row-range tasks read ``ids`` and explode them (``explode_ids``);
2. edges repartitioned by node: each partition judges its ids and numbers them (``judge_nodes``,
   ``number_nodes``; node numbers are unique per partition, ``partition << 32`` + index);
3. the links between the ids of one event, then connected components by large-star / small-star
   iterations in DataFrame operations (the graph never reaches the driver);
4. per component the primary node and its ``correlation_id`` (same choice and hash as local);
5. row-range tasks read the compact columns; each event gets its component and method;
6. id-less events by time slice (candidates copied to the neighbouring slices): ``heuristics.link``;
7. events repartitioned by request: clock-skew evidence per bucket, fed to ``estimate_buckets``
   (the local aggregation), then per bucket ``with_keys``, the sort, ``seq`` and ``offset_ms``;
8. row-range tasks join the full events with their columns and cut them by time range (from the
   per-second histogram) and the request inputs by request bucket;
9. per time range a sort; per request bucket ``requests_table``, cut by start; the driver streams
   the ranges in order into ``timeline.parquet`` and ``requests.parquet``.

Executors read ``events.parquet`` by path (a folder every executor sees at the same path), or,
given its URI (an output folder by URI: :mod:`timeline.spark.remote_out`), through Spark's Parquet
reader, each row numbered by its index in the file (``_metadata.row_index``). Every use of the
rows is row by row (or joined by row), so the two give the same cells.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import polars as pl
import pyarrow as pa

from timeline.correlation.config import CorrelationConfig
from timeline.correlation.graph import number_nodes
from timeline.correlation.heuristics import RuleStats, link
from timeline.correlation.ids import explode_ids, judge_nodes
from timeline.correlation.order import KEY_COLUMNS, NO_TIME, numbered, with_keys
from timeline.correlation.pipeline import (
    ASSIGN_SCHEMA,
    ASSIGNMENT_COLUMNS,
    EDGE_SCHEMA,
    EVIDENCE_COLUMNS,
    ORDER_BY,
    PART_EVENTS,
    SAMPLE_SCALE,
    SKEW_REQUESTS,
    Correlator,
    Layout,
    source_expr,
    value_counts,
    violations,
)
from timeline.correlation.report import GLOBAL_TYPES, CorrelationReport
from timeline.correlation.requests import REQUEST_INPUT_COLUMNS, REQUEST_SCHEMA, requests_table
from timeline.correlation.skew import estimate_buckets
from timeline.io.eventsfile import EventsFile
from timeline.schema import POLARS_SCHEMA, conform
from timeline.spark.frames import (
    BLOB_DDL,
    arrow_schema,
    blob_batch,
    bytes_frame,
    frame_bytes,
    from_batches,
    spark_ddl,
    to_batches,
)
from timeline.spark.timing import stage

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

NODE_SHIFT: Final = 32  # node numbers: partition << NODE_SHIFT + index within the partition
MAX_ROUNDS: Final = 200
_STATS: Final = "_stats"

_JUDGED_SCHEMA: Final = pl.Schema(
    {
        "kind": pl.String(),
        "row": pl.Int64(),
        "nid": pl.Int64(),
        "node": pl.String(),
        "prio": pl.Int8(),
    }
)
_DEGENERATE_SCHEMA: Final = pl.Schema(
    {
        "node": pl.String(),
        "kind": pl.String(),
        "value": pl.String(),
        "events": pl.UInt32(),
        "span_s": pl.Float64(),
        "reason": pl.String(),
    }
)


def _partition_id() -> int:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.partitionId() if context is not None else 0


def _task_frame(batches: Iterator[pa.RecordBatch], schema: pl.Schema) -> pl.DataFrame:
    return from_batches(list(batches), schema)


def _slice(path: str, columns: list[str] | None, layout: Layout, part: int) -> pl.DataFrame:
    """Row range ``part`` of the events file (``columns`` only), with ``row``."""
    scan = pl.scan_parquet(path)
    if columns is not None:
        scan = scan.select(columns)
    first = part * layout.span
    frame = scan.slice(first, layout.span).collect()
    return frame.with_row_index("row", offset=first).with_columns(pl.col("row").cast(pl.Int64))


OUTPUT_EVENTS: Final = 20_000  # about this many events per output range (one payload)
Rows = Callable[[pl.DataFrame], Iterator[pa.RecordBatch]]


class SparkCorrelator:
    """One correlation of an events file on Spark (see the module docstring). The driver reads
    ``events`` (a local file); executors read it by path, or by ``uri`` when given."""

    def __init__(
        self,
        spark: SparkSession,
        events: Path,
        config: CorrelationConfig,
        parts: int = 0,
        uri: str | None = None,
    ) -> None:
        self.spark = spark
        self.path = str(events)
        self.uri = uri
        source = EventsFile.parquet(events)
        self.file_columns = set(pl.read_parquet_schema(events))
        rows = source.rows
        count = parts or max(spark.sparkContext.defaultParallelism, -(-rows // PART_EVENTS))
        self.layout = Layout.for_rows(rows, max(1, min(count, max(1, rows))))
        self.parts = self.layout.parts
        # The local correlator gives the settings, the slices, the cuts and the report.
        self.local = Correlator(source, events.parent, config, self.layout)
        self.config = config
        self.report: CorrelationReport = self.local.report
        self._cached: list[DataFrame] = []
        # id of a checkpointed frame: the frame (kept alive, so the id stays its own), its JVM RDD
        self._checkpoints: dict[int, tuple[DataFrame, Any]] = {}

    # helpers
    def _keep(self, frame: DataFrame) -> DataFrame:
        from pyspark import StorageLevel

        kept = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(kept)
        return kept

    def _checkpoint(self, frame: DataFrame) -> DataFrame:
        """``frame`` computed once into a local checkpoint (lineage cut), released with the cache."""
        kept = frame.localCheckpoint()
        self._checkpoints[id(kept)] = (kept, _checkpoint_rdd(kept))
        return kept

    def _uncheckpoint(self, frame: DataFrame) -> None:
        """Free the blocks of ``frame``'s checkpoint: nothing may read ``frame`` afterwards."""
        _, rdd = self._checkpoints.pop(id(frame), (frame, None))
        if rdd is not None:
            rdd.unpersist(False)

    def release(self) -> None:
        """Drop every cached intermediate and checkpoint."""
        for frame in self._cached:
            frame.unpersist()
        self._cached.clear()
        for _, rdd in self._checkpoints.values():
            if rdd is not None:
                rdd.unpersist(False)
        self._checkpoints.clear()

    def _ranges(self) -> DataFrame:
        """One row per row range, one partition each."""
        parts = [(p,) for p in range(self.parts) if p * self.layout.span < self.layout.rows]
        rdd = self.spark.sparkContext.parallelize(parts, max(1, len(parts)))
        return self.spark.createDataFrame(rdd, "part long")

    def _rows(self, columns: list[str], each: Rows, ddl: str) -> DataFrame:
        """``each`` applied to the events' ``columns`` (with ``row``, as polars types), frame by
        frame: row ranges read by path, or Spark's batches of the file by URI."""
        path, layout = self.path, self.layout
        schema = pl.Schema({"row": pl.Int64(), **{c: POLARS_SCHEMA[c] for c in columns}})
        if self.uri is None:

            def by_path(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
                for batch in batches:
                    for part in batch.column("part").to_pylist():
                        yield from each(_slice(path, columns, layout, part).cast(schema))

            return self._ranges().mapInArrow(by_path, ddl)

        def by_uri(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for batch in batches:
                yield from each(from_batches([batch], schema))

        return self._read(columns).mapInArrow(by_uri, ddl)

    def _read(self, columns: list[str]) -> DataFrame:
        """The events by URI through Spark: ``row`` (the index in the file) and ``columns``."""
        from pyspark.sql import functions as sf

        assert self.uri is not None
        frame = self.spark.read.parquet(self.uri)
        return frame.select(sf.col("_metadata.row_index").cast("long").alias("row"), *columns)

    # 1
    def edges(self) -> DataFrame:
        """Every linking id of every event."""
        exclude = self.config.exclude_kinds
        out = arrow_schema(EDGE_SCHEMA)

        def each(frame: pl.DataFrame) -> Iterator[pa.RecordBatch]:
            edges = explode_ids(
                frame.select(
                    "row",
                    pl.col("ts_source").alias("ts"),
                    (pl.col("layer") != "gateway").fill_null(True).cast(pl.Int8).alias("prio"),
                    "ids",
                ),
                exclude,
            )
            yield from to_batches(edges.select(EDGE_SCHEMA.names()), out)

        return self._rows(["ids", "ts_source", "layer"], each, spark_ddl(EDGE_SCHEMA))

    def time_range(self) -> None:
        """The first and last ``ts_source`` (microseconds), as the local stage 1 notes them."""
        found = (
            pl.scan_parquet(self.path)
            .select(pl.col("ts_source").cast(POLARS_SCHEMA["ts_source"]).dt.epoch("us"))
            .select(pl.col("ts_source").min().alias("lo"), pl.col("ts_source").max().alias("hi"))
            .collect()
            .row(0)
        )
        lo, hi = found
        self.local.ts_range = (int(lo), int(hi)) if lo is not None and hi is not None else None

    # 2
    def judged(self, edges: DataFrame) -> DataFrame:
        """Per node partition: degenerate ids out (reported), usable ids numbered."""
        max_events, max_span = self.config.max_events_per_id, self.config.max_id_span_s
        out = arrow_schema(_JUDGED_SCHEMA)

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            frame = _task_frame(batches, EDGE_SCHEMA)
            if frame.height == 0:
                return
            judged = judge_nodes(frame, max_events, max_span)
            base = _partition_id() << NODE_SHIFT
            rows, nodes = number_nodes(judged.edges.select("row", "node", "prio"), 0)
            rows = rows.with_columns(pl.col("nid") + base)
            nodes = nodes.with_columns(pl.col("nid") + base)
            yield from to_batches(
                rows.select(
                    pl.lit("row").alias("kind"),
                    "row",
                    "nid",
                    pl.lit(None, pl.String).alias("node"),
                    pl.lit(None, pl.Int8).alias("prio"),
                ),
                out,
            )
            yield from to_batches(
                nodes.select(
                    pl.lit("node").alias("kind"),
                    pl.lit(None, pl.Int64).alias("row"),
                    "nid",
                    "node",
                    "prio",
                ),
                out,
            )
            if judged.degenerate.height:
                texts = [json.dumps(d) for d in judged.degenerate.to_dicts()]
                deg = pl.DataFrame({"node": texts}).select(
                    pl.lit("degenerate").alias("kind"),
                    pl.lit(None, pl.Int64).alias("row"),
                    pl.lit(None, pl.Int64).alias("nid"),
                    "node",
                    pl.lit(None, pl.Int8).alias("prio"),
                )
                yield from to_batches(deg, out)

        return self._keep(
            edges.repartition(self.parts, "node").mapInArrow(run, spark_ddl(_JUDGED_SCHEMA))
        )

    def degenerate(self, judged: DataFrame) -> None:
        """The degenerate-id report, in the local engine's order."""
        texts = [r["node"] for r in judged.where("kind = 'degenerate'").select("node").collect()]
        if not texts:
            return
        frame = pl.DataFrame(
            [json.loads(t) for t in texts], schema=_DEGENERATE_SCHEMA, orient="row"
        )
        ordered = frame.sort("events", "node", descending=[True, False])
        self.report.degenerate_ids = ordered.to_dicts()

    # 3
    def labels(self, judged: DataFrame) -> DataFrame:
        """(nid, label): every linked node's component, the smallest node number in it."""
        from pyspark.sql import Window
        from pyspark.sql import functions as sf

        rows = judged.where("kind = 'row'").select("row", "nid")
        first = rows.withColumn("a", sf.min("nid").over(Window.partitionBy("row")))
        links = first.where(sf.col("nid") != sf.col("a")).select("a", sf.col("nid").alias("b"))
        edges = links.select(
            sf.greatest("a", "b").alias("u"), sf.least("a", "b").alias("v")
        ).distinct()
        # Each round is a local checkpoint: it cuts the lineage (the plans of the rounds nest,
        # and uncut they grow exponentially). Its blocks would stay in storage until the JVM
        # collects the RDD, and across builds in one session they starved the aggregations of
        # memory (AGGREGATE_OUT_OF_MEMORY on a 2 GB driver): each round's blocks are released
        # once the next round is computed, and the last round's with the cache.
        edges = self._checkpoint(edges)
        for _ in range(MAX_ROUNDS):
            done = self._checkpoint(_small_star(_large_star(edges)))
            self._uncheckpoint(edges)
            edges = done
            if _is_star_forest(edges):
                break
        else:  # pragma: no cover - alias chains are far shorter
            raise RuntimeError("connected components did not converge")
        centers = (
            edges.select(sf.col("v").alias("nid")).distinct().withColumn("label", sf.col("nid"))
        )
        leaves = edges.select(sf.col("u").alias("nid"), sf.col("v").alias("label"))
        return self._keep(leaves.unionByName(centers))

    # 4
    def primaries(self, judged: DataFrame, labels: DataFrame) -> DataFrame:
        """(label, primary, correlation_id) per component."""
        from pyspark.sql import functions as sf

        nodes = judged.where("kind = 'node'").select("nid", "node", "prio")
        labelled = nodes.join(labels, "nid", "left").withColumn(
            "label", sf.coalesce("label", "nid")
        )
        best = labelled.groupBy("label").agg(sf.min(sf.struct("prio", "node", "nid")).alias("best"))
        found = best.select(
            "label",
            sf.col("best.nid").alias("primary"),
            sf.concat(sf.lit("r-"), sf.substring(sf.sha2(sf.col("best.node"), 256), 1, 12)).alias(
                "correlation_id"
            ),
        )
        found = self._keep(found)
        self.report.requests = self.local.components = found.count()
        return found

    # 5
    def assign(self, judged: DataFrame, labels: DataFrame, cids: DataFrame) -> DataFrame:
        """Compact events with their component (``label``), method, confidence and clock source."""
        from pyspark.sql import functions as sf

        rows = judged.where("kind = 'row'").select("row", "nid")
        per_row = (
            rows.join(labels, "nid", "left")
            .withColumn("label", sf.coalesce("label", "nid"))
            .join(cids.select("label", "primary"), "label", "left")
            .groupBy("row")
            .agg(
                sf.min("label").alias("label"),
                sf.max((sf.col("nid") == sf.col("primary")).cast("int")).alias("direct"),
            )
        )
        columns = self.local.columns
        read_schema = pl.Schema({"row": pl.Int64(), **{c: POLARS_SCHEMA[c] for c in columns}})
        read_out = arrow_schema(read_schema)

        def read(frame: pl.DataFrame) -> Iterator[pa.RecordBatch]:
            yield from to_batches(frame.select(read_schema.names()), read_out)

        compact = self._rows(list(columns), read, spark_ddl(read_schema))
        joined = compact.join(per_row, "row", "left")
        joined_schema = pl.Schema({**read_schema, "label": pl.Int64(), "direct": pl.Int32()})
        clock = self.config.clock_source
        schema = self.local.compact
        out = arrow_schema(schema)

        def methods(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for batch in batches:
                frame = from_batches([batch], joined_schema).with_columns(
                    source_expr(clock).alias("source"),
                    pl.when(pl.col("direct") == 1)
                    .then(pl.lit("id"))
                    .when(pl.col("label").is_not_null())
                    .then(pl.lit("alias"))
                    .alias("correlation_method"),
                    pl.when(pl.col("label").is_not_null())
                    .then(1.0)
                    .alias("correlation_confidence"),
                )
                yield from to_batches(frame.select(schema.names()), out)

        return joined.mapInArrow(methods, spark_ddl(schema))

    # 6
    def heuristics(self, compact: DataFrame) -> DataFrame:
        """Every event with its request: id-linked, heuristically attached, or alone."""
        from pyspark.sql import functions as sf

        slices = self.local.slices()
        keys = self.local.keys
        if not slices:
            return compact
        compact = self._keep(compact)  # read three times below: once from the events file
        lo, width, _count = slices
        any_key = sf.lit(False)
        for k in keys:
            any_key = any_key | sf.col(k).isNotNull()
        eligible = sf.col("ts_source").isNotNull() & any_key
        micros = sf.unix_micros("ts_source")
        slot = sf.floor((micros - sf.lit(lo)) / sf.lit(width)).cast("long")
        linked = sf.col("label").isNotNull()
        waiting = compact.where(~linked & eligible).withColumns(
            {"_slot": slot, "_origin": slot, "_orphan": sf.lit(True)}
        )
        near = compact.where(linked & eligible).withColumn("_origin", slot)
        near = near.withColumn(
            "_slot", sf.explode(sf.array(*[sf.col("_origin") + d for d in (-1, 0, 1)]))
        )
        near = near.withColumn("_orphan", sf.lit(False))
        rest = compact.where(~(~linked & eligible))
        schema = self.local.compact
        in_schema = pl.Schema(
            {**schema, "_slot": pl.Int64(), "_origin": pl.Int64(), "_orphan": pl.Boolean()}
        )
        out_schema = pl.Schema({**schema, _STATS: pl.String()})
        out = arrow_schema(out_schema)
        rules = self.local.rules

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            frame = _task_frame(batches, in_schema)
            for _slot, group in frame.partition_by(
                "_slot", as_dict=True, maintain_order=True
            ).items():
                waiting = group.filter(pl.col("_orphan")).sort("row")
                if waiting.height == 0:
                    continue
                near = group.filter(~pl.col("_orphan")).sort("_origin", "row")
                both = pl.concat([waiting, near]).select(
                    "row",
                    pl.col("ts_source").alias("ts"),
                    "layer",
                    pl.col("label").alias("correlation_id"),
                    *keys,
                )
                links, stats = link(both, rules)
                found = links.select("row", pl.col("correlation_id").alias("h_label"), "confidence")
                joined = waiting.join(found, on="row", how="left").with_columns(
                    pl.coalesce("label", "h_label").alias("label"),
                    pl.when(pl.col("h_label").is_not_null())
                    .then(pl.lit("heuristic"))
                    .alias("correlation_method"),
                    pl.col("confidence").alias("correlation_confidence"),
                )
                yield from to_batches(
                    joined.select(schema.names()).with_columns(
                        pl.lit(None, pl.String).alias(_STATS)
                    ),
                    out,
                )
                text = json.dumps([s.to_dict() for s in stats])
                marker = (
                    pl.DataFrame(schema=schema)
                    .clear(1)
                    .with_columns(pl.lit(-1, pl.Int64).alias("row"), pl.lit(text).alias(_STATS))
                )
                yield from to_batches(marker, out)

        together = waiting.unionByName(near).repartition(self.parts, "_slot")
        linked_out = self._keep(together.mapInArrow(run, spark_ddl(out_schema)))
        totals = {r.name: RuleStats(r.name) for r in rules}
        for row in linked_out.where(sf.col(_STATS).isNotNull()).select(_STATS).collect():
            for st in json.loads(row[_STATS]):
                total = totals[st["rule"]]
                total.orphans += st["orphans"]
                total.attached += st["attached"]
                total.ambiguous += st["ambiguous"]
                total.no_match += st["no_match"]
        self.report.heuristics = [totals[r.name] for r in rules]
        attached = linked_out.where(sf.col(_STATS).isNull()).drop(_STATS)
        return rest.unionByName(attached)

    # 7
    def buckets(self, events: DataFrame, cids: DataFrame) -> DataFrame:
        """Events with their ``correlation_id``, one request wholly in one partition."""
        from pyspark.sql import functions as sf

        joined = events.join(cids.select("label", "correlation_id"), "label", "left")
        key = sf.coalesce(sf.col("label"), -sf.col("row") - 1)
        return self._keep(joined.repartition(self.parts, key))

    def corrections(self, buckets: DataFrame) -> dict[str, float]:
        """Clock offsets from every bucket's evidence (the local aggregation, fed per bucket)."""
        share = min(1.0, SKEW_REQUESTS / max(1, self.local.components))
        schema = pl.Schema({**self.local.compact, "correlation_id": pl.String()})

        def evidence(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            frame = _task_frame(batches, schema).filter(
                pl.col("correlation_method").is_in(["id", "alias"])
            )
            if share < 1.0:
                frame = frame.filter(
                    pl.col("correlation_id").hash(seed=0) % SAMPLE_SCALE < int(share * SAMPLE_SCALE)
                )
            picked = frame.select(pl.col("label").alias("correlation_id"), *EVIDENCE_COLUMNS)
            yield blob_batch([(_partition_id(), 0, "evidence", frame_bytes(picked))])

        cells = self._keep(buckets.mapInArrow(evidence, BLOB_DDL))
        cells.count()

        def frames() -> Iterator[pl.DataFrame]:
            for payload in ordered_payloads(cells):
                yield bytes_frame(payload)

        self.report.corrections = estimate_buckets(frames, self.config)
        return {c.source: c.offset_ms for c in self.report.corrections if c.applied}

    def order(self, buckets: DataFrame, offsets: dict[str, float]) -> DataFrame:
        """Per bucket: ``ts``, the sort keys, ``seq`` and ``offset_ms``; the counts and histogram."""
        from pyspark.sql import functions as sf

        schema = pl.Schema({**self.local.compact, "correlation_id": pl.String()})
        out_schema = pl.Schema({**ASSIGN_SCHEMA, _STATS: pl.String()})
        out = arrow_schema(out_schema)

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            frame = _task_frame(batches, schema)
            if frame.height == 0:
                return
            offset = (
                pl.col("source").replace_strict(offsets, default=0.0, return_dtype=pl.Float64)
                if offsets
                else pl.lit(0.0)
            )
            frame = frame.with_columns(pl.col("correlation_method").fill_null("none"))
            before = violations(frame, "ts_source")
            us = (offset * 1000).round(0).cast(pl.Int64)
            frame = frame.with_columns(
                (pl.col("ts_source") + pl.duration(microseconds=us)).alias("ts"),
                pl.when(pl.col("ts_source").is_not_null()).then(offset).alias("clock_offset_ms"),
            )
            after = violations(frame, "ts")
            ordered = numbered(with_keys(frame).sort(ORDER_BY, nulls_last=True))
            unattached = ordered.filter(pl.col("correlation_id").is_null())
            is_global = pl.col("event_type").is_in(list(GLOBAL_TYPES))
            seconds = (ordered["_ts_key"] // 1_000_000).value_counts()
            stats = {
                "before": before,
                "after": after,
                "methods": value_counts(ordered, "correlation_method"),
                "global": unattached.filter(is_global).height,
                "orphans": value_counts(unattached.filter(~is_global), "layer"),
                "histogram": [[int(s), int(n)] for s, n in seconds.iter_rows()],
            }
            yield from to_batches(
                ordered.select(ASSIGN_SCHEMA.names()).with_columns(
                    pl.lit(None, pl.String).alias(_STATS)
                ),
                out,
            )
            marker = (
                pl.DataFrame(schema=ASSIGN_SCHEMA)
                .clear(1)
                .with_columns(
                    pl.lit(-1, pl.Int64).alias("row"), pl.lit(json.dumps(stats)).alias(_STATS)
                )
            )
            yield from to_batches(marker.with_columns(pl.col(_STATS)), out)

        assigned = self._keep(buckets.mapInArrow(run, spark_ddl(out_schema)))
        methods: Counter[str] = Counter()
        orphans: Counter[str] = Counter()
        for row in assigned.where(sf.col(_STATS).isNotNull()).select(_STATS).collect():
            stats = json.loads(row[_STATS])
            self.report.violations_before += stats["before"]
            self.report.violations_after += stats["after"]
            methods.update(stats["methods"])
            orphans.update(stats["orphans"])
            self.report.global_events += stats["global"]
            for second, n in stats["histogram"]:
                self.local.histogram[second] += n
        self.report.by_method = dict(methods)
        self.report.orphans_by_layer = dict(orphans)
        return assigned.where(sf.col(_STATS).isNull()).drop(_STATS)

    # 8-9
    def outputs(self, assigned: DataFrame) -> tuple[DataFrame, DataFrame]:
        """The timeline's and the requests' cells, keyed by time range, in order."""
        from pyspark.sql import functions as sf

        # Smaller ranges than the local engine's partitions: a range is one payload the JVM holds
        # whole (twice, with the prefetch of toLocalIterator) beside the cached cells.
        cuts = self.local.boundaries(min(OUTPUT_EVENTS, PART_EVENTS))
        cut_list = cuts.to_list()
        path, layout, parts = self.path, self.layout, self.parts
        keep = [*POLARS_SCHEMA.names(), *KEY_COLUMNS, "row"]
        assign_schema = pl.Schema({**ASSIGN_SCHEMA, "_range": pl.Int64()})

        def by_path(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            frame = _task_frame(batches, assign_schema)
            for (part,), mine in frame.partition_by("_range", as_dict=True).items():
                raw = _slice(path, None, layout, int(part))
                events = conform(raw.drop("row")).drop(*ASSIGNMENT_COLUMNS).with_columns(raw["row"])
                joined = events.join(
                    mine.drop("_range"), on="row", how="left", maintain_order="left"
                )
                yield from cut(joined, int(part))

        # By URI: Spark joins each event (the file's columns) to its assignment by row.
        present = [
            c for c in POLARS_SCHEMA.names() if c in self.file_columns and c not in ASSIGN_SCHEMA
        ]
        joined_schema = pl.Schema(
            {"row": pl.Int64(), **{c: POLARS_SCHEMA[c] for c in present}, **assign_schema}
        )

        def by_uri(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            frame = _task_frame(batches, joined_schema)
            for (part,), mine in frame.partition_by("_range", as_dict=True).items():
                events = conform(mine.select(present)).drop(*ASSIGNMENT_COLUMNS)
                assigned_part = mine.select(ASSIGN_SCHEMA.names())
                yield from cut(pl.concat([events, assigned_part], how="horizontal"), int(part))

        def cut(joined: pl.DataFrame, part: int) -> Iterator[pa.RecordBatch]:
            """One row range's events cut by time range, and its request inputs by bucket."""
            if not joined.height:
                return
            cut_series = pl.Series("cut", cut_list, dtype=pl.Int64)
            where = cut_series.search_sorted(joined["_ts_key"], side="right")
            joined = joined.with_columns(where.alias("_where"))
            for (w,), piece in joined.partition_by("_where", as_dict=True).items():
                payload = frame_bytes(piece.select(keep))
                yield blob_batch([(int(w), part, "timeline", payload)])
            linked = joined.filter(pl.col("label").is_not_null())
            inputs_cols = [
                *REQUEST_INPUT_COLUMNS,
                *(c for c in ORDER_BY if c not in REQUEST_INPUT_COLUMNS),
                "label",
            ]
            linked = linked.select(inputs_cols).with_columns((pl.col("label") % parts).alias("_b"))
            for (b,), piece in linked.partition_by("_b", as_dict=True).items():
                yield blob_batch([(int(b), part, "inputs", frame_bytes(piece.drop("_b")))])

        range_of = sf.floor(sf.col("row") / sf.lit(layout.span)).cast("long").alias("_range")
        if self.uri is None:
            ranged = assigned.select("*", range_of)
            scatter = by_path
        else:
            ranged = self._read(present).join(assigned, "row", "left").select("*", range_of)
            scatter = by_uri
        cells = self._keep(ranged.repartition(self.parts, "_range").mapInArrow(scatter, BLOB_DDL))
        # Partitions by range of key (Spark samples the cached keys), about one time range each
        # (what the driver holds at a time), each sorted by one task: streamed in partition
        # order they are in key order, every partition computed once.
        ranges = len(cut_list) + 1
        timeline = (
            cells.where("kind = 'timeline'")
            .repartitionByRange(ranges, "key")
            .mapInArrow(_sort_ranges, BLOB_DDL)
        )

        def requests(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            cut_series = pl.Series("cut", cut_list, dtype=pl.Int64)
            for key, frames in _grouped(batches):
                table = requests_table(pl.concat(frames).sort(ORDER_BY, nulls_last=True))
                start = table["start"].dt.epoch("us").fill_null(NO_TIME)
                where = cut_series.search_sorted(start, side="right")
                table = table.with_columns(where.alias("_where"))
                for (w,), piece in table.partition_by("_where", as_dict=True).items():
                    yield blob_batch([(int(w), key, "requests", frame_bytes(piece.drop("_where")))])

        inputs = cells.where("kind = 'inputs'").repartition(self.parts, "key")
        per_range = self._keep(inputs.mapInArrow(requests, BLOB_DDL))
        ranged_requests = per_range.repartitionByRange(ranges, "key")
        return timeline, ranged_requests.mapInArrow(_sort_requests, BLOB_DDL)


def _grouped(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, list[pl.DataFrame]]]:
    """Cells of a partition grouped by key (in key order), each as its frames (in seq order)."""
    cells: dict[int, list[tuple[int, bytes]]] = {}
    for batch in batches:
        for key, seq, payload in zip(
            batch.column("key").to_pylist(),
            batch.column("seq").to_pylist(),
            batch.column("payload").to_pylist(),
            strict=True,
        ):
            cells.setdefault(key, []).append((seq, payload))
    for key in sorted(cells):
        yield key, [bytes_frame(p) for _, p in sorted(cells[key], key=lambda c: c[0])]


def _sort_ranges(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for key, frames in _grouped(batches):
        frame = pl.concat(frames).sort(ORDER_BY, nulls_last=True).select(POLARS_SCHEMA.names())
        yield blob_batch([(key, 0, "timeline", frame_bytes(frame))])


def _sort_requests(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for key, frames in _grouped(batches):
        frame = pl.concat(frames).sort("start", "correlation_id", nulls_last=True)
        yield blob_batch([(key, 0, "requests", frame_bytes(frame))])


def _checkpoint_rdd(frame: DataFrame) -> Any:
    """The JVM RDD holding the blocks of a local checkpoint, or None where the plan does not show
    it (another Spark flavour): its blocks are then left to Spark's cleaner."""
    try:
        plan = frame._jdf.queryExecution().analyzed()
        if plan.getClass().getSimpleName() == "LogicalRDD":
            return plan.rdd()
    except Exception:  # a private accessor: releasing early is only an optimisation
        return None
    return None


def _large_star(edges: DataFrame) -> DataFrame:
    """Every node's larger neighbours linked to the smallest of the node and its neighbours."""
    from pyspark.sql import functions as sf

    both = edges.unionByName(edges.select(sf.col("v").alias("u"), sf.col("u").alias("v")))
    smallest = both.groupBy("u").agg(sf.least(sf.col("u"), sf.min("v")).alias("m"))
    return (
        both.join(smallest, "u")
        .where(sf.col("v") > sf.col("u"))
        .select(sf.col("v").alias("u"), sf.col("m").alias("v"))
        .distinct()
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Every node and its smaller neighbours linked to the smallest of them (edges ``u > v``)."""
    from pyspark.sql import functions as sf

    smallest = edges.groupBy("u").agg(sf.min("v").alias("m"))
    spokes = edges.join(smallest, "u").select(sf.col("v").alias("x"), "m")
    hubs = smallest.select(sf.col("u").alias("x"), "m")
    both = spokes.unionByName(hubs).where(sf.col("x") != sf.col("m"))
    return both.select(sf.greatest("x", "m").alias("u"), sf.least("x", "m").alias("v")).distinct()


def _is_star_forest(edges: DataFrame) -> bool:
    """Every edge leads from a leaf to its component's smallest node (no leaf is a centre)."""
    from pyspark.sql import functions as sf

    centres = edges.select(sf.col("v").alias("u"), sf.lit(True).alias("centre")).distinct()
    degree = edges.groupBy("u").agg(sf.count(sf.lit(1)).alias("n"))
    wrong = degree.join(centres, "u", "left").where((sf.col("n") > 1) | sf.col("centre"))
    return wrong.limit(1).count() == 0  # one job: a leaf is a centre, or has two centres


def ordered_payloads(cells: DataFrame) -> Iterator[bytes]:
    """The cells' payloads in (key, seq) order, streamed to the driver a cell at a time.

    Range-partitioned (about one cell per partition: what the driver holds at a time) and sorted
    within partitions by Spark, no Python in between. Spark counts and samples the keys first,
    passes over ``cells``, so ``cells`` must be cached; :func:`streamed_payloads` then brings
    the partitions in order, each computed once."""
    parts = max(1, cells.count())
    ordered = (
        cells.select("key", "seq", "payload")
        .repartitionByRange(parts, "key", "seq")
        .sortWithinPartitions("key", "seq")
    )
    return streamed_payloads(ordered)


def streamed_payloads(cells: DataFrame) -> Iterator[bytes]:
    """The cells' payloads partition after partition, in each partition's order (one job per
    partition; the next one is computed while the driver takes the current one)."""
    for row in cells.select("payload").toLocalIterator(prefetchPartitions=True):
        yield bytes(row[0])


def ordered_frames(cells: DataFrame) -> Iterator[pl.DataFrame]:
    """The frames of cells already in key order partition by partition (as
    :meth:`SparkCorrelator.outputs` makes them), streamed (:func:`streamed_payloads`)."""
    for payload in streamed_payloads(cells):
        frame = bytes_frame(payload)
        if frame.height:
            yield frame


def run(
    spark: SparkSession,
    events: Path,
    config: CorrelationConfig,
    parts: int = 0,
    progress: Callable[[str], Any] | None = None,
    uri: str | None = None,
) -> tuple[SparkCorrelator, DataFrame, DataFrame]:
    """Every stage up to the ordered cells of the timeline and of the requests (executors read
    ``events`` by path, or by ``uri`` when given)."""
    job = SparkCorrelator(spark, events, config, parts, uri)
    try:
        return _stages(job, progress or (lambda _text: None))
    except BaseException:
        job.release()
        raise


def _stages(
    job: SparkCorrelator, say: Callable[[str], Any]
) -> tuple[SparkCorrelator, DataFrame, DataFrame]:
    """The stages of :func:`run`; the caller releases the cache if one fails."""
    with stage("correlate: time range"):
        job.time_range()
    with stage("correlate: ids judged"):
        judged = job.judged(job.edges())
        job.degenerate(judged)
    say("ids judged")
    with stage("correlate: components"):
        labels = job.labels(judged)
        cids = job.primaries(judged, labels)
    say("components found")
    with stage("correlate: assign and heuristics"):
        compact = job.heuristics(job.assign(judged, labels, cids))
    with stage("correlate: skew evidence"):
        buckets = job.buckets(compact, cids)
        offsets = job.corrections(buckets)
    with stage("correlate: order"):
        assigned = job.order(buckets, offsets)
    say("requests ordered")
    with stage("correlate: outputs planned"):
        timeline, requests = job.outputs(assigned)
    return job, timeline, requests


__all__ = [
    "REQUEST_SCHEMA",
    "SparkCorrelator",
    "ordered_frames",
    "ordered_payloads",
    "run",
    "streamed_payloads",
]
