"""Per-request attribute values: what suspects, slices and the change log are computed from.

A request carries a value of a field when one of its events does. The long table (request, field,
value) has about one row per request and field, so it is never built whole: the counts per
(field, value) are aggregated in the scan, over hash partitions of ``correlation_id`` when there
are many requests, and the carriers of a value are looked up for the few values that are shown.
"""

from __future__ import annotations

import math
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Final

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from timeline.analyze.load import collect

UTC_US: Final = pl.Datetime("us", "UTC")

# Version-like fields, in the order ties are broken: what changed and what suspects are made of.
VERSION_FIELDS: Final = (
    "model_revision",
    "model",
    "prompt_template_version",
    "prompt_template",
    "index_version",
    "index_name",
    "embedding_model",
    "policy_version",
    "policy_name",
)
# Context fields: also compared between failing requests and the rest.
CONTEXT_FIELDS: Final = ("provider", "upstream", "http_route", "host")
SUSPECT_FIELDS: Final = VERSION_FIELDS + CONTEXT_FIELDS
# Up to PARTITION_REQUESTS requests, each field's (request, value) keys are counted in one
# streaming pass over the timeline. Beyond, the values are spilled in one pass to a file per hash
# partition of correlation_id (about SPILL_PARTITION_REQUESTS requests each) and counted one
# partition at a time: memory holds one partition's keys, and the timeline is read once.
PARTITION_REQUESTS: Final = 200_000
SPILL_PARTITION_REQUESTS: Final = 50_000
SPILL_BATCH_ROWS: Final = 16_384
SPILL_PENDING_ROWS: Final = 262_144
KEYS: Final = ("correlation_id", "field", "value")

COUNT_SCHEMA: Final = pl.Schema(
    {
        "field": pl.String(),
        "value": pl.String(),
        "rank": pl.Int32(),
        "failing_with": pl.Int64(),
        "rest_with": pl.Int64(),
        "requests_timed": pl.Int64(),
        "failing_event_only": pl.Int64(),
        "rest_before_rise": pl.Int64(),
        "first_start": pl.Datetime("us", "UTC"),
        "last_start": pl.Datetime("us", "UTC"),
    }
)
# Event statuses that make an event itself a failing one (a value logged only on such events,
# beside other events of its request, is how the request failed: see ``analyze.ranking``).
FAILING_EVENT_STATUSES: Final = ("error", "timeout", "blocked")
FLAG_SCHEMA: Final = pl.Schema(
    {
        "correlation_id": pl.String(),
        "failing": pl.Boolean(),
        "start": pl.Datetime("us", "UTC"),
        "events": pl.Int64(),
    }
)


def partitions(n_requests: int) -> int:
    """How many hash partitions of ``correlation_id`` to count values in (1: no spill)."""
    if n_requests <= PARTITION_REQUESTS:
        return 1
    return math.ceil(n_requests / SPILL_PARTITION_REQUESTS)


def failing_event() -> pl.Expr:
    """True for an event that is itself a failure: an error, timeout or block (null: False)."""
    return (
        pl.col("status").is_in(list(FAILING_EVENT_STATUSES)) | (pl.col("verdict") == "block")
    ).fill_null(False)


def _field_values(events: pl.LazyFrame, rank: int, name: str) -> pl.LazyFrame:
    """(correlation_id, field, value, rank, timed, ok, n) for the events carrying ``name``:
    ``ok`` when the event is not itself a failure, ``n`` = 1 (summed per request)."""
    return events.filter(
        pl.col("correlation_id").is_not_null() & pl.col(name).is_not_null()
    ).select(
        "correlation_id",
        pl.lit(name).alias("field"),
        pl.col(name).cast(pl.String).alias("value"),
        pl.lit(rank, dtype=pl.Int32).alias("rank"),
        pl.col("ts").is_not_null().alias("timed"),
        (~failing_event()).alias("ok"),
        pl.lit(1, dtype=pl.Int64).alias("n"),
    )


def _reduced() -> list[pl.Expr]:
    """How (request, field, value) rows combine: associative, so batches reduce in stages."""
    return [pl.col("rank").first(), pl.col("timed").any(), pl.col("ok").any(), pl.col("n").sum()]


