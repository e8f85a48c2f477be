"""decode_paths gives what json_path_match gives, with one decode for all paths."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.parserkit.jsonpaths import column_name, decode_paths, parse_path

PATHS = [
    "$",
    "$.a",
    "$.a.b",
    "$.a.c",
    "$.l[0]",
    "$.l[1].x",
    "$.l[-1:].x",
    "$['k-1']",
    "$.a.l[0]",
    "$.s",
    "$.n",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.text(max_size=8).filter(lambda t: "\x00" not in t),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c", "x", "l", "k-1"]), inner, max_size=3),
    ),
    max_leaves=8,
)
objects = st.dictionaries(st.sampled_from(["a", "l", "k-1", "s", "n", "z"]), values, max_size=5)
lines = st.lists(
    st.one_of(
        objects.map(json.dumps), st.sampled_from(["not json", "[1, 2]", '"x"', "{broken", ""])
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.slow  # a hypothesis run of many examples: CI's slow step
@settings(max_examples=150, deadline=None)
@given(rows=lines)
def test_decode_paths_matches_json_path_match(rows: list[str]) -> None:
    series = pl.Series(rows, dtype=pl.String)
    decoded = decode_paths(series, PATHS)
    assert decoded.height == len(rows)
    for path in PATHS:
        expected = series.str.json_path_match(path).to_list()
        actual = decoded.get_column(column_name(path)).to_list()
        for e, a in zip(expected, actual, strict=True):
            assert e == a, (path, e, a)


def test_paths_are_parsed_or_refused() -> None:
    assert parse_path("$.a['b-c'][0][-1:]") == [
        ("key", "a"),
        ("key", "b-c"),
        ("index", 0),
        ("last", None),
    ]
    assert parse_path("$..a") is None
    assert parse_path("a.b") is None
