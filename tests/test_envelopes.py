"""Envelopes from log platforms are unwrapped before parsing; their facts are kept."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from timeline.ingest.envelopes import detect_kinds, unwrap
from timeline.pipeline.golden import run_one

INNER = '203.0.113.7 - - [02/Mar/2025:10:15:04 +0000] "POST /v1/chat/completions HTTP/1.1" 200 15 "-" "curl/8.5.0"'


def frame(*lines: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": list(lines)},
        schema={"source_line": pl.Int64, "line": pl.String},
    )


def test_docker_json_file_with_partial_entries_joined() -> None:
    half = len(INNER) // 2
    lines = frame(
        json.dumps({"log": INNER[:half], "stream": "stdout", "time": "2025-03-02T10:15:04.5Z"}),
        json.dumps(
            {"log": INNER[half:] + "\n", "stream": "stdout", "time": "2025-03-02T10:15:04.6Z"}
        ),
        "plain line, not wrapped",
    )
    assert detect_kinds(lines) == ("docker_json",)
    out = unwrap(lines)
    assert out.lines.rows() == [(1, INNER), (3, "plain line, not wrapped")]
    assert out.merged.rows() == [(2, 1)]
    env = out.envelope.row(0, named=True)
    assert env["source_line"] == 1
    assert env["env_ts"].isoformat() == "2025-03-02T10:15:04.500000+00:00"
    assert {kv["key"]: kv["value"] for kv in env["env_attrs"]}["envelope.stream"] == "stdout"


def test_kubernetes_fluent_form_names_the_pod() -> None:
    line = json.dumps(
        {
            "message": INNER,
            "stream": "stdout",
            "time": "2025-03-02T10:15:04Z",
            "kubernetes": {"pod_name": "gw-7d9f", "namespace_name": "prod"},
        }
    )
    out = unwrap(frame(line))
    assert out.lines["line"].to_list() == [INNER]
    assert out.envelope["env_host"].to_list() == ["gw-7d9f"]


def test_cri_partial_lines_are_joined() -> None:
    lines = frame(
        "2025-03-02T10:15:04.000000001Z stdout P " + INNER[:40],
        "2025-03-02T10:15:04.000000002Z stdout F " + INNER[40:],
        "2025-03-02T10:15:05.000000000Z stderr F second",
    )
    out = unwrap(lines)
    assert out.kinds == ("cri",)
    assert out.lines.rows() == [(1, INNER), (3, "second")]
    assert out.merged.rows() == [(2, 1)]


@pytest.mark.parametrize(
    ("record", "kind", "host", "ids"),
    [
        (
            {
                "labels": {"pod": "gw-1", "app": "gw"},
                "line": INNER,
                "timestamp": "2025-03-02T10:15:04Z",
            },
            "loki",
            "gw-1",
            [],
        ),
        (
            {
                "logName": "projects/p/logs/stdout",
                "textPayload": INNER,
                "timestamp": "2025-03-02T10:15:04Z",
                "trace": "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736",
                "resource": {"labels": {"pod_name": "gw-2"}},
            },
            "gcp_logging",
            "gw-2",
            [{"kind": "gcp_trace", "value": "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736"}],
        ),
        (
            {
                "timestamp": 1740910504000,
                "message": INNER + "\n",
                "logStreamName": "gw/i-123",
                "ingestionTime": 1740910505000,
                "eventId": "1",
            },
            "cloudwatch",
            "gw/i-123",
            [],
        ),
        (
            {
                "_index": "logs-2025.03.02",
                "_id": "x",
                "_source": {
                    "message": INNER,
                    "@timestamp": "2025-03-02T10:15:04Z",
                    "host": {"name": "gw-3"},
                },
            },
            "elasticsearch_hit",
            "gw-3",
            [],
        ),
    ],
)
def test_json_envelopes(
    record: dict[str, object], kind: str, host: str, ids: list[dict[str, str]]
) -> None:
    out = unwrap(frame(json.dumps(record)))
    assert out.kinds == (kind,)
    assert out.lines["line"].to_list() == [INNER]
    row = out.envelope.row(0, named=True)
    assert row["env_host"] == host
    assert row["env_ids"] == ids
    assert row["env_ts"] is not None


def test_prefix_envelopes_need_most_lines() -> None:
    compose = frame(*[f"gateway-1  | {INNER}"] * 5)
    assert detect_kinds(compose) == ("compose",)
    assert unwrap(compose).lines["line"].to_list() == [INNER] * 5
    mixed = frame("gateway-1  | x", "a plain line", "another plain line")
    assert detect_kinds(mixed) == ()
    syslog = frame(f"Mar  2 10:15:04 gw-host nginx[123]: {INNER}")
    out = unwrap(syslog)
    assert out.kinds == ("syslog",)
    assert out.envelope["env_host"].to_list() == ["gw-host"]


def test_plain_json_logs_are_not_mistaken_for_envelopes() -> None:
    lines = frame(json.dumps({"time": "2025-03-02T10:15:04Z", "message": "hello", "level": "info"}))
    assert detect_kinds(lines) == ()


def test_build_unwraps_and_keeps_envelope_facts(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json.log"
    half = len(INNER) // 2
    rows = [
        {"log": INNER + "\n", "stream": "stdout", "time": "2025-03-02T10:15:04.1Z"},
        {"log": INNER[:half], "stream": "stdout", "time": "2025-03-02T10:15:04.2Z"},
        {"log": INNER[half:] + "\n", "stream": "stdout", "time": "2025-03-02T10:15:04.3Z"},
        {"log": "garbage\n", "stream": "stderr", "time": "2025-03-02T10:15:04.4Z"},
        {"log": "\n", "stream": "stdout", "time": "2025-03-02T10:15:04.5Z"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run = run_one(path)
    acc = run.account
    assert acc.detection.endswith(" in docker_json envelope")
    assert (acc.lines_read, acc.lines_parsed, acc.lines_rejected, acc.lines_skipped) == (5, 3, 1, 1)
    assert run.events["source_line"].to_list() == [1, 2]
    attrs = run.events["attributes"].to_list()[0]
    pairs = dict(attrs) if isinstance(attrs, dict) else {kv["key"]: kv["value"] for kv in attrs}
    assert pairs["envelope.kind"] == "docker_json"
    assert run.rejects["excerpt"].to_list()[0].startswith('{"log": "garbage')


def _nginx(i: int) -> str:
    return INNER.replace("203.0.113.7", f"203.0.113.{i}")


def test_cloudwatch_export_document_is_cut_into_records(tmp_path: Path) -> None:
    doc = {
        "events": [
            {
                "logStreamName": f"gw/i-{i}",
                "timestamp": 1740910504000 + i,
                "message": _nginx(i),
                "ingestionTime": 1740910505000,
                "eventId": str(i),
            }
            for i in range(3)
        ],
        "searchedLogStreams": [],
        "nextToken": "abc",
    }
    path = tmp_path / "filter-log-events.json"
    path.write_text(json.dumps(doc, indent=4) + "\n")
    run = run_one(path)
    acc = run.account
    assert acc.parser == "nginx_combined"
    assert acc.detection.endswith(" in cloudwatch_export+cloudwatch envelope")
    assert acc.events == 3 and acc.lines_rejected == 0 and acc.balanced()
    starts = [i for i, line in enumerate(path.read_text().splitlines(), 1) if line.strip() == "{"][
        1:
    ]
    assert run.events["source_line"].to_list() == starts
    assert run.events["host"].to_list() == ["gw/i-0", "gw/i-1", "gw/i-2"]
    assert acc.skipped_by_reason == {"export document structure": acc.lines_skipped}


def test_elasticsearch_search_response_and_gcp_array(tmp_path: Path) -> None:
    es = {
        "took": 3,
        "timed_out": False,
        "hits": {
            "total": {"value": 2},
            "hits": [
                {
                    "_index": "logs",
                    "_id": str(i),
                    "_source": {"message": _nginx(i), "@timestamp": "2025-03-02T10:15:04Z"},
                }
                for i in range(2)
            ],
        },
    }
    (tmp_path / "es.json").write_text(json.dumps(es, indent=2))
    gcp = [
        {
            "logName": "projects/p/logs/nginx",
            "textPayload": _nginx(i),
            "timestamp": "2025-03-02T10:15:04Z",
            "resource": {"labels": {"pod_name": f"gw-{i}"}},
        }
        for i in range(2)
    ]
    (tmp_path / "gcp.json").write_text(json.dumps(gcp, indent=2))
    for name, kinds in (
        ("es.json", "elasticsearch_response+elasticsearch_hit"),
        ("gcp.json", "json_array+gcp_logging"),
    ):
        run = run_one(tmp_path / name)
        assert run.account.detection.endswith(f" in {kinds} envelope"), run.account.detection
        assert run.account.events == 2 and run.account.balanced()


def test_a_truncated_export_document_rejects_the_rest(tmp_path: Path) -> None:
    doc = {
        "events": [
            {
                "logStreamName": "s",
                "timestamp": 1740910504000,
                "message": _nginx(i),
                "eventId": str(i),
            }
            for i in range(3)
        ]
    }
    text = json.dumps(doc, indent=2)
    path = tmp_path / "cut.json"
    path.write_text(text[: int(len(text) * 0.8)])
    run = run_one(path)
    acc = run.account
    assert acc.balanced()
    assert acc.events == 2
    assert set(acc.rejects_by_reason) == {"truncated or invalid export document"}


def test_prefix_envelope_facts_keep_their_order_and_drop_missing_values() -> None:
    lines = frame(
        f"[pod/gw-0/] 2025-03-02T10:15:04.123456789Z {INNER}",
        f"[pod/gw-1/nginx] {INNER}",
        INNER,
    )
    out = unwrap(lines)
    assert out.kinds == ("kubectl_prefix", "docker_timestamps")
    assert out.lines["line"].to_list() == [INNER] * 3
    first, second = out.envelope.iter_rows(named=True)
    assert first["env_host"] == "gw-0"
    assert first["env_ts"].isoformat() == "2025-03-02T10:15:04.123456+00:00"
    assert [(kv["key"], kv["value"]) for kv in first["env_attrs"]] == [
        ("envelope.kind", "kubectl_prefix"),
        ("envelope.pod", "gw-0"),
        ("envelope.kind", "docker_timestamps"),
        ("envelope.time", "2025-03-02T10:15:04.123456789Z"),
    ]
    assert [(kv["key"], kv["value"]) for kv in second["env_attrs"]] == [
        ("envelope.kind", "kubectl_prefix"),
        ("envelope.pod", "gw-1"),
        ("envelope.container", "nginx"),
    ]
    assert second["env_ts"] is None and first["env_ids"] == []