def _per_request(values: pl.LazyFrame) -> pl.LazyFrame:
    return values.group_by(*KEYS).agg(_reduced())


def _flags(requests: pl.LazyFrame, rise_at: datetime | None) -> pl.LazyFrame:
    """Per request: ``failing``, ``start``, ``events`` (null when ``requests`` lacks them) and
    ``before_rise`` (a request that started before ``rise_at``; all timed ones without a rise)."""
    names = requests.collect_schema().names()
    cols = [
        pl.col(k).cast(t) if k in names else pl.lit(None, dtype=t).alias(k)
        for k, t in FLAG_SCHEMA.items()
    ]
    start = pl.col("start")
    before = start.is_not_null() if rise_at is None else (start < pl.lit(rise_at, dtype=UTC_US))
    return requests.select(cols).with_columns(before.fill_null(False).alias("before_rise"))


def _count(per_request: pl.LazyFrame, flags: pl.LazyFrame) -> pl.DataFrame:
    """Failing, other and timed requests per (field, value) of one slice of the requests; the
    requests on which the value is logged only on failing events while the request has other
    events; successful carriers before the rise; first and last start of a carrier."""
    failing = pl.col("failing") == True  # noqa: E712
    rest = pl.col("failing") == False  # noqa: E712
    only_failing = ~pl.col("ok") & (pl.col("events").is_null() | (pl.col("events") > pl.col("n")))
    return collect(
        per_request.join(flags, on="correlation_id", how="left")
        .group_by("field", "value")
        .agg(
            pl.col("rank").first(),
            failing.sum().cast(pl.Int64).alias("failing_with"),
            rest.sum().cast(pl.Int64).alias("rest_with"),
            pl.col("timed").sum().cast(pl.Int64).alias("requests_timed"),
            (only_failing & pl.col("failing").is_not_null())
            .sum()
            .cast(pl.Int64)
            .alias("failing_event_only"),
            (rest & pl.col("before_rise").fill_null(False))
            .sum()
            .cast(pl.Int64)
            .alias("rest_before_rise"),
            pl.col("start").min().alias("first_start"),
            pl.col("start").max().alias("last_start"),
        )
    )


def _fields(timeline: pl.LazyFrame) -> list[tuple[int, str]]:
    names = timeline.collect_schema().names()
    return [(rank, name) for rank, name in enumerate(SUSPECT_FIELDS) if name in names]


def feature_counts(
    timeline: pl.LazyFrame,
    requests: pl.LazyFrame,
    n_requests: int,
    parts: int | None = None,
    spill_dir: Path | None = None,
    rise_at: datetime | None = None,
) -> pl.DataFrame:
    """Per (field, value): failing and other requests carrying it, requests carrying it on a
    timed event (``requests_timed``, what the change log counts), requests on which it is logged
    only on failing events (``failing_event_only``), successful carriers that started before
    ``rise_at`` (``rest_before_rise``; all of them without a rise) and the first and last start
    of a carrier.

    ``requests`` carries ``correlation_id`` and ``failing`` (``start`` and ``events`` when it has
    them). Values carried only by requests missing from ``requests`` count in ``requests_timed``
    only. Up to ``PARTITION_REQUESTS`` requests, each field is counted in one streaming pass;
    beyond, over hash partitions of ``correlation_id`` spilled to ``spill_dir`` (default: the
    system's temporary directory).
    """
    parts = partitions(n_requests) if parts is None else parts
    events = timeline.select("correlation_id", "ts", "status", "verdict", *SUSPECT_FIELDS)
    flags = _flags(requests, rise_at)
    if parts == 1:
        out = [
            _count(_per_request(_field_values(events, rank, name)), flags)
            for rank, name in _fields(timeline)
        ]
    else:
        with tempfile.TemporaryDirectory(prefix=".features-", dir=spill_dir) as tmp:
            out = _count_spilled(events, flags, _fields(timeline), parts, Path(tmp))
    if not out:
        return pl.DataFrame(schema=COUNT_SCHEMA)
    return (
        pl.concat(out)
        .group_by("field", "value")
        .agg(
            pl.col("rank").first(),
            pl.col("failing_with").sum(),
            pl.col("rest_with").sum(),
            pl.col("requests_timed").sum(),
            pl.col("failing_event_only").sum(),
            pl.col("rest_before_rise").sum(),
            pl.col("first_start").min(),
            pl.col("last_start").max(),
        )
        .cast(COUNT_SCHEMA)
        .select(COUNT_SCHEMA.names())
    )


