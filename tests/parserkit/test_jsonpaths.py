"""timeline.parserkit.jsonpaths additions: key paths, dotted paths, object tests, PathSet."""

from __future__ import annotations

import json

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

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


_KEYS = ["name", "na", "a.b", "q", "naming", "x"]
_SCALARS = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=4), st.booleans())
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3)
    ),
    max_leaves=8,
)


def _spelled(doc: object, escape: bool) -> str:
    """``doc`` as JSON text; with ``escape`` every key's first letter as a ``\\u`` escape."""
    text = json.dumps(doc)
    if not escape:
        return text
    for key in _KEYS:
        text = text.replace(f'"{key}":', f'"\\u{ord(key[0]):04x}{key[1:]}":')
    return text


@settings(max_examples=80, deadline=None)
@given(
    docs=st.lists(st.tuples(_JSON, st.booleans()), max_size=6),
    junk=st.lists(st.text(max_size=6), max_size=2),
)
def test_path_match_equals_json_path_match(
    docs: list[tuple[object, bool]], junk: list[str]
) -> None:
    """Reading only the lines that can hold the last key gives json_path_match's values."""
    from timeline.parserkit.jsonpaths import path_match

    lines = pl.Series("l", [_spelled(d, e) for d, e in docs] + junk + [None], dtype=pl.String)
    for path in (
        "$.name",
        "$.x.name",
        "$.x[*].name",
        "$.x[0]",
        "$['a.b']",
        '$["q"]',
        "$.x['na']",
        "$.naming",
    ):
        assert path_match(lines, path).to_list() == lines.str.json_path_match(path).to_list(), path
