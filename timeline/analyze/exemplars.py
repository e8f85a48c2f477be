"""Exemplars: a few failing requests and one healthy one, each as its cross-layer chain.

Sampling is deterministic and bounded: requests are taken in ``correlation_id`` order (ids are
hashes, so this is an unbiased, reproducible sample), failing requests carrying the top suspect
value first, one per failure reason before a second of any reason; the healthy request is taken
from after the rise when there is one. At most ``MAX_EVENTS`` events are shown per request. Messages are kept whole
here: exports shorten strings only after redaction, so that no secret is cut in half.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from timeline.analyze.evidence import iso, source_of
from timeline.analyze.features import carriers
from timeline.analyze.load import collect
from timeline.correlation.requests import docs_returned

MAX_FAILING: Final = 3
CHAIN: Final = ("prompt", "retrieval", "model", "policy")
MAX_EVENTS: Final = 40
# Failing requests looked at, in order, to find one per failure reason.
SCAN_FAILING: Final = 200
DETAIL_FIELDS: Final = (
    "http_method",
    "http_route",
    "status_code",
    "model",
    "model_revision",
    "prompt_template",
    "prompt_template_version",
    "input_tokens",
    "output_tokens",
    "ttft_ms",
    "finish_reason",
    "index_name",
    "index_version",
    "top_k",
    "policy_name",
    "policy_version",
    "policy_stage",
    "verdict",
    "categories",
    "error_type",
    "duration_ms",
)
CONTENT_FIELDS: Final = ("prompt_text", "completion_text")
# The columns of requests.parquet an exemplar shows (so that no other is read or converted).
REQUEST_FIELDS: Final = (
    "correlation_id",
    "start",
    "duration_ms",
    "status",
    "status_code",
    "failure_reason",
    "layers",
)


def _pick_failing(
    timeline: pl.LazyFrame, requests: pl.LazyFrame, top: dict[str, Any] | None
) -> list[str]:
    failing = requests.filter(pl.col("failing")).select("correlation_id", "failure_reason")
    if top is None:
        ordered = failing.sort("correlation_id").head(SCAN_FAILING).collect()
    else:
        # the failing requests carrying the value, in one streaming pass (a common value is
        # carried by about every request: never held whole)
        carrying = collect(
            carriers(timeline, top["field"], top["value"])
            .select("correlation_id")
            .join(failing.select("correlation_id"), on="correlation_id", how="semi")
            .unique()
        ).lazy()
        first = (
            failing.join(carrying, on="correlation_id", how="semi")
            .sort("correlation_id")
            .head(SCAN_FAILING)
            .collect()
        )
        rest = (
            failing.join(carrying, on="correlation_id", how="anti")
            .sort("correlation_id")
            .head(SCAN_FAILING - first.height)
            .collect()
        )
        ordered = pl.concat([first, rest])
    chosen: list[str] = []
    seen: set[str] = set()
    for row in ordered.iter_rows():
        reason = str(row[1])
        if reason not in seen:
            chosen.append(row[0])
            seen.add(reason)
        if len(chosen) >= MAX_FAILING:
            break
    for cid in ordered["correlation_id"].head(MAX_FAILING * 2).to_list():
        if len(chosen) >= MAX_FAILING:
            break
        if cid not in chosen:
            chosen.append(cid)
    return chosen


def _pick_healthy(requests: pl.LazyFrame, rise: dict[str, Any] | None) -> list[str]:
    healthy = requests.filter(~pl.col("failing")).select("correlation_id", "start")
    if rise is not None:
        after = (
            healthy.filter(pl.col("start").dt.strftime("%Y-%m-%dT%H:%M:%SZ") >= rise["minute"])
            .sort("correlation_id")
            .head(1)
            .collect()
        )
        if after.height:
            return after["correlation_id"].to_list()
    return healthy.sort("correlation_id").head(1).collect()["correlation_id"].to_list()


def _event(row: dict[str, Any]) -> dict[str, Any]:
    details = {}
    for k in DETAIL_FIELDS:
        value = row.get(k)
        if isinstance(value, list):  # a null inside a list (e.g. categories) is no value
            value = [v for v in value if v is not None] or None
        if value is not None:
            details[k] = value
    item: dict[str, Any] = {
        "seq": row["seq"],
        "offset_ms": None if row["offset_ms"] is None else round(row["offset_ms"], 1),
        "ts": iso(row["ts"]),
        "ts_source": iso(row["ts_source"]),
        "layer": row["layer"],
        "event_type": row["event_type"],
        "status": row["status"],
        "details": details,
        "clock_offset_ms": row["clock_offset_ms"] or 0.0,
        "correlation_method": row["correlation_method"],
        "correlation_confidence": row["correlation_confidence"],
        "event_id": row["event_id"],
        "source": source_of(row["source_file"], row["source_line"]),
    }
    if row["status"] in ("error", "timeout", "blocked") and row.get("message"):
        item["message"] = str(row["message"])
    for name in CONTENT_FIELDS:
        if row.get(name) is not None:
            item[name] = row[name]
    return item


def _text(value: Any) -> str | None:
    """A detail as text (None when missing); a float without a trailing ``.0``."""
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
    return str(value)


def _parts(*pairs: tuple[str, Any]) -> str:
    return ", ".join(f"{label} {text}".strip() for label, v in pairs if (text := _text(v)))


def _stage(stage: str, events: pl.DataFrame) -> dict[str, Any]:
    """One step of the request's causal chain, from the events of its layer."""
    layer = events["layer"]
    if stage == "prompt":
        rows = events.filter(
            pl.col("prompt_template").is_not_null()
            | pl.col("prompt_template_version").is_not_null()
            | ((layer == "inference") & pl.col("input_tokens").is_not_null())
        )
    elif stage == "retrieval":
        rows = events.filter((layer == "retrieval") & (pl.col("event_type") == "retrieval.query"))
        if rows.is_empty():
            rows = events.filter(layer == "retrieval")
    elif stage == "model":
        rows = events.filter(
            (layer == "inference")
            & pl.col("event_type").is_in(["inference.response", "inference.error"])
        )
        if rows.is_empty():
            rows = events.filter(layer == "inference")
    else:
        rows = events.filter(layer == "policy")
    if rows.is_empty():
        return {"stage": stage, "text": "not logged", "status": None, "event_id": None}
    texts = []
    for r in rows.head(4).iter_rows(named=True):
        failed = r["status"] not in (None, "ok")
        if stage == "prompt":
            text = _parts(
                ("template", r["prompt_template"]),
                ("version", r["prompt_template_version"]),
                ("input tokens", r["input_tokens"]),
            )
        elif stage == "retrieval":
            text = _parts(
                ("index", r["index_name"]),
                ("version", r["index_version"]),
                ("documents", r["documents"]),
                ("status", r["status"] if failed else None),
            )
        elif stage == "model":
            text = _parts(
                ("", r["model"]),
                ("revision", r["model_revision"]),
                ("status", r["status"]),
                ("error", r["error_type"]),
                ("finish", r["finish_reason"]),
            )
        else:
            text = _parts(
                ("", r["policy_name"]),
                ("", r["policy_stage"]),
                ("", r["verdict"] or r["status"]),
            )
        texts.append(text or "logged")
        if stage != "policy":
            break
    first = rows.row(0, named=True)
    statuses = [v for v in rows["status"].to_list() if v not in (None, "ok")]
    return {
        "stage": stage,
        "text": "; ".join(texts),
        "status": statuses[0] if statuses else first["status"],
        "event_id": first["event_id"],
    }


