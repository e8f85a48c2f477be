"""timeline.parserkit.records: JSON records one per line, spanning lines, or both."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.parserkit.helpers import lines_frame
from timeline.parserkit.api import Sample
from timeline.parserkit.jsonpaths import jp, key_path
from timeline.parserkit.records import (
    PUNCTUATION_REASON,
    TERSE_REASONS,
    Records,
    read_records,
    sample_objects,
    signature_score,
)


def _read(lines: list[str], **kw: Any) -> Records:
    return read_records(lines_frame(lines), **kw)


def _marks(frame: pl.DataFrame) -> list[tuple[int, str]]:
    return sorted(frame.rows())


def test_json_lines_decode_every_path_once() -> None:
    records = _read(['{"a": 1, "b": {"c": "x"}}', '{"a": 2.50}'], paths=["$.a", "$.b.c", "$.b"])
    frame = records.frame
    assert frame.get_column("source_line").to_list() == [1, 2]
    assert frame.get_column("lines").to_list() == [[1], [2]]
    assert frame.get_column("text").to_list() == ['{"a":1,"b":{"c":"x"}}', '{"a":2.5}']
    assert frame.get_column(jp("$.a").meta.output_name()).to_list() == ["1", "2.5"]
    assert frame.select(jp("$.b.c")).to_series().to_list() == ["x", None]
    assert frame.select(jp("$.b")).to_series().to_list() == ['{"c":"x"}', None]
    assert records.merged == 0 and records.rejects.height == 0


def test_pretty_and_single_line_mixed() -> None:
    records = _read(
        ["noise", '{"a": 1}', "{", '  "b": 2', "}", "trailing", '{"c": '], reasons=TERSE_REASONS
    )
    assert records.frame.get_column("source_line").to_list() == [2, 3]
    assert records.frame.get_column("lines").to_list() == [[2], [3, 4, 5]]
    assert _marks(records.rejects) == [
        (1, "not a JSON object"),
        (6, "not a JSON object"),
        (7, "invalid JSON record"),
    ]
    assert records.merged == 2


def test_stray_lines_are_worded_by_layout() -> None:
    one_per_line = _read(['{"a": 1}', "stray", '{"b": 2}'])
    assert _marks(one_per_line.rejects) == [(2, "not a JSON object")]
    spanning = _read(["{", ' "a": 1', "}", "stray"])
    assert _marks(spanning.rejects) == [(4, "not part of a JSON object")]


def test_array_of_rows_and_punctuation() -> None:
    lines = ["[", "  {", '    "a": "}{",', '    "b": [1, {"c": 2}]', "  },", '  {"d": 4}', "]"]
    records = _read(lines, paths=[key_path("a"), key_path("d")])
    assert records.frame.get_column("lines").to_list() == [[2, 3, 4, 5], [6]]
    assert records.frame.select(jp(key_path("a"))).to_series().to_list() == ["}{", None]
    assert records.frame.select(jp(key_path("d"))).to_series().to_list() == [None, "4"]
    assert _marks(records.skipped) == [(1, PUNCTUATION_REASON), (7, PUNCTUATION_REASON)]
    one_line_array = _read(['[{"a": [1]}, {"a": [2]}]', '[{"a": [3]}]'])
    assert one_line_array.rejects.height == 1  # two objects on one line are not one record
    assert one_line_array.frame.get_column("text").to_list() == ['{"a":[3]}']


def test_broken_records() -> None:
    lines = ["{", '  "a": 1,', "{", '  "b": 2', "}", "{", '  "c": ', "}", "{", '  "d": 1']
    records = _read(lines)
    assert records.frame.get_column("lines").to_list() == [[3, 4, 5]]
    assert _marks(records.rejects) == [
        (1, "unterminated JSON object"),  # a new record began in the first column
        (2, "unterminated JSON object"),
        (6, "not a valid JSON object"),
        (7, "not a valid JSON object"),
        (8, "not a valid JSON object"),
        (9, "unterminated JSON object"),
        (10, "unterminated JSON object"),
    ]


def test_too_long_and_no_limit() -> None:
    lines = ["{", *[f'  "k{i}": {i},' for i in range(5)], '  "end": 0', "}"]
    assert _marks(_read(lines, max_lines=3).rejects)[:3] == [
        (1, "JSON object too long"),
        (2, "JSON object too long"),
        (3, "JSON object too long"),
    ]
    assert _read(lines, max_lines=None).frame.height == 1


def test_bare_dashes_repaired_on_request() -> None:
    lines = ['{"a": -, "b": "-", "c": [-1]}', "{", '  "d": -', "}"]
    assert _read(lines).frame.height == 0
    repaired = _read(lines, repair_dashes=True, paths=[key_path("a"), key_path("b")])
    assert repaired.frame.get_column("text").to_list() == [
        '{"a":null,"b":"-","c":[-1]}',
        '{"d":null}',
    ]
    assert repaired.frame.select(jp(key_path("b"))).to_series().to_list() == ["-", None]


def test_documents_are_objects_or_arrays() -> None:
    lines = ['{"a": 1}', '["x"]', "{", '  "b": [', "    1", "  ]", "}", "[", "  2", "]", "text"]
    records = _read(lines, documents=True, max_lines=None)
    assert records.frame.get_column("text").to_list() == ['{"a":1}', '["x"]', '{"b":[1]}', "[2]"]
    assert _marks(records.rejects) == [(11, "not a JSON object")]


def test_reject_keep_skip_and_result() -> None:
    records = _read(["{", ' "a": 1', "}", '{"a": 2}', '{"a": 3}'], paths=["$.a"])
    a = jp("$.a")
    kept = records.keep(a != "2", "two").skip(pl.when(a == "3").then(pl.lit("three")))
    assert kept.frame.get_column("source_line").to_list() == [1]
    assert _marks(kept.rejects) == [(4, "two")]
    assert _marks(kept.skipped) == [(5, "three")]
    dropped = records.reject(pl.when(a == "1").then(pl.lit("one")))
    assert _marks(dropped.rejects) == [(1, "one"), (2, "one"), (3, "one")]
    assert dropped.merged == 0 and records.merged == 2
    result = kept.result(kept.frame.select("source_line"))
    assert (result.merged_lines, result.rejects.height, result.skipped.height) == (2, 1, 1)


def test_sample_objects_and_signatures() -> None:
    lines = ["[", "  {", '    "a": -,', '    "b": 1', "  },", '  {"c": 2}', "  {", '    "d": 3']
    assert sample_objects(lines) == [{"a": None, "b": 1}, {"c": 2}]
    assert sample_objects(lines, limit=1) == [{"a": None, "b": 1}]
    sample = Sample("s", ('{"flagged": true,', '"results": []}'))
    assert signature_score(sample, ['"results"', '"flagged"'], needed=2) == 0.9
    assert signature_score(sample, ['"results"', '"nope"'], needed=2) == 0.0
    assert signature_score(Sample("t", ("text {",)), ['"results"']) == 0.0


def test_empty_input() -> None:
    records = _read([], paths=["$.a"])
    assert records.frame.height == 0 and records.rejects.height == 0 and records.merged == 0


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**40), 2**40),
        st.text(max_size=6).filter(lambda t: "\x00" not in t),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
objects = st.dictionaries(st.text(min_size=1, max_size=5), json_values, min_size=1, max_size=4)
junk = st.sampled_from(["", "plain text", "}", "  ]", "-- end --", ","])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(objects, st.sampled_from(["line", "pretty", "junk"]), junk),
        min_size=1,
        max_size=6,
    )
)
def test_records_come_back_and_every_line_is_counted_once(
    items: list[tuple[dict[str, Any], str, str]],
) -> None:
    lines: list[str] = []
    expected: list[tuple[int, dict[str, Any]]] = []
    for obj, layout, stray in items:
        if layout == "junk":
            lines.append(stray)
            continue
        expected.append((len(lines) + 1, obj))
        text = json.dumps(obj) if layout == "line" else json.dumps(obj, indent=2)
        lines.extend(text.split("\n"))
    records = _read(lines, max_lines=None)
    got = [(n, json.loads(t)) for n, t in records.frame.select("source_line", "text").iter_rows()]
    assert got == expected
    members = [n for group in records.frame.get_column("lines").to_list() for n in group]
    marked = records.rejects.get_column("source_line").to_list()
    marked += records.skipped.get_column("source_line").to_list()
    assert sorted(members + marked) == list(range(1, len(lines) + 1))
    assert records.merged == len(members) - records.frame.height


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["[", "]", ",", "{", "}", '  "a": -,', '  "b": "}{"', "text", ""]),
            objects.map(json.dumps),
            objects.map(lambda o: "  " + json.dumps(o) + ","),
        ),
        max_size=12,
    )
)
def test_sample_objects_finds_what_read_records_finds(lines: list[str]) -> None:
    texts = _read(lines, repair_dashes=True, max_lines=None).frame.get_column("text").to_list()
    assert sample_objects(lines, limit=100) == [json.loads(t) for t in texts]
