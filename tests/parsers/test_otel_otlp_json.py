"""otlp_json: the real file-exporter sample and the GenAI / OpenInference mappings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from parsers.otel.otlp_json.parser import OtlpJsonParser
from parsers.otel.otlp_json.values import any_value, hex_id, nanos, status_code
from tests.helpers import assert_real_log, parsed_fraction
from timeline.parserkit.api import LINE_SCHEMA, Sample, Source
from timeline.parserkit.records import read_records


def _source(*lines: str) -> Source:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": list(lines)}, schema=LINE_SCHEMA
    )
    return Source("t.jsonl", frame)


def _span_doc(attrs: dict[str, Any], **span: Any) -> str:
    kv = [{"key": k, "value": v} for k, v in attrs.items()]
    body = {"name": "s", "startTimeUnixNano": "1000000", "endTimeUnixNano": 3_000_000, **span}
    body["attributes"] = kv
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [body]}]}]})


def test_real_file_exporter_sample(real_logs: Path) -> None:
    run = assert_real_log(real_logs, "crosslayer_otlp_file_exporter_traces.jsonl", "otlp_json")
    assert parsed_fraction(run) == 1.0
    events = run.events
    assert events.height == 8  # two spans per line, no first-token / exception events
    assert events["trace_id"].null_count() == 8  # empty ids mean none
    assert events["status"].to_list()[:2] == ["error", "ok"]
    assert events["duration_ms"][0] == pytest.approx(1000.000468)


def test_ids_and_times() -> None:
    assert hex_id("", 16) is None
    assert hex_id("0" * 32, 16) is None
    assert hex_id("4BF92F3577B34DA6A3CE929D0E0E4736", 16) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert hex_id("S/kvNXezTaajzpKdDg5HNg==", 16) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert nanos("1581452772000000321") == 1581452772000000321
    assert nanos(0) is None
    assert status_code("STATUS_CODE_ERROR") == status_code(2) == "error"
    assert any_value({"intValue": "7"}) == 7
    assert any_value({"arrayValue": {"values": [{"boolValue": True}, {"doubleValue": 0.5}]}}) == [
        True,
        0.5,
    ]


def test_openinference_documents_in_index_order() -> None:
    attrs = {
        "openinference.span.kind": {"stringValue": "RETRIEVER"},
        "retrieval.documents.10.document.id": {"stringValue": "d10"},
        "retrieval.documents.2.document.id": {"stringValue": "d2"},
        "retrieval.documents.2.document.score": {"doubleValue": 0.5},
        "retrieval.documents.10.document.score": {"doubleValue": 0.1},
        "retrieval.documents.2.document.content": {"stringValue": "secret"},
    }
    row = OtlpJsonParser().parse(_source(_span_doc(attrs))).events.row(0, named=True)
    assert row["layer"] == "retrieval"
    assert row["doc_ids"] == ["d2", "d10"]
    assert row["doc_scores"] == [0.5, 0.1]
    assert all("secret" not in kv["value"] for kv in row["attributes"])


@pytest.mark.parametrize(
    ("attrs", "layer", "event_type"),
    [
        ({"gen_ai.operation.name": {"stringValue": "chat"}}, "inference", "inference.response"),
        (
            {"gen_ai.operation.name": {"stringValue": "embeddings"}},
            "inference",
            "inference.response",
        ),
        ({"openinference.span.kind": {"stringValue": "GUARDRAIL"}}, "policy", "policy.check"),
        ({"rail.stop": {"boolValue": True}}, "policy", "policy.check"),
        ({"db.system.name": {"stringValue": "qdrant"}}, "retrieval", "retrieval.query"),
        ({"openinference.span.kind": {"stringValue": "TOOL"}}, "other", "server.log"),
        ({"http.method": {"stringValue": "GET"}}, "other", "server.log"),  # not a server span
    ],
)
def test_layer_by_convention(attrs: dict[str, Any], layer: str, event_type: str) -> None:
    row = OtlpJsonParser().parse(_source(_span_doc(attrs))).events.row(0, named=True)
    assert (row["layer"], row["event_type"]) == (layer, event_type)


def test_http_server_span_is_gateway_with_http_status() -> None:
    attrs = {
        "http.request.method": {"stringValue": "POST"},
        "http.response.status_code": {"intValue": "429"},
    }
    row = OtlpJsonParser().parse(_source(_span_doc(attrs, kind=2))).events.row(0, named=True)
    assert (row["layer"], row["status"], row["status_code"]) == ("gateway", "rate_limited", 429)


def test_guardrail_verdicts() -> None:
    blocked = {"rail.type": {"stringValue": "input"}, "rail.stop": {"boolValue": True}}
    allowed = {"gen_ai.guardrail.triggered": {"boolValue": False}}
    events = OtlpJsonParser().parse(_source(_span_doc(blocked), _span_doc(allowed))).events
    assert events["verdict"].to_list() == ["block", "allow"]
    assert events["status"].to_list() == ["blocked", "ok"]
    assert events["policy_stage"].to_list() == ["input", None]


def test_pretty_printed_and_broken_documents() -> None:
    pretty = json.dumps(json.loads(_span_doc({})), indent=2).splitlines()
    lines = [*pretty, "{broken", "  tail of nothing", *pretty]
    documents = read_records(_source(*lines).lines, documents=True, max_lines=None)
    assert documents.frame.height == 2
    result = OtlpJsonParser().parse(_source(*lines))
    assert result.events["source_line"].to_list() == [1, len(pretty) + 3]
    assert result.merged_lines == 2 * (len(pretty) - 1)
    assert result.rejects.height == 2


def test_sniff_prefers_otlp_only_for_otlp() -> None:
    parser = OtlpJsonParser()
    assert parser.sniff(Sample("a", ('{"resourceLogs":[]}',))) > 0.9
    assert parser.sniff(Sample("b", ('{"level":"info","msg":"resourceSpans"}',))) == 0.0
    assert parser.sniff(Sample("c", ("{", '  "resourceSpans": [', "    {"))) > 0.9


def test_arbitrary_text_never_crashes() -> None:
    lines = (
        "{",
        "}",
        "[",
        "]",
        '{"resourceSpans": 5}',
        '{"resourceSpans": [1, {"scopeSpans": "x"}]}',
        "\x00ÿ",
    )
    result = OtlpJsonParser().parse(_source(*lines))
    covered = (
        result.events["source_line"].n_unique() + result.rejects.height + result.skipped.height
    )
    assert covered + result.merged_lines == len(lines)


GOLDEN = Path(__file__).resolve().parents[2] / "parsers" / "otel" / "otlp_json" / "golden"


@pytest.mark.parametrize("name", ["genai_traces.jsonl", "logs.jsonl", "pretty.json"])
def test_vectorized_path_equals_the_python_walker_on_golden_inputs(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spans and log records read in polars give exactly what the Python walker (the
    reference) gives, documents it would take too included."""
    from parsers.otel.otlp_json import parser as otlp

    text = (GOLDEN / name).read_text(encoding="utf-8").splitlines()
    lines = pl.DataFrame(
        {"source_line": list(range(1, len(text) + 1)), "line": text}, schema=LINE_SCHEMA
    )
    fast = otlp.OtlpJsonParser().parse(Source("t", lines))
    monkeypatch.setattr(otlp, "odd_documents", lambda _: pl.lit(True))
    walked = otlp.OtlpJsonParser().parse(Source("t", lines))
    assert fast.events.height == walked.events.height > 0
    assert fast.events.equals(walked.events)
    assert fast.rejects.equals(walked.rejects)
