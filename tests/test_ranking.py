"""Causal ranking on synthetic timelines: symptoms are failure modes, the causal chain orders the
candidates, and pure noise yields no likely candidate (and no rise)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from timeline.analyze.appendix import AnalysisOptions, analyze
from timeline.analyze.load import Outdir
from timeline.correlation.requests import requests_table
from timeline.export.markdown import render_markdown
from timeline.export.postmortem import render_postmortem
from timeline.normalize.events import docs_from_source, is_retrieval
from timeline.schema import conform

START = datetime(2025, 3, 2, 10, 0, tzinfo=UTC)


def event(
    rid: int, seq: int, at: datetime, layer: str, event_type: str, **fields: Any
) -> dict[str, Any]:
    """One canonical event of request ``rid`` (ids, provenance and ordering filled in)."""
    return {
        "event_id": f"syn:{rid}:{seq}",
        "source_file": f"{layer}.log",
        "source_line": rid * 10 + seq + 1,
        "ts": at,
        "ts_source": at,
        "layer": layer,
        "event_type": event_type,
        "correlation_id": f"r-{rid:05d}",
        "correlation_method": "id",
        "correlation_confidence": 1.0,
        "seq": seq,
        "offset_ms": 10.0 * seq,
        "clock_offset_ms": 0.0,
        **fields,
    }


def outdir(rows: list[dict[str, Any]]) -> Outdir:
    """An in-memory OUTDIR of ``rows`` (timeline and requests table)."""
    schema = {"doc_ids": pl.List(pl.String), "ts": pl.Datetime("us", "UTC")}
    frame = pl.DataFrame(rows, schema_overrides=schema, infer_schema_length=None)
    timeline = conform(frame).sort("ts", "event_id")
    # What normalize fills for real events (the rows here skip it).
    docs = pl.when(is_retrieval(pl.col("layer"))).then(docs_from_source())
    timeline = timeline.with_columns(pl.coalesce("docs_returned", docs).alias("docs_returned"))
    return Outdir(Path("synthetic"), timeline, requests_table(timeline), pl.DataFrame(), {}, {})


def _request(
    rid: int, at: datetime, index: str, docs: int, blocked: bool, host: str, rev: str
) -> list[dict[str, Any]]:
    ms = timedelta(milliseconds=1)
    rows = [
        event(rid, 0, at, "gateway", "http.request", http_route="/v1/chat", status_code=200),
        event(rid, 1, at + 5 * ms, "policy", "policy.check", policy_name="nemo", verdict="allow"),
        event(
            rid,
            2,
            at + 10 * ms,
            "retrieval",
            "retrieval.query",
            index_name=index,
            doc_ids=[f"d{k}" for k in range(docs)],
            status="ok",
        ),
        event(
            rid,
            3,
            at + 20 * ms,
            "inference",
            "inference.response",
            model="llm",
            model_revision=rev,
            host=host,
            status="ok",
        ),
    ]
    if blocked:
        rows.append(
            event(
                rid,
                4,
                at + 30 * ms,
                "policy",
                "policy.check",
                policy_name="self check output",
                verdict="block",
                status="blocked",
            )
        )
    return rows


def rail_timeline() -> Outdir:
    """An index switch at minute 20 makes half of the queries return nothing; the output rail
    "self check output" then blocks those requests, and appears in the trace only when it
    blocks. A few requests before the switch are blocked too (by the same rail)."""
    rows: list[dict[str, Any]] = []
    for rid in range(400):
        at = START + timedelta(seconds=6 * rid)
        switched = rid >= 200
        empty = switched and rid % 2 == 0
        blocked = empty or rid in (37, 121)
        index = "kb-v8" if switched else "kb-v7"
        rows += _request(rid, at, index, 0 if empty else 5, blocked, f"h{rid % 4}", "rev-a")
    return outdir(rows)


def test_a_rail_that_appears_only_when_blocking_is_a_failure_mode() -> None:
    doc = analyze(rail_timeline(), AnalysisOptions())
    likely = [s for s in doc["suspects"] if s["likely"]]
    assert (likely[0]["field"], likely[0]["value"]) == ("index_name", "kb-v8")
    assert likely[0]["causal_rank"] == 1 and likely[0]["stage"] == "retrieval"
    assert all(s["value"] != "self check output" for s in doc["suspects"])
    modes = doc["failure_modes"]["logged_on_failures"]
    assert [(m["field"], m["value"]) for m in modes] == [("policy_name", "self check output")]
    nearest = doc["nearest_change_before_rise"]
    assert nearest is None or nearest["value"] != "self check output"
    rail = [p for p in doc["changes"]["change_points"] if p["value"] == "self check output"]
    assert all(p["failure_mode"] for p in rail)
    summary = " ".join(f["text"] for f in doc["findings"])
    assert "Candidate 1 in causal order: index_name = kb-v8" in summary
    assert "self check output is logged only on failing events" in summary
    draft = render_postmortem(doc)
    trigger = draft.split("## Trigger")[1].split("Chain of the leading failing exemplar")[0]
    assert "kb-v8" in trigger and "self check output" not in trigger


def test_the_causal_chain_puts_the_model_revision_before_its_host() -> None:
    """rev-b goes to host h3 at minute 20 and fails a third of its requests: both the revision
    and the host are over-represented, and the revision (a change, model step) ranks first."""
    rows: list[dict[str, Any]] = []
    for rid in range(480):
        at = START + timedelta(seconds=5 * rid)
        host = f"h{rid % 4}"
        rev = "rev-b" if rid >= 240 and host == "h3" else "rev-a"
        bad = rev == "rev-b" and rid % 3 != 0
        rows += _request(rid, at, "kb-v7", 0 if bad else 5, False, host, rev)
    doc = analyze(outdir(rows), AnalysisOptions())
    likely = [(s["field"], s["value"]) for s in doc["suspects"] if s["likely"]]
    assert likely[0] == ("model_revision", "rev-b")
    assert ("host", "h3") in likely[1:]


def noise_timeline(seed: int = 7) -> Outdir:
    """Failures at 4 % uniformly at random; revisions, hosts and indexes vary independently."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for rid in range(600):
        at = START + timedelta(seconds=3 * rid)
        bad = rng.random() < 0.04
        rev = rng.choice(["rev-a", "rev-b", "rev-c"])
        index = rng.choice(["kb-v7", "kb-v8"])
        rows += _request(rid, at, index, 0 if bad else 5, False, f"h{rng.randrange(4)}", rev)
    return outdir(rows)


