"""Focused tests of the Triton Inference Server parser's tricky parts."""

from __future__ import annotations

import re
from typing import Any

import polars as pl
import pytest

from parsers.inference.triton import lines as shapes
from parsers.inference.triton.parser import TritonParser
from parsers.inference.triton.tables import parse_table
from timeline.parserkit.api import LINE_SCHEMA, ParseResult, Sample, Source, SourceSettings

PARSER = TritonParser()


def _source(lines: list[str], year: int | None = 2024, tz: str = "UTC") -> Source:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines}, schema=LINE_SCHEMA
    )
    return Source("t.log", frame, SourceSettings(timezone=tz, year=year))


def _parse(lines: list[str], year: int | None = 2024, tz: str = "UTC") -> ParseResult:
    result = PARSER.parse(_source(lines, year, tz))
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


def test_both_prefixes_give_the_same_event() -> None:
    default = "I0516 21:02:44.123456 1 model_lifecycle.cc:838] \"successfully loaded 'simple'\""
    iso = "2024-05-16T21:02:44Z I 1 model_lifecycle.cc:838] \"successfully loaded 'simple'\""
    a, b = _rows(_parse([default]))[0], _rows(_parse([iso]))[0]
    for key in ("event_type", "severity", "status", "message", "model", "attributes"):
        assert a[key] == b[key], key
    assert a["ts_raw"] == "0516 21:02:44.123456"
    assert b["ts_raw"] == "2024-05-16T21:02:44Z"
    assert str(a["ts_source"]) == "2024-05-16 21:02:44.123456+00:00"
    assert str(b["ts_source"]) == "2024-05-16 21:02:44+00:00"


@pytest.mark.parametrize(
    ("letter", "severity"), [("I", "INFO"), ("W", "WARN"), ("E", "ERROR"), ("F", "FATAL")]
)
def test_level_letter_is_the_severity(letter: str, severity: str) -> None:
    row = _rows(_parse([f"{letter}0516 21:02:44.123456 1 server.cc:1] x"]))[0]
    assert row["severity"] == severity


def test_default_format_takes_the_configured_year_and_is_utc() -> None:
    line = "I1231 23:59:59.999999 7 server.cc:10] bye"
    # Triton formats with gmtime_r: the configured zone does not shift it and is not "assumed".
    row = _rows(_parse([line], year=2023, tz="Europe/Berlin"))[0]
    assert str(row["ts_source"]) == "2023-12-31 23:59:59.999999+00:00"
    assert row["ts_assumed_tz"] is False
    # Without a year the event stays, with its raw timestamp but no time.
    row = _rows(_parse([line], year=None))[0]
    assert row["ts_source"] is None
    assert row["ts_raw"] == "1231 23:59:59.999999"
    # The ISO8601 format carries its own year.
    iso = _rows(_parse(["2022-03-01T00:00:00Z W 7 server.cc:10] x"], year=1999))[0]
    assert str(iso["ts_source"]) == "2022-03-01 00:00:00+00:00"
    assert PARSER.needs_year


def test_impossible_date_keeps_the_event_without_a_time() -> None:
    row = _rows(_parse(["I0230 10:00:00.000000 1 server.cc:1] leap"], year=2024))[0]
    assert row["ts_source"] is None
    assert row["message"] == "leap"


def test_escaped_message_is_decoded_and_its_tail_kept() -> None:
    line = (
        "E0516 21:02:44.123456 1 pb_stub.cc:721] "
        r'"Failed to process the request(s) for model ' + "'m_0_0'" + r", message: ValueError: "
        r'bad \"x\"\n\nAt:\n  /models/m/1/model.py(9): execute\n"'
    )
    row = _rows(_parse([line]))[0]
    assert row["message"] == (
        "Failed to process the request(s) for model 'm_0_0', message: ValueError: bad \"x\""
    )
    assert row["event_type"] == "inference.error"
    assert row["error_type"] == "ValueError"
    attrs = _attrs(row)
    assert attrs["traceback"] == "At:\n  /models/m/1/model.py(9): execute"
    assert attrs["model_instance"] == "m_0_0"


def test_unterminated_quote_is_kept_as_written() -> None:
    row = _rows(_parse(['I0516 21:02:44.123456 1 server.cc:1] "half']))[0]
    assert row["message"] == '"half'


