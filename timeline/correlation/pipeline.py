"""Correlation: the events (``timeline.io.eventsfile``) to the timeline, the requests and the report.

Each stage streams its input once and scatters rows to partitions (``spill.Spill``). When the
working set fits the memory budget (``budget.plan``), the partitions are held in memory (about
``budget.MEMORY_PART_EVENTS`` events each); beyond it they are files on disk, and memory holds one
partition of events at a time (sized by the budget), plus what grows with the number of distinct
ids (integer arrays: a node's component and its primary node) and the skew evidence (two numbers
per request and source). The stages are the same either way:

1. ids -> edges, partitioned by a hash of the id (so every event carrying an id meets in one part);
2. per id part: degenerate ids judged and left out, usable ids numbered; (row, id) by row range;
3. per row range: the links between ids found on one event; components on the id-id graph;
4. per id part, then per request bucket: each request's primary id and ``correlation_id``;
5. compact event columns, by row range: each event gets its request, then goes to its request
   bucket (a hash of the request), or, without one, to a time slice for the heuristic rules;
6. per time slice: heuristic links (candidates from the neighbouring slices too);
7. clock offsets from the skew evidence (the id-linked events' clock columns, a sample of the
   requests beyond ``SKEW_REQUESTS``, put aside by request bucket in stage 5); then per request
   bucket: offsets applied, keys, ``seq``, ``offset_ms``;
8. the full events, by row range: joined with their correlation columns, scattered by time range;
9. per time range: sorted and appended to ``timeline.parquet``; per request bucket: the requests,
   scattered by start time and appended in order to ``requests.parquet``.

Every partition count follows the input size and the budget; the result depends on neither
(tests compare many partition counts and budgets, in memory and spilled, byte for byte).

Within a stage, up to ``workers`` partitions are read and worked on side by side in threads
(``concurrent.ordered_map``); their results are written to the next stage's partitions by one
thread, in partition order, so the output does not depend on the number of workers either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import polars as pl

from timeline.correlation.budget import default_budget, plan
from timeline.correlation.concurrent import default_workers, ordered_map
from timeline.correlation.config import CorrelationConfig
from timeline.correlation.graph import (
    alias_links,
    best_nodes,
    components,
    number_nodes,
    primaries,
)
from timeline.correlation.heuristics import RuleStats, link
from timeline.correlation.ids import explode_ids, judge_nodes
from timeline.correlation.order import (
    KEY_COLUMNS,
    NO_TIME,
    SORT_KEYS,
    numbered,
    violation_mask,
    with_keys,
)
from timeline.correlation.report import GLOBAL_TYPES, CorrelationReport
from timeline.correlation.requests import REQUEST_INPUT_COLUMNS, REQUEST_SCHEMA, requests_table
from timeline.correlation.skew import estimate_buckets
from timeline.correlation.spill import Spill
from timeline.io.eventsfile import EventsFile
from timeline.normalize.inherit import file_host
from timeline.schema import POLARS_SCHEMA, conform

Result = TypeVar("Result")
# The columns of the clock-skew evidence beside the request (``skew.estimate``); the Spark
# engine sends the same.
EVIDENCE_COLUMNS: Final = (
    "source",
    "layer",
    "event_type",
    "policy_stage",
    "ts_source",
    "duration_ms",
    "ts_at_end",
    "ts_raw",
    "ts_precision_ms",
    "ts_inherited",
)
PART_EVENTS: Final = 100_000  # events per partition without a budget (Layout.for_rows; Spark)
MAX_PARTS: Final = 4096
# Clock-skew evidence: every request up to this many, else a sample of this size by request hash
# (the estimate is the region most requests agree on; a uniform sample finds the same region).
SKEW_REQUESTS: Final = 500_000
SAMPLE_SCALE: Final = 1 << 20

# The columns correlation reads; the rest of each event is only carried through.
COMPACT_COLUMNS: Final = (
    "event_id",
    "source_file",
    "source_line",
    "host",
    "ts_source",
    "ts_raw",
    "ts_precision_ms",
    "ts_inherited",
    "ts_at_end",
    "duration_ms",
    "layer",
    "event_type",
    "policy_stage",
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
ORDER_BY: Final = [*SORT_KEYS, "row"]

EDGE_SCHEMA = pl.Schema(
    {
        "row": pl.Int64(),
        "ts": pl.Datetime("us", "UTC"),
        "prio": pl.Int8(),
        "kind": pl.String(),
        "value": pl.String(),
        "node": pl.String(),
        "reason": pl.String(),
    }
)
_ROW_NODE_SCHEMA = pl.Schema({"row": pl.Int64(), "nid": pl.Int64()})
_NODE_SCHEMA = pl.Schema({"nid": pl.Int64(), "node": pl.String(), "prio": pl.Int8()})
_BEST_SCHEMA = pl.Schema(
    {"label": pl.Int64(), "nid": pl.Int64(), "node": pl.String(), "prio": pl.Int8()}
)
_CID_SCHEMA = pl.Schema({"label": pl.Int64(), "primary": pl.Int64(), "correlation_id": pl.String()})
EVIDENCE_SCHEMA = pl.Schema(
    {
        "correlation_id": pl.Int64(),
        **{c: pl.String() if c == "source" else POLARS_SCHEMA[c] for c in EVIDENCE_COLUMNS},
    }
)
EVIDENCE_BUFFER: Final = 16 << 20  # the evidence is narrow: small write buffers suffice


def _compact_schema(columns: list[str]) -> pl.Schema:
    return pl.Schema(
        {
            "row": pl.Int64(),
            **{c: POLARS_SCHEMA[c] for c in columns},
            "source": pl.String(),
            "label": pl.Int64(),
            "correlation_method": pl.String(),
            "correlation_confidence": pl.Float64(),
        }
    )


ASSIGN_SCHEMA = pl.Schema(
    {
        "row": pl.Int64(),
        "label": pl.Int64(),
        **{c: POLARS_SCHEMA[c] for c in ASSIGNMENT_COLUMNS},
        "_ts_key": pl.Int64(),
        "_after": pl.Int64(),
        "_rank": pl.Int8(),
        "_sub": pl.Int64(),
    }
)


@dataclass(frozen=True)
class Layout:
    """How the input is cut: ``parts`` partitions per stage, ``span`` rows per row range; the
    partitions held in memory or spilled to files (``in_memory``)."""

    rows: int
    parts: int
    span: int
    in_memory: bool = False

    @classmethod
    def for_rows(
        cls, rows: int, parts: int = 0, part_events: int = PART_EVENTS, in_memory: bool = False
    ) -> Layout:
        """``parts`` partitions (0: one per ``part_events`` events)."""
        count = parts or min(MAX_PARTS, max(1, -(-rows // max(1, part_events))))
        return cls(rows, count, max(1, -(-rows // count)), in_memory)


def source_expr(clock_source: str) -> pl.Expr:
    """The clock an event was stamped by: its host, else its file (or directory). A host that is
    only its file's name (``timeline.normalize.inherit.host_from_file``) is not a clock: the
    file (or directory) is."""
    path = pl.col("source_file")
    if clock_source == "directory":
        path = path.str.replace(r"/[^/]*$", "/")
    named = pl.col("host").is_not_null() & (pl.col("host") != file_host(pl.col("source_file")))
    return pl.when(named).then(pl.col("host")).otherwise(path)


def violations(frame: pl.DataFrame, ts: str) -> int:
    """Requests in which an inner-layer event lies outside the gateway's span of the request for
    every point of the stamps' intervals (``order.violation_mask``).

    Only id-linked events count: a heuristic link is evidence of a weaker kind.
    """
    return frame.filter(violation_mask(frame, ts))["correlation_id"].n_unique()


def range_parts(layout: Layout) -> range:
    """The numbers of the layout's row ranges that hold rows."""
    return range(min(layout.parts, -(-layout.rows // layout.span)))


def read_range(
    events: EventsFile, columns: list[str] | None, layout: Layout, part: int
) -> pl.DataFrame:
    """Row range ``part`` of ``events`` (``columns`` only, all if None), with ``row``: only the
    row groups (or record batches) it overlaps are read."""
    scan = events.scan()
    if columns is not None:
        scan = scan.select(columns)
    first = part * layout.span
    return _with_row(scan.slice(first, layout.span).collect(), first)


def _with_row(frame: pl.DataFrame, first: int) -> pl.DataFrame:
    return frame.with_row_index("row", offset=first).with_columns(pl.col("row").cast(pl.Int64))


@dataclass(frozen=True)
class _BucketCounts:
    """What one request bucket adds to the report and the time histogram (stage 7)."""

    violations_before: int
    violations_after: int
    methods: dict[str, int]
    global_events: int
    orphans: dict[str, int]
    seconds: dict[int, int]


class Correlator:
    """One out-of-core correlation of an events file; ``run`` does every stage in order."""

    def __init__(
        self,
        events: EventsFile,
        tmp: Path,
        config: CorrelationConfig,
        layout: Layout,
        workers: int = 0,
    ) -> None:
        self.events = events
        self.workers = workers or default_workers()
        self.tmp = tmp
        self.config = config
        self.layout = layout
        self.report = CorrelationReport(events=layout.rows)
        self.rules = config.heuristics
        self.keys = sorted({k for r in self.rules for k in r.match if k in POLARS_SCHEMA})
        self.columns = [*COMPACT_COLUMNS, *(k for k in self.keys if k not in COMPACT_COLUMNS)]
        self.compact = _compact_schema(self.columns)
        self.report.heuristics = [RuleStats(r.name) for r in self.rules]
        self.ts_range: tuple[int, int] | None = None
        self.histogram: Counter[int] = Counter()
        self.components = 0
        # Per label: whether its request is skew evidence (None: every request is).
        self.sampled: pl.Series | None = None

    def _each(self, work: Callable[[int], Result], parts: Iterable[int]) -> Iterator[Result]:
        """``work(part)`` for every part, ``workers`` at a time, results in part order."""
        return ordered_map(work, parts, self.workers)

    def spill(self, name: str, schema: pl.Schema, parts: int = 0, buffer: int = 0) -> Spill:
        """A spill with one partition per layout part (or ``parts``), ``buffer`` bytes of buffers;
        held in memory when the layout says so."""
        directory = None if self.layout.in_memory else self.tmp
        return Spill(directory, name, parts or self.layout.parts, schema, buffer_bytes=buffer)

    # 1-2: the id graph's vertices
    def edges(self) -> Spill:
        """Stage 1: every linking id of every event, by node hash; the time range on the way."""
        parts = self.layout.parts
        out = self.spill("edges", EDGE_SCHEMA)
        lo, hi = NO_TIME, -NO_TIME

        def explode(part: int) -> tuple[tuple[int, int] | None, pl.DataFrame, pl.Series]:
            frame = read_range(self.events, ["ids", "ts_source", "layer"], self.layout, part)
            frame = frame.cast({"ts_source": POLARS_SCHEMA["ts_source"]})
            us = frame["ts_source"].dt.epoch("us").drop_nulls()
            bounds = (int(us.min()), int(us.max())) if us.len() else None  # type: ignore[arg-type]
            edges = explode_ids(
                frame.select(
                    "row",
                    pl.col("ts_source").alias("ts"),
                    (pl.col("layer") != "gateway").fill_null(True).cast(pl.Int8).alias("prio"),
                    pl.col("ids").cast(POLARS_SCHEMA["ids"]),
                ),
                self.config.exclude_kinds,
            )
            return bounds, edges, edges["node"].hash() % parts

        for bounds, edges, where in self._each(explode, range_parts(self.layout)):
            if bounds is not None:
                lo, hi = min(lo, bounds[0]), max(hi, bounds[1])
            out.write(edges, where)
        self.ts_range = (lo, hi) if lo <= hi else None
        return out

    def nodes(self, edges: Spill) -> tuple[Spill, Spill, int]:
        """Stage 2: judge and number the ids; (row, nid) by row range, nodes by id part."""
        rows = self.spill("rownodes", _ROW_NODE_SCHEMA)
        nodes = self.spill("nodes", _NODE_SCHEMA)
        base, degenerate = 0, []
        edges.close()  # every partition on disk: the workers below only read
        limits = (self.config.max_events_per_id, self.config.max_id_span_s)
        judging = self._each(
            lambda part: judge_nodes(edges.read(part), *limits), range(edges.parts)
        )
        for part, judged in enumerate(judging):
            degenerate.append(judged.degenerate)
            numbered_edges, found = number_nodes(judged.edges.select("row", "node", "prio"), base)
            base += found.height
            rows.write(numbered_edges, numbered_edges["row"] // self.layout.span)
            nodes.write(found, part)
        edges.drop()
        if degenerate:
            report = pl.concat(degenerate).sort("events", "node", descending=[True, False])
            self.report.degenerate_ids = report.to_dicts()
        return rows, nodes, base

    # 3-4: components and their primary ids
    def labels(self, rows: Spill, count: int) -> pl.Series:
        """Stage 3: the component of every node."""
        rows.close()
        links = list(self._each(lambda part: alias_links(rows.read(part)), range(rows.parts)))
        return components(count, pl.concat(links))

    def primaries(self, nodes: Spill, label: pl.Series) -> tuple[Spill, pl.Series]:
        """Stage 4: per request bucket (label % parts) the correlation ids; the primary per label."""
        parts = self.layout.parts
        best = self.spill("best", _BEST_SCHEMA)

        def reduce(part: int) -> pl.DataFrame:
            found = nodes.read(part)
            return best_nodes(found.with_columns(label.gather(found["nid"]).alias("label")))

        nodes.close()
        for reduced in self._each(reduce, range(nodes.parts)):
            best.write(reduced, reduced["label"] % parts)
        nodes.drop()
        cids = self.spill("cids", _CID_SCHEMA)
        primary = pl.repeat(-1, label.len(), dtype=pl.Int64, eager=True)
        best.close()
        draws = []
        for part, found in enumerate(self._each(lambda n: primaries(best.read(n)), range(parts))):
            cids.write(found, part)
            self.components += found.height
            if found.height:
                primary = primary.scatter(found["label"], found["primary"])
                draw = pl.col("correlation_id").hash(seed=0) % SAMPLE_SCALE
                draws.append(found.select("label", draw.alias("draw")))
        best.drop()
        self.sampled = self._sample(draws, label.len())
        return cids, primary

    def _sample(self, draws: list[pl.DataFrame], labels: int) -> pl.Series | None:
        """Which labels' requests are skew evidence: all of them up to ``SKEW_REQUESTS`` (None),
        else a deterministic sample by a hash of the correlation id."""
        share = min(1.0, SKEW_REQUESTS / max(1, self.components))
        if share >= 1.0 or not draws:
            return None
        drawn = pl.concat(draws)
        chosen = drawn.filter(pl.col("draw") < int(share * SAMPLE_SCALE))["label"]
        return pl.repeat(False, labels, dtype=pl.Boolean, eager=True).scatter(chosen, True)

    # 5-6: events to requests
    def assign(self, rows: Spill, label: pl.Series, primary: pl.Series) -> tuple[Spill, Spill]:
        """Stage 5: give each event its request; scatter compact rows to request buckets, and
        id-less ones to time slices for the heuristics. Also the skew evidence, by request
        bucket: the id-linked events of the requests ``primaries`` sampled, their clock columns
        only."""
        parts = self.layout.parts
        buckets = self.spill("buckets", self.compact)
        evidence = self.spill("evidence", EVIDENCE_SCHEMA, buffer=EVIDENCE_BUFFER)
        slices = self.slices()
        orphans = self.spill("orphans", self.compact, parts=slices[2]) if slices else None
        candidates = self.spill("candidates", self.compact, parts=slices[2]) if slices else None
        rows.close()

        def attach(part: int) -> pl.DataFrame:
            frame = read_range(self.events, self.columns, self.layout, part)
            frame = frame.cast({c: POLARS_SCHEMA[c] for c in self.columns})
            edges = rows.read(part)
            labels = label.gather(edges["nid"])
            per_row = (
                edges.with_columns(
                    labels.alias("label"), (edges["nid"] == primary.gather(labels)).alias("direct")
                )
                .group_by("row")
                .agg(pl.col("label").first(), pl.col("direct").any())
            )
            return frame.join(per_row, on="row", how="left").with_columns(
                source_expr(self.config.clock_source).alias("source"),
                pl.when(pl.col("direct"))
                .then(pl.lit("id"))
                .when(pl.col("label").is_not_null())
                .then(pl.lit("alias"))
                .alias("correlation_method"),
                pl.when(pl.col("label").is_not_null()).then(1.0).alias("correlation_confidence"),
            )

        for frame in self._each(attach, range_parts(self.layout)):
            linked = frame.filter(pl.col("label").is_not_null())
            buckets.write(linked, linked["label"] % parts)
            proof = (
                linked
                if self.sampled is None
                else linked.filter(self.sampled.gather(linked["label"]))
            )
            evidence.write(
                proof.select(pl.col("label").alias("correlation_id"), *EVIDENCE_COLUMNS),
                proof["label"] % parts,
            )
            alone = frame.filter(pl.col("label").is_null())
            if slices and orphans is not None and candidates is not None:
                eligible = pl.col("ts_source").is_not_null() & pl.any_horizontal(
                    [pl.col(k).is_not_null() for k in self.keys]
                )
                slot = (pl.col("ts_source").dt.epoch("us") - slices[0]) // slices[1]
                waiting = alone.filter(eligible)
                orphans.write(waiting, waiting.select(slot).to_series())
                alone = alone.filter(~eligible)
                keyed = linked.filter(eligible)
                candidates.write(keyed, keyed.select(slot).to_series())
            buckets.write(alone, alone["row"] % parts)
        rows.drop()
        if orphans is not None and candidates is not None:
            self.heuristics(orphans, candidates, buckets)
        return buckets, evidence

    def slices(self) -> tuple[int, int, int] | None:
        """(first time, width, count) of the time slices for the heuristics, in microseconds."""
        if not self.keys or self.ts_range is None:
            return None
        lo, hi = self.ts_range
        window = max(int(r.window_ms * 1000) for r in self.rules) + 1
        width = max(window, -(-(hi - lo + 1) // self.layout.parts))
        return lo, width, (hi - lo) // width + 1

    def heuristics(self, orphans: Spill, candidates: Spill, buckets: Spill) -> None:
        """Stage 6: heuristic links per time slice (candidates from the slice and its neighbours)."""
        parts = self.layout.parts
        totals = {r.name: RuleStats(r.name) for r in self.rules}
        for part in range(orphans.parts):
            waiting = orphans.read(part)
            if waiting.height == 0:
                continue
            near = pl.concat(
                [candidates.read(p) for p in (part - 1, part, part + 1) if 0 <= p < orphans.parts]
            )
            frame = pl.concat([waiting, near]).select(
                "row",
                pl.col("ts_source").alias("ts"),
                "layer",
                pl.col("label").alias("correlation_id"),
                *self.keys,
            )
            links, stats = link(frame, self.rules)
            for st in stats:
                total = totals[st.rule]
                total.orphans += st.orphans
                total.attached += st.attached
                total.ambiguous += st.ambiguous
                total.no_match += st.no_match
            found = links.select(
                "row", pl.col("correlation_id").alias("h_label"), pl.col("confidence")
            )
            joined = waiting.join(found, on="row", how="left").with_columns(
                pl.coalesce("label", "h_label").alias("label"),
                pl.when(pl.col("h_label").is_not_null())
                .then(pl.lit("heuristic"))
                .alias("correlation_method"),
                pl.col("confidence").alias("correlation_confidence"),
            )
            attached = joined.filter(pl.col("label").is_not_null())
            buckets.write(attached, attached["label"] % parts)
            alone = joined.filter(pl.col("label").is_null())
            buckets.write(alone, alone["row"] % parts)
        orphans.drop()
        candidates.drop()
        self.report.heuristics = [totals[r.name] for r in self.rules]

    # 7: skew, order within requests
    def _linked(self, evidence: Spill) -> Iterator[pl.DataFrame]:
        """Per bucket, the skew evidence ``assign`` put aside (each request wholly in one)."""
        evidence.close()
        return self._each(evidence.read, range(evidence.parts))

    def order(self, buckets: Spill, cids: Spill, evidence: Spill) -> Spill:
        """Stage 7: clock offsets from every bucket's skew ``evidence``; then per bucket: ``ts``,
        the sort keys, ``seq`` and ``offset_ms``; by row range."""
        self.report.corrections = estimate_buckets(lambda: self._linked(evidence), self.config)
        evidence.drop()
        offsets = {c.source: c.offset_ms for c in self.report.corrections if c.applied}
        offset = (
            pl.col("source").replace_strict(offsets, default=0.0, return_dtype=pl.Float64)
            if offsets
            else pl.lit(0.0)
        )
        out = self.spill("assigned", ASSIGN_SCHEMA)
        methods: Counter[str] = Counter()
        orphans: Counter[str] = Counter()

        def arrange(part: int) -> tuple[pl.DataFrame, _BucketCounts]:
            frame = buckets.read(part).join(
                cids.read(part).select("label", "correlation_id"), on="label", how="left"
            )
            frame = frame.with_columns(
                pl.col("correlation_method").fill_null("none"),
            )
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
            seconds = ordered["_ts_key"] // 1_000_000
            counts = _BucketCounts(
                before,
                after,
                value_counts(ordered, "correlation_method"),
                unattached.filter(is_global).height,
                value_counts(unattached.filter(~is_global), "layer"),
                dict(seconds.value_counts().iter_rows()),
            )
            return ordered, counts

        buckets.close()
        cids.close()
        for ordered, counts in self._each(arrange, range(buckets.parts)):
            self.report.violations_before += counts.violations_before
            self.report.violations_after += counts.violations_after
            methods.update(counts.methods)
            self.report.global_events += counts.global_events
            orphans.update(counts.orphans)
            self.histogram.update(counts.seconds)
            out.write(ordered, ordered["row"] // self.layout.span)
        buckets.drop()
        self.report.by_method = dict(methods)
        self.report.orphans_by_layer = dict(orphans)
        return out

    # 8-9: the outputs
    def boundaries(self, events: int = 0) -> pl.Series:
        """Upper time keys (exclusive) of the time ranges: about one partition's events each, or
        about ``events`` each when given."""
        size = events or -(-self.layout.rows // self.layout.parts)
        cuts: list[int] = []
        count = 0
        for second in sorted(self.histogram):
            count += self.histogram[second]
            if count >= size:
                cuts.append((second + 1) * 1_000_000)
                count = 0
        return pl.Series("cut", cuts, dtype=pl.Int64)

    def scatter(self, assigned: Spill, cuts: pl.Series) -> tuple[Spill, Spill]:
        """Stage 8: full events joined with their correlation columns, by time range; the
        requests' input columns by request bucket."""
        keep = [*POLARS_SCHEMA.names(), *KEY_COLUMNS, "row"]
        full_schema = pl.Schema(
            {**POLARS_SCHEMA, **{k: ASSIGN_SCHEMA[k] for k in (*KEY_COLUMNS, "row")}}
        )
        ranges = self.spill("ranges", full_schema, parts=cuts.len() + 1, buffer=48 << 20)
        request_schema = pl.Schema(
            {
                **{c: POLARS_SCHEMA[c] for c in REQUEST_INPUT_COLUMNS},
                **{c: full_schema[c] for c in ORDER_BY if c not in REQUEST_INPUT_COLUMNS},
                "label": pl.Int64(),
            }
        )
        inputs = self.spill("requestinputs", request_schema, buffer=48 << 20)

        def join(part: int) -> tuple[pl.DataFrame, pl.Series, pl.DataFrame]:
            frame = read_range(self.events, None, self.layout, part)
            events = conform(frame.drop("row")).drop(*ASSIGNMENT_COLUMNS).with_columns(frame["row"])
            found = assigned.read(part).sort("row")
            if found["row"].equals(events["row"]):
                # Every event of the range has its row once, in order: the columns are put
                # side by side, without copying the events as a join would.
                joined = events.hstack(found.drop("row"))
            else:
                joined = events.join(found, on="row", how="left", maintain_order="left")
            where = cuts.search_sorted(joined["_ts_key"], side="right")
            return joined.select([*keep]), where, joined.filter(pl.col("label").is_not_null())

        assigned.close()
        for part, (joined, where, linked) in zip(
            range_parts(self.layout), self._each(join, range_parts(self.layout)), strict=True
        ):
            assigned.release(part)
            ranges.write(joined, where)
            inputs.write(linked, linked["label"] % self.layout.parts)
        assigned.drop()
        return ranges, inputs

    def timeline(self, ranges: Spill) -> Iterator[pl.DataFrame]:
        """Stage 9a: the timeline in order, one time range at a time."""
        ranges.close()

        def arrange(part: int) -> pl.DataFrame:
            return ranges.read(part).sort(ORDER_BY, nulls_last=True).select(POLARS_SCHEMA.names())

        for part, frame in zip(
            range(ranges.parts), self._each(arrange, range(ranges.parts)), strict=True
        ):
            ranges.release(part)
            if frame.height:
                yield frame
        ranges.drop()

    def requests(self, inputs: Spill, cuts: pl.Series) -> Iterator[pl.DataFrame]:
        """Stage 9b: the requests table in order of start, one time range at a time."""
        schema = pl.Schema({**REQUEST_SCHEMA, "_start": pl.Int64()})
        starts = self.spill("requestranges", schema, parts=cuts.len() + 1)

        def summarise(part: int) -> tuple[pl.DataFrame, pl.Series] | None:
            frame = inputs.read(part)
            if frame.height == 0:
                return None
            table = requests_table(frame.sort(ORDER_BY, nulls_last=True))
            key = table["start"].dt.epoch("us").fill_null(NO_TIME)
            return table.with_columns(key.alias("_start")), cuts.search_sorted(key, "right")

        inputs.close()
        for part, found in zip(
            range(inputs.parts), self._each(summarise, range(inputs.parts)), strict=True
        ):
            inputs.release(part)
            if found is not None:
                starts.write(*found)
        inputs.drop()

        def arrange(part: int) -> pl.DataFrame:
            frame = starts.read(part)
            return frame.drop("_start").sort("start", "correlation_id", nulls_last=True)

        starts.close()
        for part, frame in zip(
            range(starts.parts), self._each(arrange, range(starts.parts)), strict=True
        ):
            starts.release(part)
            if frame.height:
                yield frame
        starts.drop()


def value_counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """Events per value of ``column``; a null value counts as ``unknown``."""
    counts = frame.group_by(pl.col(column).fill_null("unknown")).len()
    return dict(zip(counts[column].to_list(), counts["len"].to_list(), strict=True))


def layout_for(events: EventsFile, parts: int = 0, budget: int = 0, workers: int = 1) -> Layout:
    """The layout for the events under a memory ``budget`` in bytes (0: the machine's default):
    in memory when its working set fits, else out of core with partitions sized by the budget and
    the ``workers`` that hold partitions at once (``budget.plan``). ``parts`` (0 = by size)
    overrides the number of partitions."""
    rows = events.rows
    chosen = plan(rows, events.size / max(1, rows), budget or default_budget(), workers)
    return Layout.for_rows(rows, parts, chosen.part_events, chosen.in_memory)
