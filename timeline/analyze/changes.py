"""What changed: every version-like field and explicit deploy / startup events over time."""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from timeline.analyze.evidence import iso, location, source_of
from timeline.analyze.features import VERSION_FIELDS
from timeline.analyze.load import collect
from timeline.analyze.scope import Window, bucket, truncate

EVENT_CHANGES: Final = ("deploy.change", "server.start")
MAX_VALUES: Final = 10
MAX_EVENT_POINTS: Final = 200
# A value appears (disappears) only when not seeing it before (after) would be this unlikely.
EDGE_CHANCE: Final = 0.01
UTC_US: Final = pl.Datetime("us", "UTC")


def _version_events(timeline: pl.LazyFrame) -> pl.LazyFrame:
    """(field, value, ts, event_id, source_file, source_line) per timed version-like value."""
    names = timeline.collect_schema().names()
    return pl.concat(
        [
            timeline.filter(pl.col(name).is_not_null() & pl.col("ts").is_not_null()).select(
                pl.lit(name).alias("field"),
                pl.col(name).cast(pl.String).alias("value"),
                "ts",
                "event_id",
                "source_file",
                "source_line",
            )
            for name in VERSION_FIELDS
            if name in names
        ]
    )


def _values(timeline: pl.LazyFrame, width: int, features: pl.DataFrame) -> pl.DataFrame:
    """Per (field, value): events, requests, first and last seen with the events that show it.

    First and last are the earliest and latest events in (ts, event_id) order: aggregated in the
    scan as min / max of ``ts``, then the few events at exactly those times are read back.
    """
    events = _version_events(timeline)
    stats = collect(
        events.group_by("field", "value").agg(
            pl.len().alias("events"),
            pl.col("ts").min().alias("first_seen"),
            pl.col("ts").max().alias("last_seen"),
        )
    )
    stamps = pl.concat([stats["first_seen"], stats["last_seen"]]).unique()
    ends = (
        collect(
            events.filter(pl.col("ts").is_in(stamps.implode())).select(
                "field", "value", "ts", "event_id", location()
            )
        )
        .join(stats.drop("events"), on=["field", "value"], how="inner")
        .filter((pl.col("ts") == pl.col("first_seen")) | (pl.col("ts") == pl.col("last_seen")))
    )
    first = (
        ends.filter(pl.col("ts") == pl.col("first_seen"))
        .group_by("field", "value")
        .agg(
            pl.col("event_id").sort_by("event_id").first().alias("first_event_id"),
            pl.col("source").sort_by("event_id").first().alias("first_source"),
        )
    )
    last = (
        ends.filter(pl.col("ts") == pl.col("last_seen"))
        .group_by("field", "value")
        .agg(
            pl.col("event_id").sort_by("event_id").last().alias("last_event_id"),
            pl.col("source").sort_by("event_id").last().alias("last_source"),
        )
    )
    requests = features.select("field", "value", pl.col("requests_timed").alias("requests"))
    return (
        stats.join(requests, on=["field", "value"], how="left")
        .join(first, on=["field", "value"], how="left")
        .join(last, on=["field", "value"], how="left")
        .with_columns(
            pl.col("requests").fill_null(0),
            truncate(pl.col("first_seen"), width).alias("first_minute"),
            truncate(pl.col("last_seen"), width).alias("last_minute"),
        )
    )


def _edges(values: pl.DataFrame, shares: pl.DataFrame, extent: Window, width: int) -> pl.DataFrame:
    """``values`` with ``appeared`` and ``disappeared``.

    Only values carried by a request and seen at or after the window's start (its first request)
    can change: a value seen only at startup, before any request, neither appears nor disappears.
    A value appeared when it was first seen after the window's first bucket and the field was
    logged often enough before, at the share the value later had, that it would have been seen
    then had it been there: (1 - share) ** (events of the field before) < ``EDGE_CHANCE``.
    Likewise a value disappeared when the field went on being logged long enough after its last
    sighting. So a rare value is not said to appear or disappear at the window's edges.
    """
    if values.is_empty() or extent.start is None:
        return values.with_columns(
            pl.lit(False).alias("appeared"), pl.lit(False).alias("disappeared")
        )
    start_minute = truncate(pl.lit(extent.start, dtype=UTC_US), width)
    totals = shares.group_by("field", "minute").agg(pl.col("events").sum().alias("total"))
    minute = pl.col("minute")
    context = (
        values.select("field", "value", "first_minute", "last_minute")
        .join(totals, on="field", how="left")
        .group_by("field", "value")
        .agg(
            pl.col("total")
            .filter((minute >= start_minute) & (minute < pl.col("first_minute")))
            .sum()
            .alias("before"),
            pl.col("total").filter(minute > pl.col("last_minute")).sum().alias("after"),
            pl.col("total")
            .filter((minute >= pl.col("first_minute")) & (minute <= pl.col("last_minute")))
            .sum()
            .alias("during"),
        )
    )
    share = (pl.col("events") / pl.col("during")).clip(0.0, 1.0)
    miss = 1.0 - share
    live = (pl.col("requests") > 0) & (pl.col("last_seen") >= pl.lit(extent.start, dtype=UTC_US))
    return (
        values.join(context, on=["field", "value"], how="left")
        .with_columns(
            (
                live
                & (pl.col("first_minute") > start_minute)
                & (miss.pow(pl.col("before")) < EDGE_CHANCE)
            )
            .fill_null(False)
            .alias("appeared"),
            (live & (pl.col("after") > 0) & (miss.pow(pl.col("after")) < EDGE_CHANCE))
            .fill_null(False)
            .alias("disappeared"),
        )
        .drop("before", "after", "during")
    )


