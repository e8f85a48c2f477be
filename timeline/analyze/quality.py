"""Data quality (per source accounting, rejects, clocks, orphans, ids, heuristics) and reproduce."""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from timeline import __version__
from timeline.analyze.evidence import source_of
from timeline.analyze.load import collect

MAX_REJECT_EXAMPLES: Final = 3
MAX_REJECT_REASONS: Final = 20
MAX_TIMING_SOURCES: Final = 50


def _reject_reasons(rejects: pl.DataFrame) -> list[dict[str, Any]]:
    if rejects.is_empty() or "reason" not in rejects.columns:
        return []
    grouped = (
        rejects.sort("source_file", "source_line")
        .group_by("source_file", "reason")
        .agg(
            pl.len().alias("lines"),
            pl.col("source_line").head(MAX_REJECT_EXAMPLES).alias("example_lines"),
        )
        .sort("lines", "source_file", "reason", descending=[True, False, False])
        .head(MAX_REJECT_REASONS)
    )
    return [
        {
            "source_file": r["source_file"],
            "reason": r["reason"],
            "lines": r["lines"],
            "evidence": [source_of(r["source_file"], n) for n in r["example_lines"]],
        }
        for r in grouped.iter_rows(named=True)
    ]


def timestamps(timeline: pl.LazyFrame | None) -> dict[str, Any]:
    """Events whose time was inherited from an earlier line of their file (``ts_inherited``) and
    events left without a time, in total and per source (only sources with either; one scan)."""
    empty: dict[str, Any] = {"inherited": 0, "untimed": 0, "sources": []}
    if timeline is None:
        return empty
    per = collect(
        timeline.group_by("source_file", "parser").agg(
            pl.len().cast(pl.Int64).alias("events"),
            pl.col("ts_inherited").fill_null(False).sum().cast(pl.Int64).alias("inherited"),
            pl.col("ts").is_null().sum().cast(pl.Int64).alias("untimed"),
        )
    )
    if per.is_empty():
        return empty
    shown = (
        per.filter((pl.col("inherited") > 0) | (pl.col("untimed") > 0))
        .with_columns((pl.col("inherited") + pl.col("untimed")).alias("_n"))
        .sort(["_n", "source_file", "parser"], descending=[True, False, False], nulls_last=True)
        .head(MAX_TIMING_SOURCES)
        .drop("_n")
    )
    return {
        "inherited": int(per["inherited"].sum()),
        "untimed": int(per["untimed"].sum()),
        "sources": shown.to_dicts(),
    }


def data_quality(
    manifest: dict[str, Any],
    correlation: dict[str, Any],
    rejects: pl.DataFrame,
    timeline: pl.LazyFrame | None = None,
) -> dict[str, Any]:
    """The data quality section, from build.json, correlation.json, rejects.parquet and (for the
    timestamp counts) the timeline."""
    sources = [
        {
            "source_file": a.get("source_file"),
            "parser": a.get("parser"),
            "lines_read": a.get("lines_read", 0),
            "lines_parsed": a.get("lines_parsed", 0),
            "lines_rejected": a.get("lines_rejected", 0),
            "lines_skipped": a.get("lines_skipped", 0),
            "events": a.get("events", 0),
            "rejects_by_reason": a.get("rejects_by_reason", {}),
            "skipped_by_reason": a.get("skipped_by_reason", {}),
            "notes": a.get("notes", []),
        }
        for a in manifest.get("accounting", [])
    ]
    corrections = correlation.get("clock_corrections", [])
    return {
        "sources": sources,
        "totals": manifest.get("totals", {}),
        "reject_reasons": _reject_reasons(rejects),
        "timestamps": timestamps(timeline),
        "clock_corrections": [c for c in corrections if c.get("applied")],
        "clock_estimates": corrections,
        "events_by_method": correlation.get("events_by_method", {}),
        "orphans_by_layer": correlation.get("orphans_by_layer", {}),
        "global_events": correlation.get("global_events", 0),
        "degenerate_ids": correlation.get("degenerate_ids", [])[:20],
        "heuristics": correlation.get("heuristics", []),
        "causal_violations_before": correlation.get("causal_violations_before", 0),
        "causal_violations_after": correlation.get("causal_violations_after", 0),
    }


def reproduce(manifest: dict[str, Any], outdir: str) -> dict[str, Any]:
    """The exact command, the tool version and the input hashes."""
    return {
        "build_command": manifest.get("command") or "",
        "report_command": f"timeline report {outdir}",
        "tool_version_build": manifest.get("tool_version"),
        "tool_version_report": __version__,
        "schema_version": manifest.get("schema_version"),
        "inputs": [
            {"path": i.get("path"), "size": i.get("size"), "sha256": i.get("sha256")}
            for i in manifest.get("inputs", [])
        ],
        "settings": manifest.get("settings", {}),
    }
