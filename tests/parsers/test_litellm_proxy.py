"""The LiteLLM proxy server-log parser: record grouping, untimed headers, router and error lines."""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl
import pytest

from parsers.gateway.litellm_proxy.parser import BANNER_REASON, NOT_LITELLM, LiteLLMProxyParser
from timeline.parse.contract import check_contract
from timeline.parserkit.api import LINE_SCHEMA, ParseResult, Sample, Source

PARSER = LiteLLMProxyParser()
GREEN, RESET = "\x1b[92m", "\x1b[0m"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def frame(lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines}, schema=LINE_SCHEMA
    )


def parse(lines: list[str]) -> ParseResult:
    source = frame(lines)
    result = PARSER.parse(Source("litellm.log", source))
    assert check_contract(PARSER, result, source, "litellm.log") is None
    return result


def rows(result: ParseResult) -> list[dict[str, Any]]:
    return result.events.to_dicts()


def attrs(row: dict[str, Any]) -> dict[str, str]:
    return {kv["key"]: kv["value"] for kv in row["attributes"]}


def test_a_coloured_text_header_gives_level_logger_code_and_an_untimed_event() -> None:
    line = f"{GREEN}12:51:05 - LiteLLM Proxy:DEBUG{RESET}: proxy_server.py:3450 - Request received"
    (row,) = rows(parse([line]))
    assert row["severity"] == "DEBUG"
    assert row["message"] == "Request received"
    assert row["ts_raw"] == "12:51:05"
    assert row["ts_source"] is None  # the format has no date: no invented day
    assert attrs(row) == {"logger": "LiteLLM Proxy", "code": "proxy_server.py:3450"}


def test_a_header_with_a_date_is_timed() -> None:
    (row,) = rows(parse(["2025-03-02 10:15:04 - LiteLLM:WARNING: utils.py:12 - careful"]))
    assert row["ts_source"].isoformat() == "2025-03-02T10:15:04+00:00"
    assert row["ts_assumed_tz"] is True
    assert row["severity"] == "WARN"


def test_router_success_and_failure_lines() -> None:
    result = parse(
        [
            "10:00:01 - LiteLLM Router:INFO: router.py:1074 - "
            "litellm.acompletion(model=azure/gpt-4o)\x1b[32m 200 OK\x1b[0m",
            "10:00:02 - LiteLLM Router:INFO: router.py:1090 - litellm.acompletion(model=openai/o1)"
            "\x1b[31m Exception litellm.RateLimitError: RateLimitError: OpenAIException - "
            "Error code: 429 - quota\x1b[0m",
            "10:00:03 - LiteLLM Router:INFO: router.py:1090 - litellm.acompletion(model=groq/x)"
            " Exception litellm.Timeout: Request timed out",
        ]
    )
    ok, limited, slow = rows(result)
    assert (ok["event_type"], ok["status"], ok["model"], ok["provider"]) == (
        "inference.response",
        "ok",
        "azure/gpt-4o",
        "azure",
    )
    assert attrs(ok)["call_type"] == "acompletion"
    assert limited["event_type"] == "inference.error"
    assert (limited["status"], limited["status_code"]) == ("rate_limited", 429)
    assert limited["error_type"] == "litellm.RateLimitError"
    assert (slow["status"], slow["status_code"], slow["error_type"]) == (
        "timeout",
        None,
        "litellm.Timeout",
    )


def test_an_unknown_prefix_is_not_a_provider() -> None:
    (row,) = rows(
        parse(["10:00:01 - LiteLLM Router:INFO: r.py:1 - litellm.completion(model=meta/x) 200 OK"])
    )
    assert row["model"] == "meta/x"
    assert row["provider"] is None


def test_an_exception_with_traceback_and_correlation_suffix() -> None:
    result = parse(
        [
            "10:15:09 - LiteLLM Proxy:ERROR: common_request_processing.py:1049 - "
            "litellm.proxy.proxy_server._handle_llm_api_exception(): Exception occured - "
            "No deployments available for selected model, Try again in 60 seconds. "
            "Passed model=gpt-4o. pre-call-checks=False",
            "Traceback (most recent call last):",
            '  File "/app/litellm/router.py", line 7879, in _pre_call_checks',
            "    raise RouterRateLimitError(",
            "litellm.types.router.RouterRateLimitError: No deployments available "
            f"[trace_id={TRACE} session_id=sess-1]",
        ]
    )
    (row,) = rows(result)
    assert result.merged_lines == 4
    assert row["status"] == "rate_limited"
    assert row["error_type"] == "litellm.types.router.RouterRateLimitError"
    assert (row["trace_id"], row["session_id"], row["model"]) == (TRACE, "sess-1", "gpt-4o")
    extra = attrs(row)
    assert extra["retry_after_s"] == "60"
    assert extra["router_event"] == "no_deployments"
    assert extra["traceback"].endswith("No deployments available")  # suffix removed


