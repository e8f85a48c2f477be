"""What changed: every version-like field and explicit deploy / startup events over time."""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from timeline.analyze.evidence import iso, location
from timeline.analyze.features import VERSION_FIELDS

EVENT_CHANGES: Final = ("deploy.change", "server.start")
MAX_VALUES: Final = 10
MAX_EVENT_POINTS: Final = 200


def _values(timeline: pl.DataFrame, name: str, width: int) -> pl.DataFrame:
    with_ts = timeline.filter(pl.col(name).is_not_null() & pl.col("ts").is_not_null())
    return (
        with_ts.sort("ts", "event_id")
        .group_by(pl.col(name).cast(pl.String).alias("value"))
        .agg(
            pl.len().alias("events"),
            pl.col("correlation_id").drop_nulls().n_unique().alias("requests"),
            pl.col("ts").first().alias("first_seen"),
            pl.col("ts").last().alias("last_seen"),
            pl.col("event_id").first().alias("first_event_id"),
            location().first().alias("first_source"),
            pl.col("event_id").last().alias("last_event_id"),
            location().last().alias("last_source"),
        )
        .with_columns(
            pl.col("first_seen").dt.truncate(f"{width}m").alias("first_minute"),
            pl.col("last_seen").dt.truncate(f"{width}m").alias("last_minute"),
        )
        .sort("events", "value", descending=[True, False])
    )


def _share(timeline: pl.DataFrame, name: str, width: int, keep: list[str]) -> list[dict[str, Any]]:
    per = (
        timeline.filter(pl.col(name).is_not_null() & pl.col("ts").is_not_null())
        .with_columns(pl.col("ts").dt.truncate(f"{width}m").alias("minute"))
        .group_by("minute", pl.col(name).cast(pl.String).alias("value"))
        .agg(pl.len().alias("events"))
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


def change_log(timeline: pl.DataFrame, width: int) -> dict[str, Any]:
    """Fields (values with first / last seen and share per minute) and change points."""
    ts = timeline["ts"].drop_nulls()
    if ts.is_empty():
        return {"fields": [], "change_points": []}
    start = timeline.select(pl.col("ts").min().dt.truncate("1m")).item()
    end = ts.max()
    fields: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for name in VERSION_FIELDS:
        if name not in timeline.columns:
            continue
        values = _values(timeline, name, width)
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
                "share_per_minute": _share(timeline, name, width, kept["value"].to_list()),
            }
        )
        multi = values.height > 1
        # A value appeared (or disappeared) when the field was already (or still) logged.
        start_minute = values["first_minute"].min()
        end_minute = values["last_minute"].max()
        for r in values.iter_rows(named=True):
            if r["first_minute"] > start_minute:
                points.append(_point(name, r, "appeared", r["first_minute"], r["first_seen"]))
            if multi and r["last_minute"] < end_minute:
                points.append(_point(name, r, "disappeared", r["last_minute"], r["last_seen"]))
    points += _event_points(timeline, width)
    points.sort(key=lambda p: (p["minute"], p["at"], p["field"], str(p["value"])))
    return {
        "window_start": iso(start),
        "window_end": iso(end),
        "fields": fields,
        "change_points": points,
    }


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


def _event_points(timeline: pl.DataFrame, width: int) -> list[dict[str, Any]]:
    events = (
        timeline.filter(pl.col("event_type").is_in(list(EVENT_CHANGES)))
        .sort("ts", "event_id")
        .head(MAX_EVENT_POINTS)
    )
    out = []
    for row in events.with_columns(pl.col("ts").dt.truncate(f"{width}m").alias("minute")).iter_rows(
        named=True
    ):
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
                        "source": f"{row['source_file']}:{row['source_line']}",
                    }
                ],
            }
        )
    return out
