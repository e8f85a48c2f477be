"""timeline.parserkit.jsonpaths additions: key paths, dotted paths, object tests, PathSet."""

from __future__ import annotations

import json

import polars as pl
from hypothesis import given, settings

from tests.parserkit.helpers import apply, lines_frame, texts
from timeline.parserkit.jsonpaths import (
    ROOT,
    PathSet,
    dotted_path,
    is_json_object,
    jh,
    jp,
    key_path,
    object_from,
    parse_path,
)

X = pl.col("x")


@settings(max_examples=80, deadline=None)
@given(texts(exclude="\\"))  # json_path_match cannot name a key holding `\\`
def test_key_path_names_exactly_that_key(key: str) -> None:
    assert parse_path(key_path(key)) == [("key", key)]
    line = json.dumps({key: "v", key + "x": "w"})
    assert pl.Series([line]).str.json_path_match(key_path(key)).to_list() == ["v"]


def test_dotted_path() -> None:
    assert dotted_path("a.b.0.c") == "$['a']['b'][0]['c']"
    assert dotted_path("it's") == '$["it\'s"]'
    line = '{"a": {"b": [{"c": 7}]}}'
    assert pl.Series([line]).str.json_path_match(dotted_path("a.b.0.c")).to_list() == ["7"]


def test_object_tests() -> None:
    values = ['{"a": 1}', '  {"a": 1}', "[1]", '{"a": ', "text", None]
    assert apply(is_json_object(X), values) == [True, True, False, False, False, False]
    frame = pl.DataFrame({"x": values, "w": pl.Series(values).str.json_path_match(ROOT)})
    assert frame.select(object_from(X, pl.col("w"))).to_series().to_list() == apply(
        is_json_object(X), values
    )


def test_path_set_decodes_what_was_asked_for() -> None:
    paths = PathSet()
    exprs = [
        paths.value("$.a.b"),
        paths.key("k-1"),
        paths.head("$.a"),
        paths.head("$.l"),
    ]
    lines = lines_frame(['{"a": {"b": 1}, "k-1": "x", "l": [1]}', "not json", '{"a": 5}'])
    out = paths.decode(lines).select(jp(ROOT), *exprs)
    assert out.rows() == [
        ('{"a":{"b":1},"k-1":"x","l":[1]}', "1", "x", "{", "["),
        (None, None, None, None, None),
        ('{"a":5}', None, None, "5", None),
    ]
    assert PathSet().decode(lines).columns == ["source_line", "line", jp(ROOT).meta.output_name()]
    assert jh("$.a").meta.output_name() != jp("$.a").meta.output_name()
