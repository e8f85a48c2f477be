"""Find one request in a built timeline and render it as a cross-layer chain for the terminal.

The timeline is scanned lazily: finding the request reads the ``correlation_id`` and ``ids``
columns, and only the request's rows are then read in full. Every value printed goes through
:func:`visible`, so that a log field cannot move the cursor, recolour or retitle the terminal.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from timeline.correlation.ids import normalize
from timeline.errors import InputError
from timeline.layout import TIMELINE
from timeline.schema import conform

_WHOLE_SECONDS = re.compile(r"\d{2}:\d{2}:\d{2}(?![.,\d])")
MISSING = "—"  # how a null is printed
# C0 and C1 control characters, DEL, and the invisible Unicode controls that reorder or hide text
# (bidirectional overrides and isolates, zero-width characters, line and paragraph separators).
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (ESC, BEL, CR, newline, ...) and
    invisible Unicode controls are shown as escapes (``\\x1b``, ``\\n``, ``\\u202e``)."""
    return _CONTROL.sub(_escape, text)


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


def find_request(timeline: pl.DataFrame | pl.LazyFrame, needle: str) -> str:
    """The correlation_id of the request that ``needle`` names: its correlation_id or any of its ids.

    Reads only the ``correlation_id`` and ``ids`` columns of ``timeline`` (a scan, or a frame).
    """
    scan = timeline.lazy()
    if scan.filter(pl.col("correlation_id") == needle).select(pl.len()).collect().item():
        return needle
    wanted = (
        pl.DataFrame({"kind": ["x_request_id", "trace_id"], "value": [needle, needle]})
        .select(normalize(pl.col("kind"), pl.col("value")).alias("node"))["node"]
        .drop_nulls()
        .to_list()
    )
    found = (
        scan.select("correlation_id", "ids")
        .drop_nulls("correlation_id")
        .explode("ids")
        .drop_nulls("ids")
        .unnest("ids")
        .filter(
            (pl.col("value") == needle) | normalize(pl.col("kind"), pl.col("value")).is_in(wanted)
        )
        .select(pl.col("correlation_id").unique().sort())
        .collect()["correlation_id"]
        .to_list()
    )
    if not found:
        raise InputError(
            f"no request has the id {visible(repr(needle))}; list requests with `timeline query` "
            "or look in requests.parquet"
        )
    if len(found) > 1:
        shown = visible(", ".join(found[:5]))
        raise InputError(
            f"the id {visible(repr(needle))} belongs to {len(found)} requests ({shown}); "
            "use a correlation_id"
        )
    return str(found[0])


def load_request(outdir: Path, needle: str) -> pl.DataFrame:
    """The events of the request named by ``needle``, in order (read lazily: only its rows)."""
    path = outdir / TIMELINE
    if not path.exists():
        raise InputError(
            f"{str(outdir)!r} has no {TIMELINE}; run `timeline build INPUTS -o {outdir}` first"
        )
    scan = pl.scan_parquet(path)
    cid = find_request(scan, needle)
    return conform(scan.filter(pl.col("correlation_id") == cid).collect()).sort("seq")


def render(events: pl.DataFrame) -> list[str]:
    """Plain-text lines: one per event, offsets, and markers for corrections and heuristic links."""
    first = events.row(0, named=True)
    ids = sorted(
        {i["value"] for row in events["ids"].to_list() if row for i in row if i and i["value"]}
    )
    layers = events["layer"].drop_nulls().n_unique()
    lines = [
        f"request {_text(first['correlation_id'])}  ({events.height} events, {layers} layers)",
        f"ids: {visible(', '.join(ids)) if ids else MISSING}",
        f"start: {first['ts'].isoformat() if first['ts'] else MISSING}",
        "",
        f"{'seq':>3}  {'+ms':>9}  {'layer':<9}  {'event':<20}  details",
    ]
    for row in events.iter_rows(named=True):
        detail = " ".join(f"{k}={_text(row[k])}" for k in _DETAIL if row.get(k) is not None)
        marks = []
        if row["clock_offset_ms"]:
            marks.append(f"clock {row['clock_offset_ms']:+.1f}ms")
        if row.get("ts_inherited"):
            marks.append("time inherited from an earlier line")
        elif (precision := _precision(row)) is not None:
            marks.append(precision)
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


def _precision(row: dict[str, object]) -> str | None:
    """How coarse the event's stamp was, when coarser than a millisecond."""
    ms = row.get("ts_precision_ms")
    raw = row.get("ts_raw")
    if ms is None and isinstance(raw, str) and _WHOLE_SECONDS.search(raw):
        ms = 1000.0
    if not isinstance(ms, float | int) or ms <= 1:
        return None
    if ms == 1000:
        return "time printed to the second"
    return f"time printed to {ms:g} ms"


def _text(value: object) -> str:
    return MISSING if value is None else visible(str(value))