def test_a_suffix_on_a_one_line_record_leaves_the_message() -> None:
    (row,) = rows(parse(["10:00:00 - LiteLLM:INFO: a.py:1 - hello [trace_id=abc session_id=s]"]))
    assert row["message"] == "hello"
    assert row["trace_id"] is None  # not a W3C trace id: kept as a LiteLLM id
    assert {"kind": "litellm_trace_id", "value": "abc"} in row["ids"]
    assert row["session_id"] == "s"


def test_proxy_exception_status_from_the_text() -> None:
    result = parse(
        [
            "10:00:00 - LiteLLM Proxy:ERROR: c.py:1 - litellm.proxy.proxy_server.chat_completion(): "
            "Exception occured - 400: {'error': 'Invalid model name passed in model=lite'}",
            "10:00:01 - LiteLLM Proxy:INFO: c.py:2 - litellm.proxy.proxy_server."
            "_handle_llm_api_exception(): client disconnected, upstream LLM request cancelled",
        ]
    )
    bad, gone = rows(result)
    assert (bad["status"], bad["status_code"], bad["event_type"]) == ("error", 400, "server.log")
    assert attrs(bad)["handler"] == "litellm.proxy.proxy_server.chat_completion"
    assert gone["status"] == "cancelled"


def test_uvicorn_access_and_websocket_lines() -> None:
    result = parse(
        [
            'INFO:     172.18.0.1:51234 - "POST /chat/completions?x=1 HTTP/1.1" 429 Too Many Requests',
            "INFO:     ('127.0.0.1', 5300) - \"WebSocket /v1/realtime\" 403",
            "INFO:     Uvicorn running on http://0.0.0.0:4000 (Press CTRL+C to quit)",
        ]
    )
    access, ws, start = rows(result)
    assert (access["event_type"], access["status"], access["status_code"]) == (
        "http.response",
        "rate_limited",
        429,
    )
    assert (access["http_method"], access["http_route"], access["client_address"]) == (
        "POST",
        "/chat/completions",
        "172.18.0.1",
    )
    assert attrs(access)["http_query"] == "x=1"
    assert (ws["http_route"], ws["status_code"], attrs(ws)["http_protocol"]) == (
        "/v1/realtime",
        403,
        "websocket",
    )
    assert start["event_type"] == "server.start"


def test_json_logs_records() -> None:
    new = {
        "message": "litellm.acompletion(model=azure/gpt-4o) 200 OK",
        "level": "INFO",
        "timestamp": "2025-03-02T10:30:04.512003",
        "litellm_call_id": "b980db26-9512-45cc-b1da-c511a363b83f",
        "component": "LiteLLM Router",
        "logger": "router.py:1074",
    }
    old = {"message": "started", "level": "INFO", "timestamp": "2025-03-02T10:30:00.000001"}
    access = {
        "message": '10.0.0.1:5000 - "GET /health HTTP/1.1" 200',
        "level": "INFO",
        "timestamp": "2025-03-02T10:30:05",
        "component": "uvicorn.access",
    }
    first, second, third = rows(parse([json.dumps(new), json.dumps(old), json.dumps(access)]))
    assert first["request_id"] == "b980db26-9512-45cc-b1da-c511a363b83f"
    assert first["ts_source"].isoformat() == "2025-03-02T10:30:04.512003+00:00"
    assert first["ts_assumed_tz"] is True  # JsonFormatter writes local time without a zone
    assert attrs(first) == {
        "logger": "LiteLLM Router",
        "code": "router.py:1074",
        "call_type": "acompletion",
    }
    assert second["message"] == "started"
    assert (third["event_type"], third["http_route"], third["status_code"]) == (
        "http.response",
        "/health",
        200,
    )