def chain(events: pl.DataFrame) -> list[dict[str, Any]]:
    """The request's causal chain: prompt -> retrieval -> model -> policy, one step each."""
    with_docs = events.with_columns(docs_returned().alias("documents"))
    return [_stage(stage, with_docs) for stage in CHAIN]


def _chain(timeline: pl.DataFrame, request: dict[str, Any], kind: str) -> dict[str, Any]:
    events = timeline.filter(pl.col("correlation_id") == request["correlation_id"]).sort("seq")
    return {
        "chain": chain(events),
        "kind": kind,
        "correlation_id": request["correlation_id"],
        "start": iso(request["start"]),
        "duration_ms": request["duration_ms"],
        "status": request["status"],
        "status_code": request["status_code"],
        "failure_reason": request["failure_reason"],
        "layers": request["layers"],
        "events_total": events.height,
        "clock_corrected_events": int((events["clock_offset_ms"].fill_null(0) != 0).sum()),
        "heuristic_events": int((events["correlation_method"] == "heuristic").sum()),
        "events": [_event(r) for r in events.head(MAX_EVENTS).iter_rows(named=True)],
    }


def exemplars(
    timeline: pl.LazyFrame,
    requests: pl.LazyFrame,
    top: dict[str, Any] | None,
    rise: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Failing exemplars (up to three) then one healthy request, as event chains.

    ``requests`` must carry the boolean column ``failing``. Only the chosen requests are read in
    full, from both tables.
    """
    picks = [(cid, "failing") for cid in _pick_failing(timeline, requests, top)]
    picks += [(cid, "healthy") for cid in _pick_healthy(requests, rise)]
    wanted = pl.Series([cid for cid, _ in picks], dtype=pl.String).implode()
    rows = {
        r["correlation_id"]: r
        for r in requests.filter(pl.col("correlation_id").is_in(wanted))
        .select(REQUEST_FIELDS)
        .collect()
        .iter_rows(named=True)
    }
    subset = collect(timeline.filter(pl.col("correlation_id").is_in(wanted)))
    return [_chain(subset, rows[cid], kind) for cid, kind in picks]