def _shares(timeline: pl.LazyFrame, width: int) -> pl.DataFrame:
    """Events per (field, bucket, value), for the share of each value per bucket."""
    return collect(
        _version_events(timeline)
        .group_by("field", bucket("ts", width), "value")
        .agg(pl.len().alias("events"))
    )


def _share(shares: pl.DataFrame, name: str, keep: list[str]) -> list[dict[str, Any]]:
    per = (
        shares.filter(pl.col("field") == name)
        .drop("field")
        .with_columns((pl.col("events") / pl.col("events").sum().over("minute")).alias("share"))
        .filter(pl.col("value").is_in(keep))
        .sort("minute", "value")
    )
    return [
        {
            "minute": iso(r["minute"]),
            "value": r["value"],
            "events": r["events"],
            "share": round(r["share"], 4),
        }
        for r in per.iter_rows(named=True)
    ]


def change_log(
    timeline: pl.LazyFrame, width: int, extent: Window, features: pl.DataFrame
) -> dict[str, Any]:
    """Fields (values with first / last seen and share per minute) and change points.

    ``features`` is ``feature_counts`` output (requests per value).
    """
    if extent.end is None:
        return {"fields": [], "change_points": []}
    start = pl.Series([extent.start]).dt.truncate("1m")[0]
    end = extent.end
    shares = _shares(timeline, width)
    all_values = _edges(_values(timeline, width, features), shares, extent, width)
    fields: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for name in VERSION_FIELDS:
        values = (
            all_values.filter(pl.col("field") == name)
            .drop("field")
            .sort("events", "value", descending=[True, False])
        )
        if values.is_empty():
            continue
        kept = values.head(MAX_VALUES)
        fields.append(
            {
                "field": name,
                "distinct_values": values.height,
                "values": [
                    {
                        "value": r["value"],
                        "events": r["events"],
                        "requests": r["requests"],
                        "first_seen": iso(r["first_seen"]),
                        "last_seen": iso(r["last_seen"]),
                        "evidence": [
                            {"event_id": r["first_event_id"], "source": r["first_source"]},
                            {"event_id": r["last_event_id"], "source": r["last_source"]},
                        ],
                    }
                    for r in kept.iter_rows(named=True)
                ],
                "share_per_minute": _share(shares, name, kept["value"].to_list()),
            }
        )
        for r in values.iter_rows(named=True):
            if r["appeared"]:
                points.append(_point(name, r, "appeared", r["first_minute"], r["first_seen"]))
            if r["disappeared"]:
                points.append(_point(name, r, "disappeared", r["last_minute"], r["last_seen"]))
    points += _event_points(timeline, width)
    points.sort(key=_point_order)
    return {
        "window_start": iso(start),
        "window_end": iso(end),
        "fields": fields,
        "change_points": points,
    }


def _point_order(p: dict[str, Any]) -> tuple[str, ...]:
    """Change points by minute, time, field, value; a missing part sorts first, never raises."""
    return tuple("" if p[k] is None else str(p[k]) for k in ("minute", "at", "field", "value"))


def _point(name: str, r: dict[str, Any], kind: str, minute: Any, at: Any) -> dict[str, Any]:
    first = kind == "appeared"
    return {
        "kind": kind,
        "field": name,
        "value": r["value"],
        "minute": iso(minute),
        "at": iso(at),
        "events": r["events"],
        "evidence": [
            {
                "event_id": r["first_event_id" if first else "last_event_id"],
                "source": r["first_source" if first else "last_source"],
            }
        ],
    }


def _event_points(timeline: pl.LazyFrame, width: int) -> list[dict[str, Any]]:
    # Only timed events: an event without a time cannot be placed among the changes.
    events = (
        timeline.filter(
            pl.col("event_type").is_in(list(EVENT_CHANGES)) & pl.col("ts").is_not_null()
        )
        .select(
            "event_type",
            "ts",
            "event_id",
            "model",
            "model_revision",
            "provider",
            "message",
            "layer",
            "host",
            "source_file",
            "source_line",
        )
        .sort("ts", "event_id")
        .head(MAX_EVENT_POINTS)
        .collect()
    )
    out = []
    for row in events.with_columns(bucket("ts", width)).iter_rows(named=True):
        detail = ", ".join(
            f"{k}={row[k]}" for k in ("model", "model_revision", "provider") if row.get(k)
        )
        message = row.get("message") or ""
        out.append(
            {
                "kind": row["event_type"],
                "field": row["event_type"],
                "value": detail or message,
                "minute": iso(row["minute"]),
                "at": iso(row["ts"]),
                "events": 1,
                "layer": row["layer"],
                "host": row.get("host"),
                "message": message,
                "evidence": [
                    {
                        "event_id": row["event_id"],
                        "source": source_of(row["source_file"], row["source_line"]),
                    }
                ],
            }
        )
    return out
