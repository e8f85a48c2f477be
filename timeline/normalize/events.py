"""Finish a parser's events: provenance, defaults, the complete ``ids`` list, canonical types.

Content handling (``raw``, prompt hashing, redaction) happens at merge time in
:mod:`timeline.normalize.content`, once the salt is known.
"""

from __future__ import annotations

import polars as pl

from timeline.schema import ID_STRUCT, KV_STRUCT, conform

# Canonical id columns copied into ``ids`` (kind = column name) for alias resolution.
ID_COLUMNS = ("request_id", "trace_id", "session_id")


def normalize(
    events: pl.DataFrame,
    lines: pl.DataFrame,
    source_file: str,
    parser: str,
    layer: str,
    keep_raw: bool = True,
) -> pl.DataFrame:
    """Return canonical events sorted by source line (stable), with ``raw`` from ``lines`` if unset
    (and ``keep_raw``: without it ``raw`` is null, the build drops content anyway)."""
    if "source_line" not in events.columns:
        raise ValueError(f"parser {parser!r} returned events without source_line")
    frame = events.sort("source_line", maintain_order=True)
    if not keep_raw:
        frame = frame.drop("raw", strict=False)
    elif "raw" not in frame.columns:
        frame = frame.join(
            lines.select("source_line", pl.col("line").alias("raw")),
            on="source_line",
            how="left",
            maintain_order="left",
        )
    frame = conform(frame)
    empty_ids = pl.lit([], dtype=pl.List(ID_STRUCT))
    extra = pl.concat_list(
        [pl.struct(kind=pl.lit(c), value=pl.col(c)) for c in ID_COLUMNS]
    ).list.filter(pl.element().struct.field("value").is_not_null())
    return frame.with_columns(
        pl.lit(source_file).alias("source_file"),
        pl.lit(parser).alias("parser"),
        pl.coalesce(pl.col("layer"), pl.lit(layer)).alias("layer"),
        pl.col("ts_source").alias("ts"),
        pl.when(pl.col("ts_source").is_not_null()).then(0.0).alias("clock_offset_ms"),
        pl.concat_list(pl.col("ids").fill_null(empty_ids), extra)
        .list.unique(maintain_order=True)
        .alias("ids"),
        pl.when(pl.col("ts_source").is_not_null()).then(pl.col("ts_assumed_tz").fill_null(False)),
    )


def with_envelope(frame: pl.DataFrame, envelope: pl.DataFrame) -> pl.DataFrame:
    """Add what an envelope said about each record: host, ``envelope.*`` attributes, ids, and its time
    where the inner line had none."""
    if envelope.height == 0:
        return frame
    joined = frame.join(envelope, on="source_line", how="left", maintain_order="left")
    empty_kv = pl.lit([], dtype=pl.List(KV_STRUCT))
    empty_ids = pl.lit([], dtype=pl.List(ID_STRUCT))
    ts = pl.coalesce(pl.col("ts_source"), pl.col("env_ts"))
    return joined.with_columns(
        pl.coalesce(pl.col("host"), pl.col("env_host")).alias("host"),
        pl.concat_list(
            pl.col("attributes").fill_null(empty_kv), pl.col("env_attrs").fill_null(empty_kv)
        ).alias("attributes"),
        pl.concat_list(pl.col("ids").fill_null(empty_ids), pl.col("env_ids").fill_null(empty_ids))
        .list.unique(maintain_order=True)
        .alias("ids"),
        ts.alias("ts_source"),
        ts.alias("ts"),
        pl.when(ts.is_not_null())
        .then(pl.coalesce(pl.col("clock_offset_ms"), pl.lit(0.0)))
        .alias("clock_offset_ms"),
        pl.when(ts.is_not_null())
        .then(pl.col("ts_assumed_tz").fill_null(False))
        .alias("ts_assumed_tz"),
    ).select(frame.columns)