def test_pure_noise_yields_no_likely_candidate() -> None:
    doc = analyze(noise_timeline(), AnalysisOptions())
    assert doc["scope"]["failing_requests"] > 10
    assert doc["likely_candidates"] == 0
    assert not [s for s in doc["suspects"] if s["likely"]]
    assert doc["rise"] is None and doc["rise_test"] is not None
    kinds = [f["kind"] for f in doc["findings"]]
    assert "no_candidate" in kinds and "no_rise" in kinds and "candidate" not in kinds
    text = render_markdown(doc)
    assert "No likely candidate" in text
    draft = render_postmortem(doc)
    assert "no logged value passes the tests" in draft


def test_values_seen_only_at_startup_or_at_the_edges_do_not_change() -> None:
    """A startup line before the first request names an old model; a rare host shows up late
    and is last seen near the end. Neither appears nor disappears; the window starts at the
    first request."""
    rows = [
        event(9999, 0, START - timedelta(minutes=3), "inference", "deploy.change", model="old-llm")
    ]
    rows[0]["correlation_id"] = None
    for rid in range(300):
        at = START + timedelta(seconds=6 * rid)
        rev = "rev-rare" if rid in (20, 150, 280) else "rev-a"
        rows += _request(rid, at, "kb-v7", 5, False, "h0", rev)
    doc = analyze(outdir(rows), AnalysisOptions())
    assert doc["scope"]["start"] == "2025-03-02T10:00:00Z"
    points = doc["changes"]["change_points"]
    assert not [p for p in points if p["kind"] in ("appeared", "disappeared")], points


def test_in_the_rise_minute_a_changed_value_is_nearer_than_the_restart_that_loaded_it() -> None:
    from timeline.analyze.suspects import nearest_change_before

    def point(kind: str, field: str, value: str, at: str) -> dict[str, Any]:
        return {"kind": kind, "field": field, "value": value, "minute": "10:11", "at": at}

    def at(hms: str) -> str:
        return f"2025-03-02T{hms}Z"

    restart = point("server.start", "server.start", "provider=vllm", at("10:11:50"))
    revision = point("appeared", "model_revision", "5f0b02c7", at("10:11:34"))
    later_start = {
        **point("server.start", "server.start", "provider=vllm", at("10:12:23")),
        "minute": at("10:12:00"),
    }
    earlier = {
        **point("appeared", "index_name", "kb_v2", at("10:02:00")),
        "minute": at("10:02:00"),
    }
    for p in (restart, revision):
        p["minute"] = at("10:11:00")
    rise = {"minute": at("10:13:00")}
    assert nearest_change_before([earlier, restart, revision, later_start], rise) == revision
    assert nearest_change_before([earlier, restart, later_start], rise) == later_start
    # the rise's split is known to one bucket: a change in the bucket after it still counts
    assert nearest_change_before([earlier, revision], {"minute": at("10:10:00")}) == revision
    assert nearest_change_before([earlier, revision], {"minute": at("10:09:00")}) == earlier
