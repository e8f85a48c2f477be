"""Focused tests of the gateway parsers' tricky mappings, detection specificity and robustness."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.gateway.envoy_json.parser import EnvoyJsonParser
from parsers.gateway.envoy_text.parser import EnvoyTextParser
from parsers.gateway.litellm_spend_log.parser import LiteLLMSpendLogParser
from parsers.gateway.nginx_combined.parser import NginxCombinedParser
from parsers.gateway.traefik_json.parser import TraefikJsonParser
from timeline.parserkit.api import LINE_SCHEMA, Parser, ParseResult, Sample, Source

CODED: list[Parser] = [
    NginxCombinedParser(),
    EnvoyTextParser(),
    EnvoyJsonParser(),
    LiteLLMSpendLogParser(),
    TraefikJsonParser(),
]


def _parse(parser: Parser, lines: list[str]) -> ParseResult:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines}, schema=LINE_SCHEMA
    )
    return parser.parse(Source("t", frame))


def _rows(result: ParseResult) -> list[dict[str, Any]]:
    return result.events.to_dicts()


def _attrs(row: dict[str, Any]) -> dict[str, str]:
    return {kv["key"]: kv["value"] for kv in row["attributes"]}


def _accounted(result: ParseResult, n: int) -> bool:
    starts = result.events["source_line"].n_unique() if result.events.height else 0
    return starts + result.merged_lines + result.rejects.height + result.skipped.height == n


NGINX_TS = "[02/Mar/2025:10:15:04 +0000]"


@pytest.mark.parametrize(
    ("prefix", "client", "host"),
    [
        ("203.0.113.7", "203.0.113.7", None),
        ("api.example.net 203.0.113.7", "203.0.113.7", "api.example.net"),
        ("198.51.100.4, 10.0.0.1", "198.51.100.4", None),
        ("unknown, 10.0.0.1", "unknown", None),
        ('"2001:db8::5, 10.0.0.1" 10.0.0.2', "2001:db8::5", None),
        ("cafe:beef::1 10.0.0.2", "cafe:beef::1", None),
    ],
)
def test_nginx_address_prefix(prefix: str, client: str, host: str | None) -> None:
    line = f'{prefix} - - {NGINX_TS} "GET /x HTTP/1.1" 200 1 "-" "ua"'
    (row,) = _rows(_parse(NginxCombinedParser(), [line]))
    assert row["client_address"] == client
    assert _attrs(row).get("http_host") == host


def test_nginx_tail_pairs_in_any_order() -> None:
    line = (
        f'10.0.0.9 - - {NGINX_TS} "POST /v1/chat HTTP/1.1" 200 5 "-" "ua" '
        'urt="0.010, 0.020" ua="10.2.0.1:80, 10.2.0.2:80" rt=0.031 custom=yes'
    )
    (row,) = _rows(_parse(NginxCombinedParser(), [line]))
    assert row["duration_ms"] == pytest.approx(31.0)
    assert row["upstream"] == "10.2.0.1:80, 10.2.0.2:80"
    attrs = _attrs(row)
    assert attrs["upstream_response_time"] == "0.010, 0.020"
    assert attrs["custom"] == "yes"
    assert "request_time" not in attrs and "upstream_addr" not in attrs


def test_nginx_main_format_xff_wins_over_remote_addr() -> None:
    line = f'10.0.0.9 - - {NGINX_TS} "GET / HTTP/1.1" 200 5 "-" "ua" "192.0.2.1, 10.0.0.8"'
    (row,) = _rows(_parse(NginxCombinedParser(), [line]))
    assert row["client_address"] == "192.0.2.1"
    assert _attrs(row)["remote_addr"] == "10.0.0.9"


def test_nginx_sniff_rejects_envoy_lines() -> None:
    envoy = '[2025-03-02T10:15:04.120Z] "GET / HTTP/1.1" 200 - 0 2 1 1 "-" "c" "-" "a" "b"'
    assert NginxCombinedParser().sniff(Sample("t", (envoy,))) == 0.0
    assert EnvoyTextParser().sniff(Sample("t", (envoy,))) == 1.0


@pytest.mark.parametrize(
    ("code", "flags", "details", "status"),
    [
        ("503", "UF,URX", "-", "error"),
        ("504", "UT", "-", "timeout"),
        ("429", "RL", "-", "rate_limited"),
        ("0", "DC", "-", "cancelled"),
        ("403", "-", "rbac_access_denied_matched_policy[none]", "blocked"),
        ("200", "-", "via_upstream", "ok"),
    ],
)
def test_envoy_status_from_flags(code: str, flags: str, details: str, status: str) -> None:
    line = (
        f'[2025-03-02T10:15:04.120Z] "POST /v1 HTTP/1.1" {code} {flags} {details} - "-" '
        '0 0 1 - "-" "c" "id-1" "a" "b"'
    )
    (row,) = _rows(_parse(EnvoyTextParser(), [line]))
    assert row["status"] == status
    assert row["status_code"] == int(code)


def test_envoy_json_rejected_multiline_record_rejects_all_its_lines() -> None:
    lines = ["{", '  "start_time": "not a time",', '  "response_code": 200', "}"]
    lines += ["{", '  "start_time": "2025-03-02T10:15:04Z",', '  "duration": -', "}"]
    result = _parse(EnvoyJsonParser(), lines)
    assert sorted(result.rejects["source_line"].to_list()) == [1, 2, 3, 4]
    assert result.merged_lines == 3
    assert _accounted(result, len(lines))
    (row,) = _rows(result)
    assert row["source_line"] == 5 and row["duration_ms"] is None


def test_envoy_json_sniff_is_specific() -> None:
    traefik = json.dumps({"StartUTC": "2025-03-02T10:15:04Z", "DownstreamStatus": 200})
    assert EnvoyJsonParser().sniff(Sample("t", (traefik,))) == 0.0
    generic = json.dumps({"time": "2025-03-02T10:15:04Z", "level": "info", "msg": "hi"})
    for parser in CODED:
        assert parser.sniff(Sample("t", (generic,))) < 0.5, parser.name


def _spend_row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "request_id": "chatcmpl-1",
        "call_type": "acompletion",
        "api_key": "hash",
        "spend": 0.1,
        "startTime": "2025-03-02 10:15:04.000000",
        "endTime": "2025-03-02 10:15:05.500000",
        "completionStartTime": "2025-03-02 10:15:04.250000",
        "model": "m",
        "cache_hit": "None",
        "metadata": "{}",
        "status": "success",
    }
    row.update(over)
    return row


def test_litellm_timing_and_status() -> None:
    failed = _spend_row(
        request_id="b0",
        status="failure",
        metadata=json.dumps({"error_information": {"error_code": "504", "error_class": "Timeout"}}),
    )
    result = _parse(LiteLLMSpendLogParser(), [json.dumps(_spend_row()), json.dumps(failed)])
    ok, bad = _rows(result)
    assert ok["duration_ms"] == pytest.approx(1500.0)
    assert ok["ttft_ms"] == pytest.approx(250.0)
    assert ok["ts_assumed_tz"] is True
    assert (bad["status"], bad["status_code"], bad["error_type"]) == ("timeout", 504, "Timeout")
    assert {"kind": "litellm_call_id", "value": "b0"} in bad["ids"]


def test_litellm_array_document() -> None:
    text = json.dumps([_spend_row(), _spend_row(request_id="chatcmpl-2")], indent=2)
    lines = text.splitlines()
    result = _parse(LiteLLMSpendLogParser(), lines)
    assert [r["request_id"] for r in _rows(result)] == ["chatcmpl-1", "chatcmpl-2"]
    assert result.skipped["reason"].to_list() == ["JSON array punctuation"] * 2
    assert _accounted(result, len(lines))


def test_traefik_service_url_object_and_nanoseconds() -> None:
    line = json.dumps(
        {
            "StartUTC": "2025-03-02T10:15:04Z",
            "Duration": 1500000,
            "DownstreamStatus": 502,
            "RequestMethod": "GET",
            "RequestPath": "/v1/models?x=1",
            "RouterName": "r",
            "ServiceURL": {"Scheme": "http", "Host": "10.0.0.1:80", "Path": ""},
            "request_X-Request-Id": "rid-1",
        }
    )
    (row,) = _rows(_parse(TraefikJsonParser(), [line]))
    assert row["duration_ms"] == pytest.approx(1.5)
    assert row["upstream"] == "http://10.0.0.1:80"
    assert row["http_route"] == "/v1/models"
    assert (row["request_id"], row["status"]) == ("rid-1", "error")


@pytest.mark.slow  # a hypothesis run of many examples: CI's slow step
@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=6))
def test_random_text_never_crashes_and_every_line_is_accounted(lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    sample = Sample("t", tuple(lines))
    for parser in CODED:
        assert 0.0 <= parser.sniff(sample) <= 1.0
        result = _parse(parser, lines)
        assert _accounted(result, len(lines)), parser.name
