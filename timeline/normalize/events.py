"""Finish a parser's events: provenance, defaults, the complete ``ids`` list, canonical types.

Content handling (``raw``, prompt hashing, redaction) happens at merge time in
:mod:`timeline.normalize.content`, once the salt is known.
"""

from __future__ import annotations

import polars as pl

from timeline.normalize.lists import append, elements, long_entries
from timeline.parserkit.timestamps import precision_ms
from timeline.schema import conform

# Canonical id columns copied into ``ids`` (kind = column name) for alias resolution.
ID_COLUMNS = ("request_id", "trace_id", "session_id")

# A revision written into the model name: ``name@rev`` (Vertex AI, pinned Hugging Face revisions,
# ``...@rev-b``), or ``name:rev`` when ``rev`` looks like a version: a commit hash (7-40 hex), a
# number (``v1``, ``1.2``, Bedrock's ``...-v1:0``) or a date (``2024-08-06``, ``20240806``). Any
# other tag after a colon is not a revision: ``llama3:8b``, ``qwen2.5:7b-instruct-q4_K_M`` and
# ``llama3:latest`` are ollama tags (size / quantization variants of a name).
MODEL_AT_REVISION = r"^[^@\s]+@([^@/\s]+)$"
MODEL_COLON_REVISION = r"^[^:\s]+:([0-9a-f]{7,40}|v?\d+(?:\.\d+)*|\d{4}-?\d{2}-?\d{2})$"


def revision_in_model(model: pl.Expr) -> pl.Expr:
    """The revision written into a model name (see ``MODEL_AT_REVISION``), else null."""
    return pl.coalesce(
        model.str.extract(MODEL_AT_REVISION, 1), model.str.extract(MODEL_COLON_REVISION, 1)
    )


def docs_from_source() -> pl.Expr:
    """Documents an event says were returned: the length of ``doc_ids``, else the ``total_hits``
    attribute as an integer (null when neither is there or the count is not a number)."""
    hits = (
        pl.col("attributes")
        .list.eval(
            pl.element()
            .filter(pl.element().struct.field("key") == "total_hits")
            .struct.field("value")
        )
        .list.first()
        .cast(pl.Int64, strict=False)
    )
    return pl.coalesce(pl.col("doc_ids").list.len(), hits)


def is_retrieval(layer: pl.Expr) -> pl.Expr:
    """True for a retrieval event: layer ``retrieval`` or a ``retrieval.*`` event type."""
    return ((layer == "retrieval") | pl.col("event_type").str.starts_with("retrieval.")).fill_null(
        False
    )


def normalize(
    events: pl.DataFrame,
    lines: pl.DataFrame,
    source_file: str,
    parser: str,
    layer: str,
    keep_raw: bool = True,
) -> pl.DataFrame:
    """Return canonical events sorted by source line (stable), with ``raw`` from ``lines`` if unset
    (and ``keep_raw``: without it ``raw`` is null, the build drops content anyway).

    ``ts_precision_ms`` is filled for every timed event whose parser did not set it, from the text
    in ``ts_raw`` (:func:`timeline.parserkit.timestamps.precision_ms`); it is null without a time.
    ``model_revision`` is filled from a revision written into ``model`` (:func:`revision_in_model`)
    where the parser set none; ``model`` keeps what was logged. ``docs_returned`` is filled for
    retrieval events (:func:`is_retrieval`) whose parser set none, from :func:`docs_from_source`."""
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
    layer_expr = pl.coalesce(pl.col("layer"), pl.lit(layer))
    extra = long_entries(frame, [{"kind": pl.lit(c), "value": pl.col(c)} for c in ID_COLUMNS])
    ids = append(frame.get_column("ids"), extra.filter(pl.col("value").is_not_null()), unique=True)
    return frame.with_columns(
        pl.lit(source_file).alias("source_file"),
        pl.lit(parser).alias("parser"),
        layer_expr.alias("layer"),
        pl.col("ts_source").alias("ts"),
        pl.when(pl.col("ts_source").is_not_null()).then(0.0).alias("clock_offset_ms"),
        ids,
        pl.when(pl.col("ts_source").is_not_null()).then(pl.col("ts_assumed_tz").fill_null(False)),
        pl.when(pl.col("ts_source").is_not_null())
        .then(pl.coalesce(pl.col("ts_precision_ms"), precision_ms(pl.col("ts_raw"))))
        .alias("ts_precision_ms"),
        pl.coalesce(pl.col("model_revision"), revision_in_model(pl.col("model"))).alias(
            "model_revision"
        ),
        pl.coalesce(
            pl.col("docs_returned"), pl.when(is_retrieval(layer_expr)).then(docs_from_source())
        ).alias("docs_returned"),
    )


def with_envelope(frame: pl.DataFrame, envelope: pl.DataFrame) -> pl.DataFrame:
    """Add what an envelope said about each record: host, ``envelope.*`` attributes, ids, and its time
    where the inner line had none."""
    if envelope.height == 0:
        return frame
    joined = frame.join(envelope, on="source_line", how="left", maintain_order="left")
    ts = pl.coalesce(pl.col("ts_source"), pl.col("env_ts"))
    attrs = joined.get_column("attributes").fill_null([])
    return joined.with_columns(
        pl.coalesce(pl.col("host"), pl.col("env_host")).alias("host"),
        append(attrs, elements(joined, "env_attrs")),
        append(joined.get_column("ids"), elements(joined, "env_ids"), unique=True),
        ts.alias("ts_source"),
        ts.alias("ts"),
        pl.when(ts.is_not_null())
        .then(pl.coalesce(pl.col("clock_offset_ms"), pl.lit(0.0)))
        .alias("clock_offset_ms"),
        pl.when(ts.is_not_null())
        .then(pl.col("ts_assumed_tz").fill_null(False))
        .alias("ts_assumed_tz"),
    ).select(frame.columns)