class _Spill:
    """One Parquet file per hash partition of ``correlation_id``; rows wait in memory until a
    partition has a row group's worth (``SPILL_PENDING_ROWS`` across all partitions at most)."""

    def __init__(self, stem: Path, parts: int) -> None:
        self.stem, self.parts = stem, parts
        self.group_rows = max(4096, SPILL_PENDING_ROWS // parts)
        self.writers: dict[int, pq.ParquetWriter] = {}
        self.pending: dict[int, list[pa.Table]] = {}

    def path(self, k: int) -> Path:
        return self.stem.with_suffix(f".{k}.parquet")

    def add(self, frame: pl.LazyFrame, keys: tuple[str, ...] = ()) -> None:
        """Append ``frame``'s rows; with ``keys``, each batch is first reduced to one row per key
        (as :func:`_per_request` does)."""
        part = (pl.col("correlation_id").hash(7) % self.parts).alias("_part")
        for batch in frame.with_columns(part).collect_batches(chunk_size=SPILL_BATCH_ROWS):
            if keys:
                batch = batch.group_by(*keys, "_part").agg(_reduced())
            for key, rows in batch.partition_by("_part", as_dict=True, include_key=False).items():
                k = int(str(key[0]))
                pending = self.pending.setdefault(k, [])
                pending.append(rows.to_arrow())
                if sum(t.num_rows for t in pending) >= self.group_rows:
                    self._flush(k)

    def _flush(self, k: int) -> None:
        tables = self.pending.pop(k, [])
        if not tables:
            return
        table = pa.concat_tables(tables)
        if k not in self.writers:
            self.writers[k] = pq.ParquetWriter(self.path(k), table.schema)
        self.writers[k].write_table(table)

    def close(self) -> list[int]:
        """Flush and close every file; the partitions written, in order."""
        for k in list(self.pending):
            self._flush(k)
        for writer in self.writers.values():
            writer.close()
        return sorted(self.writers)


def _count_spilled(
    events: pl.LazyFrame,
    flags: pl.LazyFrame,
    fields: list[tuple[int, str]],
    parts: int,
    tmp: Path,
) -> list[pl.DataFrame]:
    """One pass over the timeline and one over the requests into partition files, then count
    each partition: memory holds one partition's (request, field, value) keys."""
    values, requests = _Spill(tmp / "values", parts), _Spill(tmp / "flags", parts)
    try:
        for rank, name in fields:
            values.add(_field_values(events, rank, name), KEYS)
        requests.add(flags)
    finally:
        written, flagged = values.close(), set(requests.close())
    out = []
    for k in written:
        part_flags = (
            pl.scan_parquet(requests.path(k))
            if k in flagged
            else pl.LazyFrame(schema={**FLAG_SCHEMA, "before_rise": pl.Boolean()})
        )
        out.append(_count(_per_request(pl.scan_parquet(values.path(k))), part_flags))
    return out


def carriers(timeline: pl.LazyFrame, field: str, value: str) -> pl.LazyFrame:
    """The requests carrying ``field = value``, each with the first event (by ``seq``) that does.

    Columns ``correlation_id``, ``seq``, ``event_id``, ``source_file``, ``source_line``; one row per
    request, in ``correlation_id`` order once sorted by the caller.
    """
    if field not in timeline.collect_schema().names():
        return pl.LazyFrame(
            schema={
                "correlation_id": pl.String,
                "seq": pl.Int64,
                "event_id": pl.String,
                "source_file": pl.String,
                "source_line": pl.Int64,
            }
        )
    return timeline.filter(
        pl.col("correlation_id").is_not_null() & (pl.col(field).cast(pl.String) == value)
    ).select("correlation_id", "seq", "event_id", "source_file", "source_line")


def first_carriers(events: pl.DataFrame) -> pl.DataFrame:
    """One row per request of ``carriers`` output: its first event by ``seq``, in request order."""
    return events.sort("correlation_id", "seq").unique(
        "correlation_id", keep="first", maintain_order=True
    )