def test_a_traceback_after_a_one_line_record_is_its_own_record_and_other_text_is_rejected() -> None:
    record = json.dumps({"message": "x", "level": "INFO", "timestamp": "2025-03-02T10:30:00"})
    result = parse(
        [
            "printed before any record",
            record,
            "printed after a JSON record",
            "Traceback (most recent call last):",
            '  File "a.py", line 1, in <module>',
            "ValueError: boom",
        ]
    )
    rejected = result.rejects.to_dicts()
    assert rejected == [
        {"source_line": 1, "reason": NOT_LITELLM},
        {"source_line": 3, "reason": NOT_LITELLM},
    ]
    _, tb = rows(result)
    assert (tb["source_line"], tb["severity"], tb["status"]) == (4, "ERROR", "error")
    assert (tb["error_type"], tb["message"]) == ("ValueError", "ValueError: boom")
    assert result.merged_lines == 2


def test_multi_line_messages_are_merged_and_call_ids_found_in_them() -> None:
    result = parse(
        [
            "10:15:03 - LiteLLM Proxy:DEBUG: proxy_server.py:3450 - Request received by LiteLLM:",
            "{",
            '    "litellm_call_id": "0f7c7a3e-2d5b-4c1a-9e8f-7a6b5c4d3e2f"',
            "}",
        ]
    )
    (row,) = rows(result)
    assert row["request_id"] == "0f7c7a3e-2d5b-4c1a-9e8f-7a6b5c4d3e2f"
    assert attrs(row)["continuation_lines"] == "3"


def test_the_startup_banner_is_skipped() -> None:
    result = parse(
        [
            "#------------------------------------------------------------#",
            "#                                                            #",
            " Thank you for using LiteLLM! - Krrish & Ishaan",
            "Give Feedback / Get Help: https://github.com/BerriAI/litellm/issues/new",
            "INFO:     Application startup complete.",
        ]
    )
    assert result.skipped.get_column("reason").to_list() == [BANNER_REASON] * 4
    assert result.events.height == 1


def test_gunicorn_lines_are_timed() -> None:
    (row,) = rows(parse(["[2025-03-02 10:20:00 +0000] [7] [INFO] Starting gunicorn 23.0.0"]))
    assert row["ts_source"].isoformat() == "2025-03-02T10:20:00+00:00"
    assert (row["event_type"], attrs(row)["pid"]) == ("server.start", "7")


@pytest.mark.parametrize(
    ("line", "starts"),
    [
        (f"{GREEN}12:51:05 - LiteLLM Proxy:DEBUG{RESET}: proxy_server.py:1 - x", True),
        ("12:51:05 - LiteLLM Router:INFO: router.py:1 - x", True),
        ("INFO:     127.0.0.1:5000 - x", True),
        ("\x1b[32mINFO\x1b[0m:     Started server process [1]", True),
        ("[2025-03-02 10:20:00 +0000] [7] [INFO] Booting worker", True),
        ('{"message": "x", "level": "INFO"}', True),
        ("{", False),
        ("Traceback (most recent call last):", False),
        ('  File "a.py", line 1', False),
        ("Available Model Group Fallbacks=None", False),
    ],
)
def test_record_start_marks_only_lines_that_always_begin_a_record(line: str, starts: bool) -> None:
    assert (re.match(PARSER.record_start, line) is not None) is starts


def test_sniff_scores_litellm_high_and_others_zero() -> None:
    text = [
        "INFO:     Started server process [1]",
        "10:15:04 - LiteLLM Router:INFO: router.py:1074 - litellm.acompletion(model=x) 200 OK",
        'INFO:     172.18.0.1:51234 - "POST /chat/completions HTTP/1.1" 200 OK',
    ]
    assert PARSER.sniff(Sample("a.log", tuple(text))) > 0.9
    record = {"message": "m", "level": "INFO", "timestamp": "2025-03-02T10:30:00.000001"}
    marked = json.dumps(record | {"component": "LiteLLM Proxy", "logger": "a.py:1"})
    assert PARSER.sniff(Sample("b.log", (marked,))) > 0.9
    # uvicorn alone is every ASGI server (vLLM, TGI ...), a bare {message, level} is anyone's
    vllm = ('INFO:     10.1.2.3:51000 - "POST /v1/completions HTTP/1.1" 200 OK',)
    assert PARSER.sniff(Sample("c.log", vllm)) == 0.0
    assert PARSER.sniff(Sample("d.log", (json.dumps(record),))) == 0.0
    nginx = ('10.0.0.1 - - [02/Mar/2025:10:15:04 +0000] "GET / HTTP/1.1" 200 612 "-" "curl"',)
    assert PARSER.sniff(Sample("e.log", nginx)) == 0.0
    assert PARSER.sniff(Sample("f.log", ())) == 0.0


def test_empty_input() -> None:
    result = parse([])
    assert result.events.height == 0
    assert result.merged_lines == 0
