"""The Azure OpenAI / API Management resource-log parser: properties as string or object, .NET
ticks, records documents, Log Analytics columns, unmapped keys as attributes."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from parsers.gateway.azure_openai_diagnostics.events import EPOCH_TICKS
from parsers.gateway.azure_openai_diagnostics.parser import (
    NOT_OBJECT_REASON,
    STRUCTURE_REASON,
    AzureOpenAIDiagnosticsParser,
)
from timeline.parse.contract import check_contract
from timeline.parserkit.api import LINE_SCHEMA, ParseResult, Sample, Source

PARSER = AzureOpenAIDiagnosticsParser()
AOAI = "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/AOAI-1"
APIM = "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM-1"
# 2025-03-02T10:15:04.120000Z as .NET ticks (100 ns since 0001-01-01)
TICKS = EPOCH_TICKS + 1_740_910_504_120_000 * 10
PROPS = {
    "apiName": "Azure OpenAI API version 2024-10-21",
    "requestTime": TICKS,
    "requestLength": 412,
    "responseTime": TICKS + 11_870_000,
    "responseLength": 1806,
    "objectId": "",
    "streamType": "Non-Streaming",
    "modelDeploymentName": "gpt-4o-prod",
    "modelName": "gpt-4o",
    "modelVersion": "2024-11-20",
}


def request_response(properties: Any, **extra: Any) -> dict[str, Any]:
    record = {
        "time": "2025-03-02T10:15:07.8812345Z",
        "resourceId": AOAI,
        "category": "RequestResponse",
        "operationName": "ChatCompletions_Create",
        "resultSignature": "200",
        "durationMs": 1187,
        "callerIpAddress": "203.0.113.***",
        "correlationId": "c219f6da-8a6c-4c30-8f0e-2bd2f6fa5b1e",
        "location": "eastus",
        "properties": properties,
    }
    return record | extra


def parse(lines: list[str]) -> ParseResult:
    source = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines}, schema=LINE_SCHEMA
    )
    result = PARSER.parse(Source("resource.json", source))
    assert check_contract(PARSER, result, source, "resource.json") is None
    return result


def rows(result: ParseResult) -> list[dict[str, Any]]:
    return result.events.to_dicts()


def attrs(row: dict[str, Any]) -> dict[str, str]:
    return {kv["key"]: kv["value"] for kv in row["attributes"]}


def test_properties_as_a_string_and_as_an_object_read_alike() -> None:
    as_string = request_response(json.dumps(PROPS))
    as_object = request_response(PROPS)
    first, second = rows(parse([json.dumps(as_string), json.dumps(as_object)]))
    for row in (first, second):
        assert (row["model"], row["model_revision"], row["provider"]) == (
            "gpt-4o",
            "2024-11-20",
            "azure_openai",
        )
        assert (row["status"], row["status_code"], row["duration_ms"]) == ("ok", 200, 1187.0)
        assert row["request_id"] == "c219f6da-8a6c-4c30-8f0e-2bd2f6fa5b1e"
        assert row["client_address"] == "203.0.113.***"
        assert row["host"] == "AOAI-1"
        assert attrs(row)["deployment"] == "gpt-4o-prod"
        assert attrs(row)["api_name"] == "Azure OpenAI API version 2024-10-21"
    assert {k: v for k, v in first.items() if k != "source_line"} == {
        k: v for k, v in second.items() if k != "source_line"
    }


def test_request_time_ticks_give_the_request_start_exactly() -> None:
    (row,) = rows(parse([json.dumps(request_response(PROPS))]))
    assert row["event_type"] == "http.request"
    assert row["ts_source"].isoformat() == "2025-03-02T10:15:04.120000+00:00"
    assert row["ts_raw"] == str(TICKS)
    assert row["ts_assumed_tz"] is False
    assert attrs(row)["log_time"] == "2025-03-02T10:15:07.8812345Z"


def test_without_ticks_the_record_time_is_used() -> None:
    audit = {
        "time": "2025-03-02T10:00:30.0000000Z",
        "resourceId": AOAI,
        "category": "Audit",
        "operationName": "ListKey",
        "properties": {"objectId": "8a7b6c5d"},
    }
    (row,) = rows(parse([json.dumps(audit)]))
    assert (row["event_type"], row["message"], row["user_id"]) == (
        "server.log",
        "ListKey",
        "8a7b6c5d",
    )
    assert row["ts_source"].isoformat() == "2025-03-02T10:00:30+00:00"


def test_throttled_and_filtered_requests() -> None:
    throttled = request_response(PROPS, resultSignature="429", resultType="Failed")
    body = json.dumps({"error": {"code": "content_filter", "status": 400}})
    gateway = {
        "time": "2025-03-02T10:15:14.1000000Z",
        "resourceId": APIM,
        "category": "GatewayLogs",
        "operationName": "Microsoft.ApiManagement/GatewayLogs",
        "correlationId": "a1b2",
        "properties": {"method": "POST", "responseCode": 400, "responseBody": body},
    }
    first, second = rows(parse([json.dumps(throttled), json.dumps(gateway)]))
    assert (first["status"], first["severity"]) == ("rate_limited", "ERROR")
    assert (second["status"], second["error_type"], second["status_code"]) == (
        "blocked",
        "content_filter",
        400,
    )


def test_gateway_logs_with_last_error_and_bodies() -> None:
    request = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    response = json.dumps(
        {
            "id": "chatcmpl-abc",
            "model": "gpt-4o-2024-11-20",
            "choices": [{"finish_reason": "stop", "message": {"content": "hello"}}],
            "usage": {"prompt_tokens": 17, "completion_tokens": 9},
        }
    )
    ok = {
        "time": "2025-03-02T10:15:03.9950000Z",
        "resourceId": APIM,
        "category": "GatewayLogs",
        "operationName": "Microsoft.ApiManagement/GatewayLogs",
        "correlationId": "3f2e",
        "durationMs": 1243,
        "callerIpAddress": "198.51.100.23",
        "properties": {
            "method": "POST",
            "url": "https://apim-1.azure-api.net/openai/deployments/d/chat/completions?api-version=1",
            "backendUrl": "https://aoai-1.openai.azure.com/openai/deployments/d/chat/completions",
            "responseCode": 200,
            "backendTime": 1198,
            "requestBody": request,
            "responseBody": response,
        },
    }
    limited = {
        "time": "2025-03-02T10:15:15.0020000Z",
        "resourceId": APIM,
        "category": "GatewayLogs",
        "operationName": "Microsoft.ApiManagement/GatewayLogs",
        "properties": {
            "responseCode": 429,
            "lastError": {"reason": "TokenLimitExceeded", "message": "Token limit is exceeded."},
        },
    }
    first, second = rows(parse([json.dumps(ok), json.dumps(limited)]))
    assert (first["http_method"], first["http_route"], first["upstream"]) == (
        "POST",
        "/openai/deployments/d/chat/completions",
        "aoai-1.openai.azure.com",
    )
    assert (first["model"], first["input_tokens"], first["output_tokens"]) == (
        "gpt-4o-2024-11-20",
        17,
        9,
    )
    assert (first["finish_reason"], first["completion_text"]) == ("stop", "hello")
    assert first["prompt_text"] == request
    assert {"kind": "chatcmpl_id", "value": "chatcmpl-abc"} in first["ids"]
    extra = attrs(first)
    assert "requestBody" not in extra and "responseBody" not in extra  # content stays in content
    assert extra["backend_time_ms"] == "1198"
    assert (second["status"], second["error_type"], second["message"]) == (
        "rate_limited",
        "TokenLimitExceeded",
        "Token limit is exceeded.",
    )


def test_llm_logs_carry_tokens() -> None:
    llm = {
        "time": "2025-03-02T10:15:03.9950000Z",
        "resourceId": APIM,
        "category": "GatewayLlmLogs",
        "correlationId": "3f2e",
        "properties": {
            "deploymentName": "gpt-4o-prod",
            "modelName": "gpt-4o-2024-11-20",
            "promptTokens": 17,
            "completionTokens": 9,
            "totalTokens": 26,
            "requestId": "chatcmpl-abc",
        },
    }
    (row,) = rows(parse([json.dumps(llm)]))
    assert row["event_type"] == "inference.response"
    assert (row["input_tokens"], row["output_tokens"], row["model"]) == (17, 9, "gpt-4o-2024-11-20")
    assert attrs(row)["total_tokens"] == "26"
    assert {"kind": "chatcmpl_id", "value": "chatcmpl-abc"} in row["ids"]


def test_log_analytics_columns() -> None:
    row_la = {
        "TimeGenerated": "2025-03-02T12:00:00.100Z",
        "_ResourceId": APIM.lower(),
        "Type": "ApiManagementGatewayLogs",
        "OperationName": "Microsoft.ApiManagement/GatewayLogs",
        "CorrelationId": "6b5a",
        "TotalTime": 5012,
        "CallerIpAddress": "198.51.100.23",
        "Method": "POST",
        "Url": "https://apim-1.azure-api.net/openai/x",
        "ResponseCode": 503,
        "LastErrorReason": "BackendConnectionFailure",
        "TenantId": "workspace-1",
    }
    (row,) = rows(parse([json.dumps(row_la)]))
    assert (row["status"], row["status_code"], row["error_type"]) == (
        "error",
        503,
        "BackendConnectionFailure",
    )
    assert (row["duration_ms"], row["http_method"], row["event_type"]) == (
        5012.0,
        "POST",
        "http.request",
    )
    assert attrs(row)["TenantId"] == "workspace-1"
    assert "Method" not in attrs(row)


def test_every_unmapped_key_is_an_attribute() -> None:
    record = request_response(
        json.dumps(PROPS | {"newField": 7, "location": "inside"}), Tenant="eastus", event="X"
    )
    (row,) = rows(parse([json.dumps(record)]))
    extra = attrs(row)
    assert (extra["Tenant"], extra["event"], extra["newField"]) == ("eastus", "X", "7")
    # mapped at the top level, so the property of the same name is kept apart
    assert extra["location"] == "eastus"
    assert extra["properties.location"] == "inside"


def test_properties_that_do_not_decode_are_kept_raw() -> None:
    (row,) = rows(parse([json.dumps(request_response("not json"))]))
    assert attrs(row)["properties"] == "not json"
    assert row["model"] is None


def test_a_records_document_on_one_line_gives_one_event_per_record() -> None:
    doc = {"records": [request_response(PROPS), request_response(PROPS, correlationId="x"), 42]}
    result = parse([json.dumps(doc)])
    assert [r["source_line"] for r in rows(result)] == [1, 1]
    assert result.rejects.height == 0  # the line holds events: the bad element has no line
    only_bad = parse([json.dumps({"records": [42]})])
    assert only_bad.rejects.to_dicts() == [{"source_line": 1, "reason": NOT_OBJECT_REASON}]


def test_a_pretty_records_document_keeps_each_record_on_its_lines() -> None:
    doc = {"records": [request_response(PROPS), {"time": "2025-03-02T10:00:00Z", "x": 1}]}
    lines = json.dumps(doc, indent=2).split("\n")
    result = parse(lines)
    (row,) = rows(result)
    assert row["source_line"] == 3
    reasons = set(result.rejects.get_column("reason").to_list())
    assert reasons == {
        "not an Azure resource log record (no category, operationName or resourceId)"
    }
    assert set(result.skipped.get_column("reason").to_list()) == {STRUCTURE_REASON}


def test_reject_reasons() -> None:
    result = parse(
        [
            "plain text",
            json.dumps({"category": "Audit", "operationName": "ListKey"}),
            json.dumps({"time": "noon", "category": "Audit"}),
            json.dumps({"time": "2025-03-02T10:00:00Z", "level": "info", "msg": "other"}),
        ]
    )
    assert result.events.height == 0
    assert [r["reason"] for r in result.rejects.sort("source_line").to_dicts()] == [
        "not a JSON object",
        "no time",
        "time is not ISO 8601",
        "not an Azure resource log record (no category, operationName or resourceId)",
    ]


def test_sniff() -> None:
    line = json.dumps(request_response(json.dumps(PROPS)))
    assert PARSER.sniff(Sample("a.json", (line,))) > 0.9
    doc = json.dumps({"records": [request_response(PROPS)]})
    assert PARSER.sniff(Sample("b.json", (doc,))) > 0.9
    spend = json.dumps({"request_id": "chatcmpl-1", "startTime": "2025-03-02", "model": "m"})
    assert PARSER.sniff(Sample("c.json", (spend,))) == 0.0
    envoy = json.dumps({"start_time": "2025-03-02T10:15:04Z", "response_code": 200})
    assert PARSER.sniff(Sample("d.json", (envoy,))) == 0.0
    assert PARSER.sniff(Sample("e.log", ("hello",))) == 0.0


def test_empty_input() -> None:
    result = parse([])
    assert result.events.height == 0
    assert result.merged_lines == 0
