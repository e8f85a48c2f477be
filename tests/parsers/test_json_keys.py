"""JSON parsers keep every top-level key; AI-gateway fields; TGI hard-wrapped records rejoined."""

from __future__ import annotations

import json

import polars as pl

from parsers.gateway._envoy import key_names
from parsers.gateway.envoy_json.parser import EnvoyJsonParser
from parsers.gateway.litellm_spend_log.parser import LiteLLMSpendLogParser
from parsers.gateway.traefik_json.parser import TraefikJsonParser
from parsers.inference.tgi_json.parser import MAX_LINES, TOO_LONG, TgiJsonParser
from timeline.parserkit.api import LINE_SCHEMA, ParseResult, Source


def _source(lines: list[str]) -> Source:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines}, schema=LINE_SCHEMA
    )
    return Source("test", frame)


def _attrs(result: ParseResult, row: int = 0) -> dict[str, str]:
    items = result.events.get_column("attributes")[row]
    return {item["key"]: item["value"] for item in items}


def test_key_names_nested_and_escaped() -> None:
    lines = pl.Series(['{"a": 1, "b": {"c": 2}, "d": "x\\": y"}', "not json", '{"a\\"q": 1}'])
    assert key_names(lines) == ["a", "b", "c", "d"]


def test_envoy_json_keeps_unmapped_keys() -> None:
    line = json.dumps(
        {
            "start_time": "2025-03-02T10:15:00Z",
            "response_code": 200,
            "upstream_cluster": "c",
            "custom_tag": "blue",
            "nested": {"k": [1, 2]},
            "empty": "-",
        }
    )
    result = EnvoyJsonParser().parse(_source([line]))
    attrs = _attrs(result)
    assert attrs["custom_tag"] == "blue"
    assert attrs["nested"] == '{"k":[1,2]}'
    assert "empty" not in attrs
    assert "start_time" not in attrs


def test_envoy_ai_gateway_fields() -> None:
    line = json.dumps(
        {
            "start_time": "2025-03-02T10:15:00Z",
            "response_code": "200",
            "upstream_cluster": "c",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.provider.name": "openai",
            "gen_ai.usage.input_tokens": "42",
            "gen_ai.usage.output_tokens": "7",
            "gen_ai.usage.total_tokens": "49",
        }
    )
    result = EnvoyJsonParser().parse(_source([line]))
    row = result.events.row(0, named=True)
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert row["provider"] == "openai"
    assert (row["input_tokens"], row["output_tokens"]) == (42, 7)
    attrs = _attrs(result)
    assert attrs["request_model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.total_tokens"] == "49"


def test_envoy_higress_ai_log() -> None:
    ai_log = {
        "model": "qwen-max",
        "input_token": "21",
        "output_token": "17",
        "llm_first_token_duration": "300",
        "cache_status": "hit",
    }
    line = json.dumps(
        {
            "start_time": "2025-03-02T10:15:00Z",
            "response_code": "200",
            "upstream_cluster": "qwen",
            "ai_log": json.dumps(ai_log),
        }
    )
    result = EnvoyJsonParser().parse(_source([line]))
    row = result.events.row(0, named=True)
    assert (row["model"], row["input_tokens"], row["output_tokens"]) == ("qwen-max", 21, 17)
    assert row["ttft_ms"] == 300.0
    assert _attrs(result)["ai_log.cache_status"] == "hit"
    assert "ai_log" not in _attrs(result)


def test_traefik_json_keeps_unmapped_keys() -> None:
    line = json.dumps(
        {
            "StartUTC": "2025-03-02T10:15:04Z",
            "DownstreamStatus": 200,
            "RequestMethod": "GET",
            "RouterName": "r",
            "Duration": 1000000,
            "downstream_Content-Type": "application/json",
        }
    )
    attrs = _attrs(TraefikJsonParser().parse(_source([line])))
    assert attrs["downstream_Content-Type"] == "application/json"
    assert attrs["router_name"] == "r"
    assert "RouterName" not in attrs


def test_litellm_spend_log_keeps_unmapped_keys() -> None:
    line = json.dumps(
        {
            "request_id": "chatcmpl-1",
            "call_type": "acompletion",
            "spend": 0.1,
            "startTime": "2025-03-02T10:15:04",
            "endTime": "2025-03-02T10:15:05",
            "api_key": "h",
            "request_duration_ms": 812,
            "messages": "[]",
        }
    )
    attrs = _attrs(LiteLLMSpendLogParser().parse(_source([line])))
    assert attrs["request_duration_ms"] == "812"
    assert "messages" not in attrs


RECORD = json.dumps(
    {
        "timestamp": "2025-03-02T10:02:00.5Z",
        "level": "INFO",
        "message": "Success",
        "target": "text_generation_router::server",
        "span": {"total_time": "802ms", "name": "generate"},
    },
    separators=(",", ":"),
)


def test_tgi_hard_wrapped_inside_a_string() -> None:
    cut = RECORD.index("Success") + 3  # inside the string: no separator may be added
    result = TgiJsonParser().parse(_source([RECORD[:cut], RECORD[cut:], RECORD]))
    assert result.events.height == 2
    assert result.merged_lines == 1
    assert result.rejects.height == 0
    assert result.events.get_column("message").to_list() == ["Success", "Success"]


def test_tgi_nested_object_on_its_own_line() -> None:
    cut = RECORD.index('"span":') + len('"span":')
    result = TgiJsonParser().parse(_source([RECORD[:cut], RECORD[cut:]]))
    assert result.events.height == 1
    assert result.merged_lines == 1


def test_tgi_unclosed_record_is_bounded() -> None:
    lines = [RECORD[:40]] + ["x" * 10] * (MAX_LINES + 5) + [RECORD]
    result = TgiJsonParser().parse(_source(lines))
    assert result.events.height == 1
    reasons = result.rejects.get_column("reason").unique().to_list()
    assert reasons == [TOO_LONG]
    assert result.rejects.height == MAX_LINES + 6


def test_tgi_stray_line_after_record() -> None:
    result = TgiJsonParser().parse(_source([RECORD, "plain text", "{broken"]))
    assert result.events.height == 1
    assert sorted(result.rejects.get_column("reason").to_list()) == [
        "not JSON",
        "not a tracing JSON record",
    ]
