"""Focused tests of the llama.cpp server-log parser's tricky parts."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from parsers.inference.llama_cpp.parser import LlamaCppParser
from timeline.parserkit.api import LINE_SCHEMA, ParseResult, Sample, Source, SourceSettings

PARSER = LlamaCppParser()
RELEASE = "slot      release: id  0 | task 12 | stop processing: n_past = 48, truncated = 0"


def _parse(lines: list[str], tz: str = "UTC") -> ParseResult:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines}, schema=LINE_SCHEMA
    )
    result = PARSER.parse(Source("l.log", frame, SourceSettings(timezone=tz)))
    starts = result.events.get_column("source_line").n_unique() if result.events.height else 0
    covered = starts + result.merged_lines + result.rejects.height + result.skipped.height
    assert covered == len(lines), "every line is a start, merged, rejected or skipped"
    return result


def _rows(result: ParseResult) -> list[dict[str, Any]]:
    return result.events.to_dicts()


def _attrs(row: dict[str, Any]) -> dict[str, str]:
    return {kv["key"]: kv["value"] for kv in row["attributes"]}


def _rejects(result: ParseResult) -> dict[int, str]:
    return dict(zip(result.rejects["source_line"], result.rejects["reason"], strict=True))


@pytest.mark.parametrize(
    ("line", "severity", "uptime", "ts_raw"),
    [
        (RELEASE, None, None, None),
        ("I " + RELEASE, "INFO", None, None),
        ("0.12.345.678 W " + RELEASE, "WARN", "0.12.345.678", None),
        ("2025-11-15 14:23:35.060 E " + RELEASE, "ERROR", None, "2025-11-15 14:23:35.060"),
        ("\x1b[34m12.01.002.003\x1b[0m \x1b[32mI \x1b[0m" + RELEASE, "INFO", "12.01.002.003", None),
        ("[42751] 107.50.716.540 I " + RELEASE, "INFO", "107.50.716.540", None),
    ],
)
def test_prefixes(line: str, severity: str | None, uptime: str | None, ts_raw: str | None) -> None:
    row = _rows(_parse([line]))[0]
    assert row["message"] == "stop processing: n_past = 48, truncated = 0"
    assert row["severity"] == severity
    attrs = _attrs(row)
    assert attrs.get("uptime") == uptime
    assert (attrs["slot_id"], attrs["task_id"], attrs["n_past"]) == ("0", "12", "48")
    assert row["ts_raw"] == ts_raw
    # relative uptimes are not turned into times; the wall-clock variant is local time
    assert (row["ts_source"] is None) == (ts_raw is None)


def test_a_level_letter_needs_a_known_shape_after_it() -> None:
    result = _parse(["I am not a log line"])
    assert _rejects(result) == {1: "not a llama.cpp server log line"}


def test_timings_printout_one_entry_with_continuation_lines() -> None:
    lines = [
        "slot print_timing: id  0 | task 12 | ",
        "prompt eval time =      35.42 ms /    17 tokens (    2.08 ms per token,   479.96 tokens per second)",
        "       eval time =     512.90 ms /    32 tokens (   16.03 ms per token,    62.39 tokens per second)",
        "      total time =     548.32 ms /    49 tokens",
    ]
    result = _parse(lines)
    (row,) = _rows(result)
    assert result.merged_lines == 3
    assert row["event_type"] == "inference.response"
    assert (row["duration_ms"], row["ttft_ms"], row["output_tokens"]) == (548.32, 35.42, 32)
    assert row["message"].startswith("prompt eval time =")
    attrs = _attrs(row)
    assert attrs["prompt_tokens_processed"] == "17"
    assert attrs["tokens_per_second"] == "62.39"


def test_timings_printout_one_entry_per_line() -> None:
    prefix = "1.02.003.004 I slot print_timing: id  1 | task 7 | "
    lines = [
        prefix
        + "prompt eval time =    4812.11 ms /  2210 tokens (    2.18 ms per token,   459.26 tokens per second)",
        prefix
        + "       eval time =    2213.33 ms /   181 tokens (   12.23 ms per token,    81.78 tokens per second)",
        "1.02.003.005 I slot print_timing: id  2 | task 8 |       total time =       1.00 ms /     1 tokens",
        prefix + "      total time =    7025.44 ms /  2391 tokens",
    ]
    result = _parse(lines)
    rows = _rows(result)
    # the other slot's line breaks the printout: its own record, and task 7's total is alone
    assert [r["source_line"] for r in rows] == [1, 3, 4]
    assert result.merged_lines == 1
    first = rows[0]
    assert first["event_type"] == "server.log"  # no total time merged into it
    assert _attrs(first)["eval_tokens"] == "181"
    assert [r["event_type"] for r in rows[1:]] == ["inference.response", "inference.response"]
    assert rows[2]["duration_ms"] == 7025.44


def test_chat_template_lines_continue_their_record_until_the_closing_quote() -> None:
    lines = [
        "main: chat template, chat_template: {% for m in messages %}",
        "Human: {{ m.content }}",
        "{% endfor %}, example_format: 'Human: You are a helpful assistant",
        "Assistant: Hi there",
        "'",
        "main: server is listening on http://127.0.0.1:8080 - starting the main loop",
        "this line is outside the template",
    ]
    result = _parse(lines)
    rows = _rows(result)
    assert [r["source_line"] for r in rows] == [1, 6]
    assert result.merged_lines == 4
    assert _attrs(rows[1])["listen_url"] == "http://127.0.0.1:8080"
    assert _rejects(result) == {7: "not a llama.cpp server log line"}


def test_model_metadata_dump_is_skipped_and_general_name_is_a_deploy_change() -> None:
    lines = [
        "llama_model_loader: loaded meta data with 33 key-value pairs and 292 tensors from /m/x.gguf (version GGUF V3 (latest))",
        "llama_model_loader: - kv   2:                               general.name str              = X 8B",
        "llama_model_loader: - type q4_K:  193 tensors",
        "print_info: file size   = 4.58 GiB (4.89 BPW)",
        "print_info: general.name     = X 8B",
        "W llama_model_loader: - kv  99: odd.key str = kept because it is a warning",
        ".......................................................................................",
    ]
    result = _parse(lines)
    rows = _rows(result)
    assert [r["event_type"] for r in rows] == ["server.log", "deploy.change", "server.log"]
    assert _attrs(rows[0])["model_path"] == "/m/x.gguf"
    assert rows[1]["model"] == "X 8B"
    assert sorted(result.skipped["reason"].to_list()) == ["model metadata dump"] * 3 + [
        "progress dots"
    ]


def test_access_lines_and_errors() -> None:
    lines = [
        "srv  log_server_r: request: POST /v1/chat/completions 10.0.0.21 429",
        "srv    send_error: task id = 13, error: the request exceeds the available context size",
        "llama_model_load: error loading model: invalid magic",
    ]
    access, error, lib = _rows(_parse(lines))
    assert (access["http_method"], access["http_route"], access["client_address"]) == (
        "POST",
        "/v1/chat/completions",
        "10.0.0.21",
    )
    assert (access["status_code"], access["status"]) == (429, "rate_limited")
    assert error["event_type"] == "inference.error"
    assert _attrs(error)["task_id"] == "13"
    # without a level prefix, an error is told by its text
    assert (lib["event_type"], lib["severity"]) == ("inference.error", "ERROR")


def test_task_ids_are_attributes_not_request_ids() -> None:
    row = _rows(_parse(["slot launch_slot_: id  0 | task 12 | processing task"]))[0]
    assert row["event_type"] == "inference.request"
    assert row.get("request_id") is None
    assert not row.get("ids")
    assert _attrs(row)["task_id"] == "12"


def test_2024_json_and_text_formats() -> None:
    lines = [
        '{"tid":"1","timestamp":1714497131,"level":"INFO","function":"print_timings","line":293,'
        '"msg":"          total time =    1085.83 ms","id_slot":0,"id_task":4,"t_total":1085.828}',
        'INFO [      log_server_request] request | tid="2" timestamp=1714497132 remote_addr="127.0.0.1" '
        'remote_port=51234 status=500 method="POST" path="/completion" params={}',
        ' ERR [              send_error] task error | tid="2" timestamp=1714497133 id_task=5 error="boom"',
    ]
    timing, access, error = _rows(_parse(lines))
    assert timing["event_type"] == "inference.response"
    assert timing["duration_ms"] == 1085.83
    assert str(timing["ts_source"]) == "2024-04-30 17:12:11+00:00"
    assert timing["ts_assumed_tz"] is False
    assert _attrs(timing)["task_id"] == "4"
    assert (access["status_code"], access["http_route"]) == (500, "/completion")
    assert _attrs(access)["client_port"] == "51234"
    assert (error["severity"], error["event_type"]) == ("ERROR", "inference.error")
    assert _attrs(error)["error_detail"] == "boom"


def test_sniff_keeps_ollama_logs_on_the_ollama_parser() -> None:
    server = Sample(
        "l.log",
        (
            "main: server is listening on http://127.0.0.1:8080 - starting the main loop",
            "srv  update_slots: all slots are idle",
        ),
    )
    ollama = Sample(
        "o.log",
        (
            'time=2024-05-20T14:00:00.000Z level=INFO source=server.go:320 msg="starting llama server"',
            'INFO [main] model loaded | tid="140131" timestamp=1716213605',
            "llama_model_loader: loaded meta data with 3 key-value pairs and 2 tensors from /m (version GGUF V3 (latest))",
        ),
    )
    library = Sample("c.log", ("llama_model_loader: - type  f32:   66 tensors",))
    openai_like = Sample("j.jsonl", ('{"message": {"function": "x"}, "level": "INFO"}',))
    assert PARSER.sniff(server) > 0.9
    assert PARSER.sniff(ollama) == 0.0
    assert PARSER.sniff(library) < 0.5
    assert PARSER.sniff(openai_like) == 0.0


def test_body_dumps_keep_no_content_in_the_message() -> None:
    lines = [
        'D srv  log_server_r: request:  {"messages":[{"role":"user","content":"secret"}]}',
        'D data stream, to_send: data: {"choices":[{"delta":{"content":"secret"}}]}',
    ]
    rows = _rows(_parse(lines))
    assert [r["message"] for r in rows] == ["request", "data stream, to_send"]
    assert all(r["severity"] == "DEBUG" for r in rows)
