"""decode_paths reads a batch whose records mix shapes (a key that is text in one record, an
object or array in the next) row by row: the rows the strict decoder takes are decoded strictly,
only the others leniently, and every value is what ``json_path_match`` gives."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.parserkit import jsonpaths
from timeline.parserkit.jsonpaths import (
    ROOT,
    column_name,
    decode_paths,
    head_column_name,
    key_path,
)

PATHS = [
    ROOT,
    "$.a",
    "$.a.b",
    "$.a.c",
    "$.l[0].x",
    "$.l[-1:].x",
    "$.s",
    "$['k-1']",
    "$.n.m.o",
    "$.t",
]
HEADS = ["$.a", "$.l", "$.s", "$.q", "$.n.m", "$.n", "$.l[0]"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    # Floats of few digits, integers of 64 bits: ``json_path_match`` reads some 17-digit floats
    # (and integers beyond 64 bits) one ulp off, so a value read again from the compact text of
    # ``$`` can differ from the line's in its last digit; and a head-only path of a float such as
    # 1e-7 reads the decoder's ``0.0000001``. Both were so before the per-row fallback too.
    st.integers(-(10**7), 10**7).map(lambda i: i / 1000),
    st.sampled_from([1e5, -0.0, 2.5e-3, 1.5e300, 2.0**64]),
    st.sampled_from(["", "x", '"a":{', "{not", "[1]", "é\u2028", "\\", "\n"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["a", "b", "c", "x", "m", "o", "l", "s"]), inner, max_size=3
        ),
    ),
    max_leaves=10,
)
records = st.dictionaries(st.sampled_from(["a", "l", "k-1", "s", "n", "q", "t", "z"]), values)
separators = st.sampled_from([(",", ":"), (", ", ": ")])
lines = st.lists(
    st.one_of(
        st.tuples(records, separators).map(lambda r: json.dumps(r[0], separators=r[1])),
        st.sampled_from(["not json", "[1, 2]", '"x"', "{broken", "", '{"a":1e400}']),
    ),
    min_size=1,
    max_size=24,
)


@contextmanager
def small_pieces(pieces: int, min_piece: int, halvings: int) -> Iterator[None]:
    """The piece sizes and halving budget of ``_decode_struct``, small enough for short batches."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jsonpaths, "_PIECES", pieces)
        patch.setattr(jsonpaths, "_MIN_PIECE", min_piece)
        patch.setattr(jsonpaths, "_HALVINGS", halvings)
        yield


def check(rows: list[str]) -> None:
    """Every path and head of ``decode_paths`` equals ``json_path_match`` of that path."""
    series = pl.Series(rows, dtype=pl.String)
    got = decode_paths(series, PATHS, HEADS)
    assert got.height == len(rows)
    for path in PATHS:
        want = series.str.json_path_match(path).to_list()
        assert got.get_column(column_name(path)).to_list() == want, path
    for path in HEADS:
        want = series.str.json_path_match(path).str.slice(0, 1).to_list()
        assert got.get_column(head_column_name(path)).to_list() == want, path


@settings(max_examples=20, deadline=None)
@given(rows=lines, sizes=st.sampled_from([(8, 4096, 4), (4, 2, 4), (2, 1, 1), (3, 1, 0)]))
def test_mixed_shapes_read_as_json_path_match(rows: list[str], sizes: tuple[int, int, int]) -> None:
    with small_pieces(*sizes):
        check(rows)


@pytest.mark.slow  # a hypothesis run of many examples: CI's slow step
@settings(max_examples=200, deadline=None)
@given(rows=lines, sizes=st.sampled_from([(8, 4096, 4), (4, 2, 4), (2, 1, 1), (3, 1, 0)]))
def test_mixed_shapes_read_as_json_path_match_many(
    rows: list[str], sizes: tuple[int, int, int]
) -> None:
    with small_pieces(*sizes):
        check(rows)


@contextmanager
def lenient_rows() -> Iterator[list[int]]:
    """How many rows each call of the lenient reader got."""
    seen: list[int] = []
    original = pl.read_ndjson

    def spy(source: Any, *args: Any, **kwargs: Any) -> pl.DataFrame:
        frame = original(source, *args, **kwargs)
        if isinstance(source, io.StringIO):
            seen.append(frame.height)
        return frame

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pl, "read_ndjson", spy)
        yield seen


def test_one_odd_record_leaves_the_others_strict() -> None:
    plain = [json.dumps({"a": {"b": str(i)}, "s": i, "t": f"v{i}"}) for i in range(3000)]
    rows = list(plain)
    rows[1234] = json.dumps({"a": {"b": "x"}, "s": {"odd": [1, 2.50]}, "t": "w"})
    rows[2999] = json.dumps({"a": "text where an object is", "s": 1.0})
    with lenient_rows() as seen:
        check(rows)
    # the two odd records only, in one lenient read (values and heads in one decode)
    assert seen == [2]
    with lenient_rows() as seen:
        check(plain)
    assert seen == []


def test_refusals_the_prefilter_cannot_see_are_halved() -> None:
    # a scalar after the first element of a list of objects: only a strict decode finds it
    rows = [json.dumps({"l": [{"x": str(i)}, {"x": "y"}], "s": "v"}) for i in range(200)]
    rows[77] = json.dumps({"l": [{"x": "a"}, 5], "s": "v"})
    with lenient_rows() as seen:
        check(rows)
    assert seen == [1]
    rows[150] = json.dumps({"l": [{"x": "b"}, [1]], "s": "v"})
    with lenient_rows() as seen:
        check(rows)
    assert seen == [2]
    # the halving budget spent: the rows left over are read leniently, the values the same
    odd = [json.dumps({"l": [{"x": str(i)}, i], "s": "v"}) for i in range(64)]
    with small_pieces(8, 4, 1), lenient_rows() as seen:
        check(rows + odd)
    assert len(odd) <= sum(seen) < len(rows + odd)


def test_odd_rows_across_pieces() -> None:
    rows = [json.dumps({"s": str(i), "a": {"b": i / 3}}) for i in range(40)]
    for i in (3, 17, 18, 39):
        rows[i] = json.dumps({"s": [i], "a": {"b": {"deep": i}}, "l": "not a list"})
    with small_pieces(4, 5, 24), lenient_rows() as seen:
        check(rows)
    assert sum(seen) == 4


def test_keys_too_long_for_a_regex_fall_back_to_the_lenient_reader() -> None:
    """Keys taken from the data (a parser decoding every key it found) can be longer than a
    regex may be: the rows after a refusal are then all read leniently, with the same values."""
    keys = ["x" * 70_000 + str(i) for i in range(3)] + ["\ufffd" * 5000 + "a"]
    lines = pl.Series(['{"a": "x"}'] * 5000 + ['{"a": {"z": 1}}'] + ['{"a": "y"}'] * 5000)
    paths = ["$.a", *(key_path(k) for k in keys)]
    got = decode_paths(lines, paths)
    assert got.get_column(column_name("$.a")).to_list() == (
        ["x"] * 5000 + ['{"z":1}'] + ["y"] * 5000
    )
