"""Complete fields: zero documents are 0, revisions wherever logged, host from the resource,
one check per rail (issue 14, item 3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import polars as pl

from parsers.otel._fields import derive_fields
from parsers.otel.otlp_json.parser import OtlpJsonParser
from timeline.normalize.events import docs_from_source, normalize, revision_in_model
from timeline.normalize.inherit import Carry, inherit
from timeline.parserkit.api import Source
from timeline.schema import POLARS_SCHEMA

T0 = datetime(2025, 3, 2, 10, 0, 0, tzinfo=UTC)


def _attr(key: str, value: object) -> dict[str, object]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _span(span_id: str, name: str, parent: str = "", **attrs: object) -> dict[str, object]:
    return {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "startTimeUnixNano": "1740910504000000000",
        "endTimeUnixNano": "1740910504100000000",
        "attributes": [_attr(k.replace("__", "."), v) for k, v in attrs.items()],
    }


def _parsed(spans: list[dict[str, object]], resource: dict[str, str]) -> pl.DataFrame:
    doc: dict[str, Any] = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr(k, v) for k, v in resource.items()]},
                "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}],
            }
        ]
    }
    lines = pl.DataFrame(
        {"source_line": [1], "line": [json.dumps(doc)]},
        schema={"source_line": pl.Int64, "line": pl.String},
    )
    return derive_fields(OtlpJsonParser().parse(Source("t.jsonl", lines)).events)


def test_a_retriever_span_without_documents_returned_zero() -> None:
    events = _parsed(
        [
            _span("1000000000000001", "retrieve", openinference__span__kind="RETRIEVER"),
            _span(
                "1000000000000002",
                "retrieve",
                openinference__span__kind="RETRIEVER",
                retrieval__documents__0__document__id="kb-1",
            ),
            # a vector-store client span does not list documents: unknown, not zero
            _span("1000000000000003", "query", db__system="qdrant"),
        ],
        {"service.name": "rag"},
    )
    docs = events.select(docs_from_source().alias("d"))["d"].to_list()
    assert events["event_type"].to_list() == ["retrieval.query"] * 3
    assert docs == [0, 1, None]


def test_host_prefers_the_process_over_the_service_name() -> None:
    events = _parsed(
        [_span("1000000000000001", "x")],
        {"service.name": "vllm", "service.instance.id": "vllm-7d9f-0"},
    )
    assert events["host"].to_list() == ["vllm-7d9f-0"]
    named = _parsed(
        [_span("1000000000000001", "x")],
        {"service.name": "vllm", "service.instance.id": "i-1", "host.name": "node-a"},
    )
    assert named["host"].to_list() == ["node-a"]


def test_model_revision_from_the_response_snapshot_or_the_fingerprint() -> None:
    events = _parsed(
        [
            _span(
                "1000000000000001",
                "chat gpt-4o",
                gen_ai__operation__name="chat",
                gen_ai__request__model="gpt-4o",
                gen_ai__response__model="gpt-4o-2024-08-06",
            ),
            _span(
                "1000000000000002",
                "chat m",
                gen_ai__operation__name="chat",
                gen_ai__request__model="m",
                gen_ai__response__model="m",
                openai__response__system_fingerprint="fp_44709d6fcb",
            ),
            _span(
                "1000000000000003",
                "chat m",
                gen_ai__operation__name="chat",
                gen_ai__request__model="m",
            ),
        ],
        {"host.name": "h"},
    )
    assert events["model_revision"].to_list() == ["gpt-4o-2024-08-06", "fp_44709d6fcb", None]


def test_one_check_per_rail_not_per_parent_span() -> None:
    events = _parsed(
        [
            _span("1000000000000001", "guardrails.input"),
            _span(
                "1000000000000002",
                "guardrails.rail",
                "1000000000000001",
                rail__type="input",
                rail__name="self check input",
                rail__stop=False,
            ),
            _span(
                "1000000000000003",
                "guardrails.rail",
                "1000000000000001",
                rail__type="input",
                rail__name="jailbreak",
                rail__stop=False,
            ),
            # a lone rail span without a group stays a check
            _span("1000000000000004", "guardrails.output", rail__type="output", rail__stop=True),
        ],
        {"host.name": "h"},
    )
    policy = events.filter(pl.col("layer") == "policy")
    assert policy.height == 3
    group = events.filter(pl.col("span_id") == "1000000000000001").row(0, named=True)
    assert (group["layer"], group["event_type"]) == ("other", "server.log")
    assert {"key": "policy.rail_group", "value": "2"} in group["attributes"]


def test_a_revision_in_the_model_name_and_not_an_ollama_tag() -> None:
    models = [
        "meta-llama/Llama-3.1-8B-Instruct@rev-b",
        "claude-3-5-sonnet@20240620",
        "anthropic.claude-3-sonnet-20240229-v1:0",
        "org/model:0e9e39f2",
        "llama3:8b",
        "qwen2.5:7b-instruct-q4_K_M",
        "llama3:latest",
        "gpt-4o",
        None,
    ]
    found = pl.DataFrame({"m": models}).select(revision_in_model(pl.col("m")))["m"].to_list()
    assert found == ["rev-b", "20240620", "0", "0e9e39f2", None, None, None, None, None]


def _events(rows: dict[str, list[object]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={k: POLARS_SCHEMA[k] for k in rows})
    lines = pl.DataFrame({"source_line": [1], "line": ["x"]})
    return normalize(frame, lines, "vllm.log", "vllm", "inference", keep_raw=False)


def test_normalize_fills_the_revision_written_into_the_model() -> None:
    out = _events(
        {
            "source_line": [1, 2],
            "model": ["m@rev-b", "llama3:8b"],
            "model_revision": [None, None],
        }
    )
    assert out["model_revision"].to_list() == ["rev-b", None]
    assert out["model"].to_list() == ["m@rev-b", "llama3:8b"]


def test_a_startup_revision_is_carried_to_later_events_of_the_file_across_blocks() -> None:
    first = _events(
        {
            "source_line": [1, 2, 3, 4],
            "ts_source": [T0] * 4,
            "layer": ["inference"] * 4,
            "event_type": ["inference.request", "deploy.change", "inference.request", "x"],
            "model": [None, "org/m", None, "other"],
            "model_revision": [None, "0e9e39f2", None, None],
        }
    )
    out, carry = inherit(first)
    assert out["model_revision"].to_list() == [None, "0e9e39f2", "0e9e39f2", None]
    assert out["model"].to_list() == [None, "org/m", "org/m", "other"]
    marks = out.row(2, named=True)["attributes"]
    assert {"key": "model_revision_from_line", "value": "2"} in marks
    later = _events(
        {
            "source_line": [9],
            "ts_source": [T0],
            "layer": ["inference"],
            "event_type": ["inference.response"],
        }
    )
    out2, _ = inherit(later, carry)
    assert out2["model_revision"].to_list() == ["0e9e39f2"]
    alone, _ = inherit(later, Carry())
    assert alone["model_revision"].to_list() == [None]
