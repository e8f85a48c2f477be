"""Per-request attribute values: the long table that suspects and slices are computed from."""

from __future__ import annotations

from typing import Final

import polars as pl

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

FEATURE_SCHEMA: Final = pl.Schema(
    {
        "correlation_id": pl.String(),
        "field": pl.String(),
        "value": pl.String(),
        "rank": pl.Int32(),
        "event_id": pl.String(),
        "source_file": pl.String(),
        "source_line": pl.Int64(),
    }
)


def request_features(timeline: pl.DataFrame) -> pl.DataFrame:
    """One row per (request, field, value) with the first event that carries it as evidence."""
    linked = timeline.filter(pl.col("correlation_id").is_not_null()).sort("correlation_id", "seq")
    parts = [
        linked.filter(pl.col(name).is_not_null()).select(
            "correlation_id",
            pl.lit(name).alias("field"),
            pl.col(name).cast(pl.String).alias("value"),
            pl.lit(rank, dtype=pl.Int32).alias("rank"),
            "event_id",
            "source_file",
            "source_line",
        )
        for rank, name in enumerate(SUSPECT_FIELDS)
        if name in linked.columns
    ]
    if not parts:
        return pl.DataFrame(schema=FEATURE_SCHEMA)
    return (
        pl.concat(parts)
        .unique(["correlation_id", "field", "value"], keep="first", maintain_order=True)
        .cast(FEATURE_SCHEMA)
    )