def test_model_table_is_merged_and_gives_one_event_per_model() -> None:
    lines = [
        "I0516 21:02:44.123456 1 server.cc:674] ",
        "+-------+---------+------------------------+",
        "| Model | Version | Status                 |",
        "+-------+---------+------------------------+",
        "| a     | 1       | READY                  |",
        "| b     | 2       | UNAVAILABLE: Internal: |",
        "|       |         |  ModuleNotFoundError:  |",
        "|       |         | No module named 'cv2'  |",
        "| c     | -       | Not loaded: No model v |",
        "|       |         | ersion was found       |",
        "+-------+---------+------------------------+",
    ]
    result = _parse(lines)
    assert result.merged_lines == 10
    assert result.rejects.height == 0
    rows = _rows(result)
    assert [r["source_line"] for r in rows] == [1, 1, 1]
    assert [(r["model"], r["model_revision"], r["status"]) for r in rows] == [
        ("a", "1", "ok"),
        ("b", "2", "error"),
        ("c", None, "error"),
    ]
    assert {r["event_type"] for r in rows} == {"deploy.change"}
    assert _attrs(rows[1])["state_reason"] == (
        "Internal: ModuleNotFoundError: No module named 'cv2'"
    )
    assert rows[1]["error_type"] == "ModuleNotFoundError"
    assert _attrs(rows[2])["state_reason"] == "No model version was found"


def test_table_cells_rejoin_width_cuts_and_keep_newlines() -> None:
    table = parse_table(
        [
            "+----+-------+",
            "| k  | v     |",
            "+----+-------+",
            "| a  | 12345 |",
            "|    | 678   |",
            "| b  | x     |",
            "|    |       |",
            "|    | At:   |",
            "+----+-------+",
        ]
    )
    assert table is not None
    assert table.header == ("k", "v")
    assert table.rows == (("a", "12345678"), ("b", "x\n\nAt:"))
    assert parse_table(["| no border |"]) is None


def test_options_table_is_the_server_start_with_its_options() -> None:
    lines = [
        "I0516 21:02:44.123456 1 tritonserver.cc:2598] ",
        "+----------------+--------+",
        "| Option         | Value  |",
        "+----------------+--------+",
        "| server_id      | triton |",
        "| server_version | 2.48.0 |",
        "+----------------+--------+",
    ]
    row = _rows(_parse(lines))[0]
    assert row["event_type"] == "server.start"
    attrs = _attrs(row)
    assert attrs["option.server_version"] == "2.48.0"
    assert attrs["table"] == "options"


def test_foreign_lines_are_rejected_not_folded() -> None:
    lines = [
        "E0516 21:02:44.123456 1 model_lifecycle.cc:641] failed to load 'x' version 1: Internal: ValueError: boom",
        "At:",
        "  /models/x/1/model.py(3): <module>",
        '10.0.0.1 - - [16/May/2024:21:02:45 +0000] "GET / HTTP/1.1" 200 1',
        "  /models/x/1/model.py(4): later",
        "I0516 21:02:46.000000 1 server.cc:1] next",
        "| a | b |",
    ]
    result = _parse(lines)
    assert result.merged_lines == 2
    assert _rejects(result) == {
        4: "not a Triton log line",
        5: "unexpected continuation line",
        7: "unexpected continuation line",
    }
    first = _rows(result)[0]
    assert _attrs(first)["traceback"] == "At:\n  /models/x/1/model.py(3): <module>"
    assert first["error_type"] == "ValueError"


def test_lines_before_the_first_record() -> None:
    result = _parse(
        [
            "== Triton Inference Server ==",
            "some prelude",
            "  indented prelude",
            "I0516 21:02:44.123456 1 server.cc:1] x",
        ]
    )
    assert _rejects(result) == {
        2: "not a Triton log line",
        3: "continuation line before the first record",
    }
    assert result.skipped.to_dicts() == [{"source_line": 1, "reason": "container banner"}]


def test_traceback_joins_an_error_record_but_starts_its_own_after_info() -> None:
    tb = [
        "Traceback (most recent call last):",
        '  File "/models/m/1/model.py", line 5, in execute',
        "    raise KeyError('k')",
        "KeyError: 'k'",
    ]
    after_error = _parse(["E0516 21:02:44.123456 1 pb_stub.cc:1] stub failed", *tb])
    assert after_error.events.height == 1
    assert after_error.merged_lines == 4
    assert _rows(after_error)[0]["error_type"] == "KeyError"

    after_info = _parse(["I0516 21:02:44.123456 1 server.cc:1] fine", *tb])
    rows = _rows(after_info)
    assert [r["source_line"] for r in rows] == [1, 2]
    assert rows[1]["event_type"] == "inference.error"
    assert rows[1]["severity"] == "ERROR"
    assert rows[1]["ts_source"] is None
    assert rows[1]["error_type"] == "KeyError"


