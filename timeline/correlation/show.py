"""Find one request in a built timeline and render it as a cross-layer chain for the terminal."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from timeline.correlation.ids import normalize
from timeline.errors import InputError
from timeline.io.parquet import read_events
from timeline.layout import TIMELINE

_WHOLE_SECONDS = re.compile(r"\d{2}:\d{2}:\d{2}(?![.,\d])")
MISSING = "—"  # how a null is printed
_DETAIL = (
    "http_method",
    "http_route",
    "status_code",
    "model",
    "model_revision",
    "policy_name",
    "verdict",
    "index_name",
    "index_version",
    "finish_reason",
    "error_type",
)


def find_request(timeline: pl.DataFrame, needle: str) -> str:
    """The correlation_id of the request that ``needle`` names: its correlation_id or any of its ids."""
    if timeline.filter(pl.col("correlation_id") == needle).height:
        return needle
    exploded = (
        timeline.select("correlation_id", "ids").explode("ids").drop_nulls("ids").unnest("ids")
    )
    wanted = (
        pl.DataFrame({"kind": ["x_request_id", "trace_id"], "value": [needle, needle]})
        .select(normalize(pl.col("kind"), pl.col("value")).alias("node"))["node"]
        .to_list()
    )
    hits = exploded.with_columns(normalize(pl.col("kind"), pl.col("value")).alias("node")).filter(
        (pl.col("value") == needle) | pl.col("node").is_in(wanted)
    )
    found = hits["correlation_id"].drop_nulls().unique().sort().to_list()
    if not found:
        raise InputError(
            f"no request has the id {needle!r}; list requests with `timeline query` or look in requests.parquet"
        )
    if len(found) > 1:
        raise InputError(
            f"the id {needle!r} belongs to {len(found)} requests ({', '.join(found[:5])}); use a correlation_id"
        )
    return str(found[0])


def load_request(outdir: Path, needle: str) -> pl.DataFrame:
    """The events of the request named by ``needle``, in order."""
    path = outdir / TIMELINE
    if not path.exists():
        raise InputError(
            f"{str(outdir)!r} has no {TIMELINE}; run `timeline build INPUTS -o {outdir}` first"
        )
    timeline = read_events(path)
    cid = find_request(timeline, needle)
    return timeline.filter(pl.col("correlation_id") == cid).sort("seq")


def render(events: pl.DataFrame) -> list[str]:
    """Plain-text lines: one per event, offsets, and markers for corrections and heuristic links."""
    first = events.row(0, named=True)
    ids = sorted(
        {i["value"] for row in events["ids"].to_list() if row for i in row if i and i["value"]}
    )
    layers = events["layer"].drop_nulls().n_unique()
    lines = [
        f"request {_text(first['correlation_id'])}  ({events.height} events, {layers} layers)",
        f"ids: {', '.join(ids) if ids else MISSING}",
        f"start: {first['ts'].isoformat() if first['ts'] else MISSING}",
        "",
        f"{'seq':>3}  {'+ms':>9}  {'layer':<9}  {'event':<20}  details",
    ]
    for row in events.iter_rows(named=True):
        detail = " ".join(f"{k}={row[k]}" for k in _DETAIL if row.get(k) is not None)
        marks = []
        if row["clock_offset_ms"]:
            marks.append(f"clock {row['clock_offset_ms']:+.1f}ms")
        if row.get("ts_inherited"):
            marks.append("time inherited from an earlier line")
        elif row["ts_raw"] and _WHOLE_SECONDS.search(row["ts_raw"]):
            marks.append("time printed to the second")
        if row["correlation_method"] == "heuristic":
            confidence = row["correlation_confidence"]
            shown = MISSING if confidence is None else f"{confidence:.2f}"
            marks.append(f"heuristic link, confidence {shown}")
        elif row["correlation_method"] == "alias":
            marks.append("via alias")
        mark = f"  [{'; '.join(marks)}]" if marks else ""
        offset = MISSING if row["offset_ms"] is None else f"{row['offset_ms']:.1f}"
        lines.append(
            f"{_text(row['seq']):>3}  {offset:>9}  {_text(row['layer']):<9}  "
            f"{_text(row['event_type'] or None):<20}  {detail}{mark}"
            f"  ({_text(row['source_file'])}:{_text(row['source_line'])})"
        )
    return lines


def _text(value: object) -> str:
    return MISSING if value is None else str(value)
