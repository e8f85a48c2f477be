"""The spec language reads what real logs need: JSON inside strings, alternative keys,
durations from two timestamps, exact strptime, time-only timestamps, specs without [sniff]."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from timeline.errors import AmbiguousFormatError, SpecError
from timeline.parse.detect import detect
from timeline.parse.registry import Registry
from timeline.parserkit.api import ParseResult, Sample, Source, SourceSettings
from timeline.parserkit.spec.model import parse_spec
from timeline.parserkit.spec.parser import SpecParser

HEAD = 'name = "app"\nlayer = "inference"\ndescription = "app"\nreader = "jsonl"\n'
SNIFF = '[sniff]\nrequire = ["ts"]\n'


def _run(spec_text: str, *lines: str) -> ParseResult:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": list(lines)},
        schema={"source_line": pl.Int64, "line": pl.String},
    )
    return SpecParser(parse_spec(spec_text)).parse(Source("t", frame, SourceSettings()))


def _problems(spec_text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(spec_text)
    return info.value.problems


def _rows(result: ParseResult, *cols: str) -> list[tuple[Any, ...]]:
    return result.events.select(cols).rows()


# 1. a path into JSON text held in a string field ------------------------------------------------


def test_json_in_a_string_field_is_read_with_the_json_path_syntax() -> None:
    spec = (
        HEAD
        + '[timestamp]\nfield = "ts"\n[fields]\nmodel = "properties|json.modelName"\n'
        + 'input_tokens = "properties|json.usage.prompt_tokens"\n'
        + '[ids]\nx_request_id = "properties|json.ids.0"\n'
        + SNIFF
    )
    result = _run(
        spec,
        '{"ts": "2025-03-02T10:15:04Z", "properties": "{\\"modelName\\": \\"gpt-4o\\",'
        ' \\"usage\\": {\\"prompt_tokens\\": 12}, \\"ids\\": [\\"r-1\\"]}"}',
        '{"ts": "2025-03-02T10:15:05Z", "properties": "not json"}',
        '{"ts": "2025-03-02T10:15:06Z"}',
    )
    assert _rows(result, "model", "input_tokens", "ids") == [
        ("gpt-4o", 12, [{"kind": "x_request_id", "value": "r-1"}]),
        (None, None, []),
        (None, None, []),
    ]
    assert _problems(
        HEAD + '[timestamp]\nfield = "ts"\n[fields]\nmodel = "properties|json."\n'
    ) == [
        "[fields.model] 'properties|json.' is not a path into JSON text; write 'field|json.key' such as 'properties|json.modelName'"
    ]


# 2. alternative keys: the first present (non-null) wins -------------------------------------------


def test_alternative_keys_take_the_first_present_value() -> None:
    spec = (
        HEAD
        + '[timestamp]\nfield = "ts"\n[fields]\nrequest_id = ["request_id", "req_id", "x_request_id"]\n'
        + 'duration_ms = { from = ["latency_s", "rt"], scale = 1000.0 }\n'
        + '[status]\nfrom_http = ["status", "status_code"]\n'
        + SNIFF
    )
    result = _run(
        spec,
        '{"ts": "2025-03-02T10:15:04Z", "request_id": "a", "req_id": "b", "latency_s": 0.5, "status": 200}',
        '{"ts": "2025-03-02T10:15:04Z", "request_id": null, "req_id": "b", "rt": "0.25", "status_code": "404"}',
        '{"ts": "2025-03-02T10:15:04Z", "request_id": "-", "x_request_id": "c", "status": ""}',
    )
    assert _rows(result, "request_id", "duration_ms", "status_code") == [
        ("a", 500.0, 200),
        ("b", 250.0, 404),
        ("c", None, None),
    ]
    assert _problems(HEAD + '[timestamp]\nfield = "ts"\n[fields]\nrequest_id = []\n') == [
        "[fields.request_id] is empty; use a source field name or a list of alternatives such as ['request_id', 'req_id']"
    ]


def test_timestamp_alternatives_use_their_own_formats_and_name_the_present_one() -> None:
    spec = (
        HEAD
        + '[timestamp]\nfield = ["time_iso8601", "time_local"]\nformats = ["iso8601"]\n'
        + 'field_formats = { time_local = ["%d/%b/%Y:%H:%M:%S %z"] }\n'
        + SNIFF
    )
    result = _run(
        spec,
        '{"time_local": "02/Mar/2025:11:15:05 +0100"}',
        '{"time_iso8601": "02/Mar/2025:11:15:05 +0100"}',
        '{"time_local": "yesterday"}',
        "{}",
    )
    assert result.events["ts_source"].to_list() == [datetime(2025, 3, 2, 10, 15, 5, tzinfo=UTC)]
    assert result.rejects.rows() == [
        (2, "timestamp 'time_iso8601' does not match iso8601"),
        (3, "timestamp 'time_local' does not match %d/%b/%Y:%H:%M:%S %z"),
        (4, "missing timestamp field 'time_iso8601'"),
    ]
    bad = HEAD + '[timestamp]\nfield = ["a", "b"]\nfield_formats = { c = ["iso8601"] }\n'
    assert _problems(bad) == [
        "[timestamp.field_formats.c] 'c' is not one of timestamp.field's alternatives; alternatives: a, b"
    ]


# 3. a duration from two timestamps --------------------------------------------------------------


def test_duration_from_start_and_end_timestamps() -> None:
    spec = (
        HEAD
        + '[timestamp]\nfield = "start"\nformats = ["iso8601", "epoch_ms"]\n'
        + '[fields]\nduration_ms = { start = "start", end = ["end", "finish"] }\n'
        + SNIFF.replace('"ts"', '"start"')
    )
    result = _run(
        spec,
        '{"start": "2025-03-02T10:15:04.100Z", "end": "2025-03-02T10:15:05.350Z"}',
        '{"start": "2025-03-02T10:15:04Z", "finish": 1740910504250}',
        '{"start": "2025-03-02T10:15:04Z"}',
    )
    assert result.events["duration_ms"].to_list() == [1250.0, 250.0, None]
    problems = _problems(
        HEAD
        + '[timestamp]\nfield = "t"\n[fields]\nduration_ms = { start = "a" }\n'
        + 'model = { start = "a", end = "b" }\ninput_tokens = { from = "x", end = "b" }\n'
        + "output_tokens = { scale = 2.0 }\n"
    )
    assert problems == [
        "[fields.duration_ms.end] is required with 'start'; a duration needs both timestamps, such as { start = 'start_time', end = 'end_time' }",
        "[fields.model.start] a duration only fits numeric fields, and 'model' is string; use duration_ms",
        "[fields.input_tokens] has both 'from' and 'start'/'end'; use 'from', or 'start' and 'end'",
        "[fields.output_tokens.from] is required; add the source field name, or start and end for a duration",
    ]


# 4. strptime patterns honoured exactly ----------------------------------------------------------


def test_percent_f_reads_microseconds_and_comma_fractions_are_rejected() -> None:
    spec = HEAD + '[timestamp]\nfield = "ts"\nformats = ["%Y-%m-%d %H:%M:%S.%f"]\n' + SNIFF
    result = _run(spec, '{"ts": "2025-03-02 10:15:04.648712"}', '{"ts": "2025-03-02 10:15:04.6"}')
    assert result.events["ts_source"].to_list() == [
        datetime(2025, 3, 2, 10, 15, 4, 648712, tzinfo=UTC),
        datetime(2025, 3, 2, 10, 15, 4, 600000, tzinfo=UTC),
    ]
    assert _problems(HEAD + '[timestamp]\nfield = "ts"\nformats = ["%H:%M:%S,%f"]\n')[0] == (
        "[timestamp.formats[1]] timestamp format '%H:%M:%S,%f' has '%f' without a dot before it;"
        " write the fraction as '%S.%f' (microseconds, as Python reads them), or use the named"
        " format 'iso8601' for ',123' fractions; use a named format or a strptime pattern such as"
        " '%Y-%m-%d %H:%M:%S'"
    )


# 5. time-only timestamps need a date source -----------------------------------------------------


def test_time_only_pattern_needs_date_from() -> None:
    assert _problems(HEAD + '[timestamp]\nfield = "ts"\nformats = ["%H:%M:%S"]\n') == [
        "[timestamp.date_from] is required: format '%H:%M:%S' has no date; add date_from = 'previous_line' (the date of the nearest earlier line with a full date) or date_from = 'setting' with date = 'YYYY-MM-DD'"
    ]
    assert _problems(
        HEAD + '[timestamp]\nfield = "ts"\nformats = ["%H:%M:%S"]\ndate_from = "previous_line"\n'
    ) == [
        "[timestamp.formats] has no format with a date for date_from = 'previous_line'; add the full format of the lines that carry the date, such as '%Y-%m-%d %H:%M:%S'"
    ]
    assert _problems(
        HEAD + '[timestamp]\nfield = "ts"\nformats = ["%H:%M:%S"]\ndate_from = "setting"\n'
    ) == ["[timestamp.date] is required by date_from = 'setting'; add date = 'YYYY-MM-DD'"]
    assert _problems(
        HEAD + '[timestamp]\nfield = "ts"\ndate_from = "file_mtim"\ndate = "2025-02-30"\n'
    ) == [
        "[timestamp.date_from] unknown value 'file_mtim'; allowed: previous_line, setting",
        "[timestamp.date] '2025-02-30' is not a date; use 'YYYY-MM-DD' such as '2025-03-02'",
    ]


def test_time_only_lines_take_the_date_of_the_previous_full_line_and_are_flagged() -> None:
    spec = (
        HEAD
        + '[timestamp]\nfield = "ts"\nformats = ["%Y-%m-%d %H:%M:%S", "%H:%M:%S.%f"]\n'
        + 'date_from = "previous_line"\n'
        + SNIFF
    )
    result = _run(
        spec,
        '{"ts": "10:00:00.5"}',
        '{"ts": "2025-03-02 23:59:58"}',
        '{"ts": "23:59:59.25"}',
        '{"ts": "2025-03-03 00:00:01"}',
        '{"ts": "00:00:02.000001"}',
    )
    assert result.rejects.rows() == [
        (
            1,
            "timestamp 'ts' does not match %Y-%m-%d %H:%M:%S | %H:%M:%S.%f"
            " (or no earlier line in the chunk had a full date)",
        )
    ]
    assert _rows(result, "source_line", "ts_source", "attributes") == [
        (2, datetime(2025, 3, 2, 23, 59, 58, tzinfo=UTC), []),
        (
            3,
            datetime(2025, 3, 2, 23, 59, 59, 250000, tzinfo=UTC),
            [{"key": "ts_date_from", "value": "previous_line"}],
        ),
        (4, datetime(2025, 3, 3, 0, 0, 1, tzinfo=UTC), []),
        (
            5,
            datetime(2025, 3, 3, 0, 0, 2, 1, tzinfo=UTC),
            [{"key": "ts_date_from", "value": "previous_line"}],
        ),
    ]


def test_time_only_lines_take_the_date_setting() -> None:
    spec = (
        HEAD
        + '[timestamp]\nfield = "ts"\nformats = ["%H:%M:%S"]\n'
        + 'date_from = "setting"\ndate = "2025-03-02"\n'
        + SNIFF
    )
    result = _run(spec, '{"ts": "11:15:04"}')
    assert _rows(result, "ts_source", "ts_assumed_tz", "attributes") == [
        (
            datetime(2025, 3, 2, 11, 15, 4, tzinfo=UTC),
            True,
            [{"key": "ts_date_from", "value": "setting"}],
        )
    ]


# 6. a spec without [sniff]: a warning, and it never makes a built-in ambiguous -------------------


def test_spec_without_sniff_gets_a_warning_and_yields_ties() -> None:
    plain = parse_spec(HEAD.replace('"app"', '"plain"') + '[timestamp]\nfield = "ts"\n')
    assert plain.warnings == (
        "[sniff] is missing: the spec is chosen by sniffing only when no built-in parser fits"
        " as well, and never makes a file ambiguous; add [sniff] require = [...] with fields"
        " every line of the format has, or force it with --parser or [[sources]]",
    )
    sniffed_text = HEAD.replace('"app"', '"sniffed"') + '[timestamp]\nfield = "ts"\n' + SNIFF
    assert parse_spec(sniffed_text).warnings == ()
    sample = Sample("a.jsonl", ('{"ts": "2025-03-02T10:15:04Z"}',))

    registry = Registry()
    registry.register(SpecParser(plain), "test")
    registry.register(SpecParser(parse_spec(sniffed_text)), "test")
    chosen = detect(registry, sample)
    assert (chosen.parser.name, chosen.describe()) == ("sniffed", "sniffed 1.00")

    both_plain = Registry()
    both_plain.register(SpecParser(plain), "test")
    other = parse_spec(HEAD.replace('"app"', '"other"') + '[timestamp]\nfield = "ts"\n')
    both_plain.register(SpecParser(other), "test")
    with pytest.raises(AmbiguousFormatError, match=r"other 1\.00, plain 1\.00 fit equally well"):
        detect(both_plain, sample)


# --- the time zone a spec names ------------------------------------------------------------------

_ZONED_SPEC = """
name = "zoned_app"
description = "an app that logs New York wall-clock times"
layer = "gateway"
reader = "jsonl"
[sniff]
require = ["t"]
[timestamp]
field = "t"
formats = ["%Y-%m-%d %H:%M:%S"]
timezone = "America/New_York"
"""


@pytest.mark.parametrize(
    ("settings", "hour"),
    [
        (SourceSettings(), 15),  # nobody set a zone: the spec's own (10:00 EST = 15:00 UTC)
        (SourceSettings(timezone="Europe/Berlin", timezone_origin="configuration"), 15),
        (SourceSettings(timezone="Europe/Berlin", timezone_origin="rule"), 9),  # a rule wins
    ],
)
def test_a_spec_timezone_is_not_overridden_by_the_default(
    settings: SourceSettings, hour: int
) -> None:
    frame = pl.DataFrame({"source_line": [1], "line": ['{"t": "2025-03-02 10:00:00"}']})
    result = SpecParser(parse_spec(_ZONED_SPEC)).parse(Source("t", frame, settings))
    assert result.events.get_column("ts_source").dt.hour().to_list() == [hour]