def test_raw_request_dump_is_merged_with_model_version_and_id() -> None:
    lines = [
        "I0801 13:59:33.053442 1 infer_request.cc:710] [request id: r-1] prepared: [0x0x7f38] request id: r-1, model: simple, requested version: -1, actual version: 3, flags: 0x0, correlation id: 0, batch size: 2, priority: 0, timeout (us): 0",
        "original inputs:",
        "[0x0x7f37] input: INPUT0, type: INT32, original shape: [2,16], batch + shape: [2,16], shape: [16]",
        "override inputs:",
        "inputs:",
        "[0x0x7f37] input: INPUT0, type: INT32, original shape: [2,16], batch + shape: [2,16], shape: [16]",
        "original requested outputs:",
        "OUTPUT0",
        "requested outputs:",
        "OUTPUT0",
        "OUTPUT1",
    ]
    result = _parse(lines)
    assert result.merged_lines == 10
    row = _rows(result)[0]
    assert row["event_type"] == "inference.request"
    assert (row["model"], row["model_revision"], row["request_id"]) == ("simple", "3", "r-1")
    assert row["ids"] == [{"kind": "triton_request_id", "value": "r-1"}]
    attrs = _attrs(row)
    assert attrs["batch_size"] == "2"
    assert attrs["inputs"] == "INPUT0"
    assert attrs["requested_outputs"] == "OUTPUT0,OUTPUT1"
    # bare names are dump lines only inside a request dump
    stray = _parse(["I0801 13:59:33.053442 1 server.cc:1] x", "OUTPUT0"])
    assert _rejects(stray) == {2: "not a Triton log line"}


def test_unknown_request_id_is_null() -> None:
    line = r'I0716 10:40:18.318796 1 infer_request.cc:131] "[request id: <id_unknown>] Setting state from EXECUTING to RELEASED"'
    row = _rows(_parse([line]))[0]
    assert row["event_type"] == "inference.response"
    assert row["request_id"] is None
    assert row["ids"] == []


@pytest.mark.parametrize(
    ("line", "method", "route", "model", "version"),
    [
        ("HTTP request: 2 /v2/models/m/infer", "POST", "/v2/models/m/infer", "m", None),
        ("HTTP request: 2 /v2/models/m/versions/7/infer", "POST", None, "m", "7"),
        ("HTTP request: 0 /v2/health/ready", "GET", "/v2/health/ready", None, None),
        ("HTTP request: 2 /api/infer/simple/1", "POST", None, "simple", "1"),
    ],
)
def test_http_request_lines(
    line: str, method: str, route: str | None, model: str | None, version: str | None
) -> None:
    row = _rows(_parse([f"I0716 10:40:18.002311 1 http_server.cc:4580] {line}"]))[0]
    assert row["event_type"] == "http.request"
    assert row["http_method"] == method
    assert row["http_route"] == (route or line.split()[-1])
    assert (row["model"], row["model_revision"]) == (model, version)


def test_fail_if_err_line_is_a_fatal_error() -> None:
    row = _rows(_parse(["error: creating server: Internal - failed to load all models"]))[0]
    assert (row["event_type"], row["severity"], row["error_type"]) == (
        "inference.error",
        "FATAL",
        "internal",
    )
    assert _attrs(row)["failed_step"] == "creating server"


def test_record_start_matches_exactly_the_prefixed_lines() -> None:
    lines = [
        "I0516 21:02:44.123456 1 server.cc:1] x",
        "I0516 21:02:44.123456 1 server.cc:1] ",
        "I0516 21:02:44.123456 1 server.cc:1]",
        "2024-05-16T21:02:44Z E 1 a.cc:2] y",
        "I0516 21:02:44.123456 1 server.cc:1]x",
        "I0516 21:02:44 1 server.cc:1] no micros",
        "I0516 21:02:44.123456    1 main.go:1] padded",
        "Traceback (most recent call last):",
    ]
    prefix = re.compile(shapes.PREFIX)
    start = re.compile(PARSER.record_start)
    assert [bool(start.search(x)) for x in lines] == [bool(prefix.search(x)) for x in lines]
    assert [bool(prefix.search(x)) for x in lines] == [True] * 4 + [False] * 4


def test_sniff_scores_triton_high_and_other_glog_low() -> None:
    triton = (
        'I0716 09:12:03.431007 1 model_lifecycle.cc:472] "loading: densenet_onnx:1"',
        "I0716 09:12:04.016630 1 model_lifecycle.cc:838] \"successfully loaded 'densenet_onnx'\"",
    )
    assert PARSER.sniff(Sample("t", triton)) >= 0.95
    tf_serving = (
        "I0516 21:02:44.123456 140234 server_core.cc:465] Adding/updating models.",
        "I0516 21:02:44.223456 140234 server.cc:133] Building single TensorFlow model file config",
    )
    assert PARSER.sniff(Sample("t", tf_serving)) < 0.5
    klog = ("I0516 21:02:44.123456 1 main.go:42] started", "I0516 21:02:45.123456 1 main.go:43] x")
    assert PARSER.sniff(Sample("t", klog)) == 0.0
    assert PARSER.sniff(Sample("t", ('{"level": "info"}',))) == 0.0
    assert PARSER.sniff(Sample("t", ())) == 0.0
