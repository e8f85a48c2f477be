"""Focused tests of the SGLang server-log parser's tricky parts."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from parsers.inference.sglang.parser import SglangParser
from timeline.parserkit.api import LINE_SCHEMA, ParseResult, Sample, Source, SourceSettings

PARSER = SglangParser()
RID = "5d1c6f0a9e2b4c7d8f0a1b2c3d4e5f60"


def _parse(lines: list[str], tz: str = "UTC") -> ParseResult:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines}, schema=LINE_SCHEMA
    )
    result = PARSER.parse(Source("s.log", frame, SourceSettings(timezone=tz)))
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
    ("line", "raw", "ranks"),
    [
        ("[2025-04-03 04:46:21] Init torch distributed begin.", "2025-04-03 04:46:21", {}),
        (
            "[2025-04-03 04:46:21.125 DP1 TP3] Init torch distributed begin.",
            "2025-04-03 04:46:21.125",
            {"dp_rank": "1", "tp_rank": "3"},
        ),
        (
            "[2025-04-03 04:46:21 PP1 ATTN_CP0 MOE_DP2 TP0 EP5 NP1] Init torch distributed begin.",
            "2025-04-03 04:46:21",
            {
                "pp_rank": "1",
                "attn_cp_rank": "0",
                "moe_dp_rank": "2",
                "tp_rank": "0",
                "ep_rank": "5",
                "node_rank": "1",
            },
        ),
    ],
)
def test_prefix_time_and_rank_tags(line: str, raw: str, ranks: dict[str, str]) -> None:
    row = _rows(_parse([line], tz="Europe/Berlin"))[0]
    assert row["ts_raw"] == raw
    assert row["ts_assumed_tz"] is True
    assert row["ts_source"].hour == 2  # 04:46 in Berlin (CEST) is 02:46 UTC
    assert row["message"] == "Init torch distributed begin."
    assert row["severity"] is None  # SGLang prints no level
    attrs = _attrs(row)
    for key in ("dp_rank", "tp_rank", "pp_rank", "ep_rank", "attn_cp_rank", "moe_dp_rank"):
        assert attrs.get(key) == ranks.get(key)


def test_ray_actor_prefix() -> None:
    line = "(SGLangEngine pid=41820, ip=10.0.0.7) [2025-11-11 04:06:29 TP1] Init torch distributed begin."
    attrs = _attrs(_rows(_parse([line]))[0])
    assert attrs["process"] == "SGLangEngine"
    assert attrs["pid"] == "41820"
    assert attrs["process_ip"] == "10.0.0.7"
    assert attrs["tp_rank"] == "1"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Decode batch. #running-req: 1, #token: 40, token usage: 0.00, gen throughput (token/s): 6.50, #queue-req: 0",
            {
                "batch": "decode",
                "running_req": "1",
                "token": "40",
                "gen_throughput_token_s": "6.50",
            },
        ),
        (
            "Decode batch, #running-req: 46, #token: 34901, token usage: 0.19, cuda graph: False, gen throughput (token/s): 1447.08, #queue-req: 0, ",
            {"cuda_graph": "False", "queue_req": "0", "token_usage": "0.19"},
        ),
        (
            "Prefill batch(mixed #running-req: 3). #new-seq: 1, #new-token: 96, cache hit rate: 4.85%, #queue-req: 0",
            {"mixed_running_req": "3", "new_seq": "1", "cache_hit_rate": "4.85%"},
        ),
        (
            "Prefill batch, #new-seq: 1, #new-token: 2048, #cached-token: 0, full token usage: 0.01, swa token usage: 0.02, #running-req: 0, #queue-req: 0, input throughput (token/s): 46.36, cuda graph: False",
            {
                "full_token_usage": "0.01",
                "swa_token_usage": "0.02",
                "input_throughput_token_s": "46.36",
            },
        ),
    ],
)
def test_scheduler_stats(message: str, expected: dict[str, str]) -> None:
    row = _rows(_parse([f"[2025-11-11 04:06:27 TP0] {message}"]))[0]
    assert row["event_type"] == "server.metrics"
    attrs = _attrs(row)
    for key, value in expected.items():
        assert attrs[key] == value
    assert "" not in attrs


def test_request_logger_text_lines() -> None:
    receive = (
        "[2025-04-03 04:47:02] Receive: obj=GenerateReqInput(text='say \"rid=\\'x\\'\"', "
        "sampling_params={'max_new_tokens': 32, 'temperature': 0.0}, "
        f"rid='{RID}', stream=False)"
    )
    finish = (
        f"[2025-04-03 04:47:03] Finish: obj=GenerateReqInput(rid='{RID}', stream=False), "
        "out={'text': \"the 'meta_info': {'id': 'fake'} in text\", 'meta_info': "
        f"{{'id': '{RID}', 'finish_reason': {{'type': 'length', 'length': 32}}, "
        "'prompt_tokens': 9, 'completion_tokens': 32, 'cached_tokens': 4, 'e2e_latency': 0.5}}"
    )
    first, second = _rows(_parse([receive, finish]))
    assert first["event_type"] == "inference.request"
    assert first["request_id"] == RID
    assert first["prompt_text"] == "say \"rid='x'\""
    assert first["message"] == "Receive: obj=GenerateReqInput"
    assert _attrs(first)["sampling.max_new_tokens"] == "32"
    assert second["event_type"] == "inference.response"
    assert second["request_id"] == RID  # meta_info's id, its last occurrence
    assert (second["input_tokens"], second["output_tokens"]) == (9, 32)
    assert second["finish_reason"] == "length"
    assert second["duration_ms"] == 500.0
    assert second["status"] == "ok"
    assert second["completion_text"] == "the 'meta_info': {'id': 'fake'} in text"
    assert _attrs(second)["cached_tokens"] == "4"


def test_batch_receive_gives_one_event_per_rid() -> None:
    line = "Receive: obj=GenerateReqInput(rid=['aaa111', 'bbb222'], stream=False)"
    rows = _rows(_parse([line]))
    assert [r["request_id"] for r in rows] == ["aaa111", "bbb222"]
    assert {r["source_line"] for r in rows} == {1}
    assert all(r["ts_source"] is None for r in rows)  # the request logger's own target: no prefix


def test_an_empty_rid_list_beside_a_batch_is_one_event_without_an_id() -> None:
    """``rid=[]`` in the same chunk as a batch: its event is kept (explode drops empty lists)."""
    lines = [
        "Receive: obj=GenerateReqInput(rid=[], text='x')",
        "Receive: obj=GenerateReqInput(rid=['a', 'b'], stream=False)",
    ]
    result = _parse(lines)
    assert _rejects(result) == {}
    rows = _rows(result)
    assert [(r["source_line"], r["request_id"]) for r in rows] == [(1, None), (2, "a"), (2, "b")]


def test_request_logger_json_lines() -> None:
    lines = [
        '{"timestamp": "2026-01-05T09:30:04.512331", "event": "request.received", "rid": "r-1", '
        '"obj": {"text": "hi", "sampling_params": {"max_new_tokens": 8}}}',
        '{"timestamp": "2026-01-05T09:30:05.000000", "event": "request.finished", "rid": "r-1", '
        '"out": {"text": "yo", "meta_info": {"id": "r-1", "finish_reason": {"type": "abort", '
        '"message": "client disconnected"}, "prompt_tokens": 3, "completion_tokens": 1, '
        '"e2e_latency": 0.25}}}',
    ]
    first, second = _rows(_parse(lines))
    assert first["message"] == "request.received"
    assert first["prompt_text"] == "hi"
    assert str(first["ts_source"]) == "2026-01-05 09:30:04.512331+00:00"
    assert _attrs(first)["sampling.max_new_tokens"] == "8"
    assert second["status"] == "cancelled"  # an abort without an HTTP error code
    assert second["completion_text"] == "yo"
    assert _attrs(second)["abort_message"] == "client disconnected"


def test_traceback_merged_into_error_record_and_raw_traceback_own_record() -> None:
    lines = [
        "[2025-11-11 04:06:31 TP3] Scheduler hit an exception: Traceback (most recent call last):",
        '  File "/x/scheduler.py", line 2894, in run_scheduler_process',
        "    scheduler.event_loop_overlap()",
        "torch.OutOfMemoryError: CUDA out of memory.",
        '[2025-11-11 04:06:32] INFO:     10.1.2.3:40086 - "POST /generate HTTP/1.1" 503 Service Unavailable',
        "Traceback (most recent call last):",
        '  File "/usr/lib/python3.12/multiprocessing/process.py", line 314, in _bootstrap',
        "KeyboardInterrupt",
    ]
    result = _parse(lines)
    rows = _rows(result)
    assert [r["source_line"] for r in rows] == [1, 5, 6]
    assert result.merged_lines == 5
    error, access, raw = rows
    assert error["event_type"] == "inference.error"
    assert error["error_type"] == "torch.OutOfMemoryError"
    assert "event_loop_overlap" in _attrs(error)["traceback"]
    assert access["event_type"] == "http.response"
    assert access["status"] == "error"
    assert raw["event_type"] == "inference.error"
    assert raw["ts_source"] is None
    assert raw["error_type"] == "KeyboardInterrupt"


def test_foreign_lines_are_rejected_not_folded() -> None:
    lines = [
        "    indented before any record",
        "[2025-04-03 04:46:21] Init torch distributed begin.",
        "INFO 04-03 04:46:18 __init__.py:190] Automatically detected platform cuda.",
        "    indented after a rejected line",
        "RuntimeError: no traceback before it",
        "Loading safetensors checkpoint shards:  50% Completed | 2/4 [00:04<00:04,  2.00s/it]",
        "just some text",
    ]
    result = _parse(lines)
    assert _rejects(result) == {
        1: "continuation line before the first record",
        3: "vLLM logger line (not SGLang's format)",
        4: "unexpected continuation line",
        5: "unexpected continuation line",
        7: "not an SGLang log line",
    }
    assert result.skipped["reason"].to_list() == ["progress bar"]
    assert result.merged_lines == 0


def test_server_args_is_a_deploy_change() -> None:
    line = (
        "[2025-04-03 04:46:21] server_args=ServerArgs(model_path='org/m-8b', tokenizer_path='org/m-8b', "
        "dtype='bfloat16', quantization=None, served_model_name='m8', revision='abc123', tp_size=2)"
    )
    row = _rows(_parse([line]))[0]
    assert row["event_type"] == "deploy.change"
    assert (row["model"], row["model_revision"]) == ("org/m-8b", "abc123")
    attrs = _attrs(row)
    assert attrs["served_model_name"] == "m8"
    assert attrs["tp_size"] == "2"
    assert "quantization" not in attrs
    assert row["request_id"] is None


def test_sniff() -> None:
    sglang = Sample(
        "s.log",
        (
            "[2025-04-03 04:46:21 TP0] Load weight begin. avail mem=78.50 GB",
            "[2025-04-03 04:46:48 TP0] Prefill batch. #new-seq: 1, #new-token: 7, #cached-token: 0",
        ),
    )
    generic = Sample("g.log", ("[2025-04-03 04:46:21] started", "[2025-04-03 04:46:22] done"))
    assert PARSER.sniff(sglang) > 0.9
    assert PARSER.sniff(generic) < 0.5
    assert PARSER.sniff(Sample("e.log", ())) == 0.0
