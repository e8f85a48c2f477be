"""Declarative specs: validation reports every problem; readers extract fields vectorized."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from timeline.errors import SpecError
from timeline.parserkit.api import Sample, Source, SourceSettings
from timeline.parserkit.spec.model import parse_spec
from timeline.parserkit.spec.parser import SpecParser


def _lines(*lines: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": list(lines)},
        schema={"source_line": pl.Int64, "line": pl.String},
    )


def test_validation_reports_every_problem_with_a_suggestion() -> None:
    text = """
name = "My App"
layer = "gatway"
reader = "regexp"
descripton = "x"

[timestamp]
formats = ["rfc3339"]
timezone = "Mars/Base"

[fields]
stauts_code = "code"
event_id = "id"
"""
    with pytest.raises(SpecError) as info:
        parse_spec(text, "app.toml")
    problems = info.value.problems
    assert problems == [
        "[descripton] unknown key; did you mean 'description'? (allowed: name, layer, description, reader, pattern, columns, header, delimiter, null_values, timestamp, constants, fields, ids, status, severity, attributes, sniff)",
        "[name] 'My App' is not snake_case; use lowercase letters, digits and underscores, such as 'my_app_log'",
        "[layer] unknown value 'gatway'; did you mean 'gateway'? (allowed: gateway, policy, retrieval, inference, other)",
        "[description] is required; add a one-line description of the format",
        "[reader] unknown value 'regexp'; did you mean 'regex'? (allowed: jsonl, regex, logfmt, csv)",
        "[timestamp.formats[1]] timestamp format 'rfc3339' is neither a named format (iso8601, epoch_s, epoch_ms, epoch_us, epoch_ns) nor a strptime pattern; use a named format or a strptime pattern such as '%Y-%m-%d %H:%M:%S'",
        "[timestamp.timezone] unknown time zone 'Mars/Base'; use an IANA name such as 'UTC' or 'Europe/Berlin'",
        "[timestamp.field] is required; add the source field holding the time, or set required = false if the format has no time",
        "[fields.stauts_code] is not a canonical field; did you mean 'status_code'? (see docs/schema.md)",
        "[fields.event_id] is filled by the pipeline and cannot be mapped; put the value under [attributes] instead",
    ]
    assert str(info.value).startswith("app.toml: 10 problems:\n  - [descripton] unknown key")


def test_regex_spec_needs_named_groups_and_known_fields() -> None:
    text = """
name = "x"
layer = "other"
description = "x"
reader = "regex"
pattern = '^(\\S+) (?P<msg>.*)$'
[timestamp]
field = "time"
"""
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert info.value.problems == [
        "[timestamp.field] source field 'time' is not produced by the reader; available: msg"
    ]
    with pytest.raises(SpecError) as info:
        parse_spec(text.replace("(?P<msg>.*)", "(.*)"))
    assert (
        "[pattern] has no named capture groups; use named groups like '^(?P<my_key>.*)$'"
        in info.value.problems
    )


JSONL = """
name = "app_json"
layer = "inference"
description = "app JSON lines"
reader = "jsonl"
[timestamp]
field = "ts"
formats = ["epoch_ms", "iso8601"]
[constants]
event_type = "inference.response"
[fields]
model = "req.model"
input_tokens = "usage.prompt_tokens"
duration_ms = { from = "latency_s", scale = 1000.0 }
categories = { from = "flags", json = true }
[ids]
x_request_id = "headers.x-request-id"
[severity]
field = "level"
[attributes]
include = ["region"]
"""


def test_jsonl_reader_maps_dotted_paths_and_converts_types() -> None:
    parser = SpecParser(parse_spec(JSONL))
    lines = _lines(
        '{"ts": 1740910504123, "level": "warning", "req": {"model": "m1"}, "usage": {"prompt_tokens": 12},'
        ' "latency_s": 0.25, "flags": ["a", "b"], "headers": {"x-request-id": "r-1"}, "region": "eu"}',
        '{"ts": "2025-03-02T10:15:04Z", "req": {}}',
        "not json",
        '{"ts": "yesterday"}',
        '{"level": "info"}',
    )
    result = parser.parse(Source("t", lines, SourceSettings()))
    assert result.rejects.rows() == [
        (3, "not a JSON object"),
        (4, "timestamp 'ts' does not match epoch_ms | iso8601"),
        (5, "missing timestamp field 'ts'"),
    ]
    ev = result.events
    assert ev["source_line"].to_list() == [1, 2]
    assert ev["ts_source"].to_list() == [
        datetime(2025, 3, 2, 10, 15, 4, 123000, tzinfo=UTC),
        datetime(2025, 3, 2, 10, 15, 4, tzinfo=UTC),
    ]
    first = ev.row(0, named=True)
    assert first["model"] == "m1"
    assert first["input_tokens"] == 12
    assert first["duration_ms"] == 250.0
    assert first["categories"] == ["a", "b"]
    assert first["severity"] == "WARN"
    assert first["layer"] == "inference"
    assert first["ids"] == [{"kind": "x_request_id", "value": "r-1"}]
    assert first["attributes"] == [{"key": "region", "value": "eu"}]


LOGFMT = """
name = "app_logfmt"
layer = "retrieval"
description = "app logfmt"
reader = "logfmt"
[timestamp]
field = "time"
[fields]
message = "msg"
top_k = "k"
[severity]
field = "level"
map = { "E" = "ERROR" }
"""


def test_logfmt_reader_handles_quotes_and_keeps_unmapped_pairs() -> None:
    parser = SpecParser(parse_spec(LOGFMT))
    lines = _lines(
        'time=2025-03-02T10:15:04Z level=E msg="search \\"kb\\" failed" k=5 index=kb-v2 empty=',
        "just text",
    )
    result = parser.parse(Source("t", lines, SourceSettings()))
    assert result.rejects.rows() == [(2, "not logfmt (no key=value pair at the start)")]
    row = result.events.row(0, named=True)
    assert row["message"] == 'search "kb" failed'
    assert row["severity"] == "ERROR"
    assert row["top_k"] == 5
    assert row["attributes"] == [{"key": "index", "value": "kb-v2"}]


CSV = """
name = "app_csv"
layer = "policy"
description = "app csv"
reader = "csv"
columns = ["time", "verdict", "note"]
header = true
[timestamp]
field = "time"
[fields]
verdict = { from = "verdict", map = { "DENY" = "block", "OK" = "allow" } }
message = "note"
"""


def test_csv_reader_skips_the_header_and_unquotes() -> None:
    parser = SpecParser(parse_spec(CSV))
    lines = _lines(
        "time,verdict,note",
        '2025-03-02T10:15:04Z,DENY,"said ""hi"", twice"',
        "2025-03-02T10:15:05Z,OK",
    )
    result = parser.parse(Source("t", lines, SourceSettings()))
    assert result.skipped.rows() == [(1, "csv header")]
    assert result.rejects.rows() == [(3, "not a CSV row of 3 columns")]
    row = result.events.row(0, named=True)
    assert (row["verdict"], row["message"]) == ("block", 'said "hi", twice')


def test_sniff_scores_the_fraction_of_fitting_lines() -> None:
    parser = SpecParser(parse_spec(LOGFMT))
    assert parser.sniff(Sample("x", ("time=2025-03-02T10:15:04Z msg=a", "garbage"))) == 0.5
    assert parser.sniff(Sample("x", ())) == 0.0
