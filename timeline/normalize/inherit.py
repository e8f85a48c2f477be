"""Timestamp inheritance: an event without a time takes the time of the nearest earlier timed event
of its file (e.g. uvicorn's untimed ``INFO:     ...`` lines inside a vLLM log).

The inherited time is written to ``ts_source`` and ``ts`` (so that correlation, which derives
``ts`` from ``ts_source``, keeps it and applies the file's clock correction to it) and marked with
``ts_inherited = true``, with the ``ts_precision_ms`` of the stamp it inherited (correlation
treats an inherited time as open-ended: the event happened then or later); ``ts_raw`` keeps what the line printed, if anything (a time that did not
parse). An event with no earlier timed event in its file keeps a null time. "Earlier" is event
order: the source line, then the event's index on the line (a line with several events can give
its time to its later events).

The same forward fill carries what a server's startup line says about the events after it: the
``model`` and ``model_revision`` of the latest ``deploy.change`` / ``server.start`` event that has
a revision (vLLM's ``non-default args: {...}`` and ``Initializing a V1 LLM engine ... revision=``
lines) fill later inference events of the same file that have no revision of their own and the
same model or none, marked with the attribute ``model_revision_from_line`` (the startup line).

The last resort for ``host``: an event whose line and envelope name no host takes its file's name
without folders, log and rotation extensions (``inference/vllm-2.log.1.gz`` gives ``vllm-2``),
flagged with the attribute ``host_from = file_name``. Correlation does not take such a host for a
clock source (``timeline.correlation.pipeline.source_expr``): two folders' ``access.log`` stay
two clocks.

A file is normalized block by block (``timeline.pipeline.files``): the last time of one block is
carried into the next as :class:`Carry`, so the result does not depend on where blocks are cut.
Vectorized: one forward fill over the block, in event order (source line, then index on the line).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import polars as pl

from timeline.normalize.lists import append, long_entries
from timeline.schema import POLARS_SCHEMA

STARTUP_TYPES = ("deploy.change", "server.start")
# What a file name adds to its host's name: a log extension, rotation numbers or dates, compression.
FILE_SUFFIXES = (
    r"(?i)(?:\.(?:log|txt|out|err|json|jsonl|ndjson))?(?:[.-]\d{1,8})*"
    r"(?:\.(?:gz|bz2|xz|zst|lz4))?$"
)
HOST_FROM_FILE = "file_name"


@dataclass(frozen=True)
class Carry:
    """The last timed event of a file so far: its time, whether its zone was assumed, and the
    precision of its stamp."""

    ts: datetime | None = None
    assumed_tz: bool | None = None
    precision_ms: float | None = None
    # the latest startup line with a model revision: its model, revision and line
    model: str | None = None
    model_revision: str | None = None
    revision_line: int | None = None


def inherit(frame: pl.DataFrame, carry: Carry = Carry()) -> tuple[pl.DataFrame, Carry]:
    """Fill the missing times of ``frame`` (canonical events of one file, in source order) from
    the nearest earlier timed event, starting from ``carry``; return the frame and the new carry.

    Only events whose ``ts_source`` is null change: ``ts_source`` and ``ts`` take the inherited
    time, ``ts_assumed_tz`` the inherited flag, ``ts_precision_ms`` the inherited precision,
    ``clock_offset_ms`` 0 and ``ts_inherited`` true.
    """
    if frame.height == 0:
        return frame, carry
    frame = host_from_file(frame)
    frame, carry = _carry_revision(frame, carry)
    ts = frame.get_column("ts_source")
    timed = ts.len() - ts.null_count()
    if timed:
        last = frame.select(
            pl.col("ts_source").drop_nulls().last().alias("ts"),
            pl.col("ts_assumed_tz")
            .filter(pl.col("ts_source").is_not_null())
            .last()
            .fill_null(False)
            .alias("assumed"),
            pl.col("ts_precision_ms").filter(pl.col("ts_source").is_not_null()).last(),
        ).row(0)
        after = replace(carry, ts=last[0], assumed_tz=bool(last[1]), precision_ms=last[2])
    else:
        after = carry
    if timed == ts.len() or (timed == 0 and carry.ts is None):
        return frame, after
    own = pl.col("ts_source")
    filled = (
        own.forward_fill().fill_null(pl.lit(carry.ts, dtype=POLARS_SCHEMA["ts_source"])).alias("_t")
    )
    assumed = (
        pl.when(own.is_not_null())
        .then(pl.col("ts_assumed_tz").fill_null(False))
        .forward_fill()
        .fill_null(pl.lit(carry.assumed_tz, dtype=pl.Boolean))
        .alias("_a")
    )
    precision = (
        pl.when(own.is_not_null())
        .then(pl.col("ts_precision_ms"))
        .forward_fill()
        .fill_null(pl.lit(carry.precision_ms, dtype=pl.Float64))
        .alias("_p")
    )
    inherited = own.is_null() & pl.col("_t").is_not_null()
    out = (
        frame.with_columns(filled, assumed, precision)
        .with_columns(
            pl.when(inherited).then(pl.col("_t")).otherwise(own).alias("ts_source"),
            pl.when(inherited).then(pl.col("_t")).otherwise(pl.col("ts")).alias("ts"),
            pl.when(inherited)
            .then(pl.col("_a").fill_null(False))
            .otherwise(pl.col("ts_assumed_tz"))
            .alias("ts_assumed_tz"),
            pl.when(inherited).then(True).otherwise(pl.col("ts_inherited")).alias("ts_inherited"),
            pl.when(inherited)
            .then(pl.col("_p"))
            .otherwise(pl.col("ts_precision_ms"))
            .alias("ts_precision_ms"),
            pl.when(inherited)
            .then(pl.lit(0.0))
            .otherwise(pl.col("clock_offset_ms"))
            .alias("clock_offset_ms"),
        )
        .drop("_t", "_a", "_p")
    )
    return out, after


def file_host(source_file: pl.Expr) -> pl.Expr:
    """The host a file's name suggests: its base name without log, rotation and compression
    extensions."""
    return source_file.str.replace(r"^.*/", "").str.replace(FILE_SUFFIXES, "")


def host_from_file(frame: pl.DataFrame) -> pl.DataFrame:
    """Fill a null ``host`` from the event's file path (see the module doc), flagged with the
    attribute ``host_from``."""
    if frame.height == 0 or frame.get_column("host").null_count() == 0:
        return frame
    # The stem of each distinct file (one per frame in a build), not a regex over every row.
    files = frame.select(pl.col("source_file").unique(maintain_order=True))
    stems = files.with_columns(file_host(pl.col("source_file")).alias("_stem"))
    stem = frame.select("source_file").join(
        stems, on="source_file", how="left", maintain_order="left"
    )["_stem"]
    fill = frame.select(
        (pl.col("host").is_null() & stem.is_not_null() & (stem != "")).fill_null(False)
    ).to_series()
    if not fill.any():
        return frame
    entry = {"key": pl.lit("host_from"), "value": pl.lit(HOST_FROM_FILE)}
    flags = long_entries(frame, [entry]).filter(fill)
    return frame.with_columns(
        pl.when(fill).then(stem).otherwise(pl.col("host")).alias("host"),
        append(frame.get_column("attributes"), flags),
    )


def _carry_revision(frame: pl.DataFrame, carry: Carry) -> tuple[pl.DataFrame, Carry]:
    """Fill ``model_revision`` (and a missing ``model``) of inference events from the latest
    earlier startup line of the file that logged a revision; return the frame and the new carry."""
    startup = pl.col("event_type").is_in(STARTUP_TYPES) & pl.col("model_revision").is_not_null()
    starts = frame.filter(startup)
    if starts.height:
        last = starts.select("model", "model_revision", "source_line").row(-1)
        after = replace(carry, model=last[0], model_revision=last[1], revision_line=last[2])
    else:
        after = carry
    if carry.model_revision is None and starts.height == 0:
        return frame, after
    rev = (
        pl.when(startup)
        .then(pl.col("model_revision"))
        .forward_fill()
        .fill_null(pl.lit(carry.model_revision, dtype=pl.String))
    )
    model = (
        pl.when(startup)
        .then(pl.col("model").fill_null(""))
        .forward_fill()
        .fill_null(pl.lit(carry.model or "", dtype=pl.String))
    )
    line = (
        pl.when(startup)
        .then(pl.col("source_line"))
        .forward_fill()
        .fill_null(pl.lit(carry.revision_line, dtype=pl.Int64))
    )
    work = frame.with_columns(rev.alias("_rev"), model.alias("_model"), line.alias("_line"))
    fill = (
        (pl.col("layer") == "inference")
        & ~pl.col("event_type").is_in(STARTUP_TYPES).fill_null(False)
        & pl.col("model_revision").is_null()
        & pl.col("_rev").is_not_null()
        & (pl.col("model").is_null() | (pl.col("model") == pl.col("_model")))
    ).fill_null(False)
    fill_rows = work.select(fill).to_series()
    entry = {"key": pl.lit("model_revision_from_line"), "value": pl.col("_line").cast(pl.String)}
    marks = long_entries(work, [entry]).filter(fill_rows)
    out = work.with_columns(
        pl.when(fill_rows)
        .then(pl.col("_rev"))
        .otherwise(pl.col("model_revision"))
        .alias("model_revision"),
        pl.when(fill_rows & pl.col("model").is_null() & (pl.col("_model") != ""))
        .then(pl.col("_model"))
        .otherwise(pl.col("model"))
        .alias("model"),
        append(work.get_column("attributes"), marks),
    ).drop("_rev", "_model", "_line")
    return out, after
