"""timeline.parserkit.text: null tokens, blanks, quotes and escapes, ANSI codes."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.parserkit.helpers import apply, one, texts
from timeline.parserkit import text as t

X = pl.col("x")


def test_null_tokens_and_clean() -> None:
    assert apply(t.nullify(X), ["-", "", "null", "None", "nil", "x", " - "]) == [
        None,
        None,
        None,
        None,
        None,
        "x",
        " - ",
    ]
    assert apply(t.clean(X), [" - ", "  a b ", "\tnull", None]) == [None, "a b", None, None]
    assert apply(t.nullify(X, ["{}"]), ["{}", "-"]) == [None, "-"]


def test_numbers_from_text() -> None:
    assert apply(t.number(X), [" 1.5 ", "-", "x", "2e3"]) == [1.5, None, None, 2000.0]
    assert apply(t.integer(X), ["200", "200.0", "199.6", "abc"]) == [200, 200, 200, None]


def test_strip_ansi() -> None:
    assert one(t.strip_ansi(X), "\x1b[32mINFO\x1b[0m ok \x1b[1;31mERR\x1b[0m") == "INFO ok ERR"


@pytest.mark.parametrize(
    ("raw", "quotes", "expected"),
    [
        ('"a b"', '"', "a b"),
        ('"say \\"hi\\""', '"', 'say "hi"'),
        ('"back\\\\slash"', '"', "back\\slash"),
        ('"a\\\\"', '"', "a\\"),
        ('"\\\\\\""', '"', '\\"'),
        ('"it\\\'s"', '"', "it\\'s"),  # only the quote in use and the backslash are escapes
        ("'it\\'s'", "'\"", "it's"),
        ("\"mixed'", "'\"", "\"mixed'"),  # different quotes at both ends: not quoted
        ('"', '"', '"'),
        ("plain", '"', "plain"),
        ('""', '"', ""),
    ],
)
def test_unquote(raw: str, quotes: str, expected: str) -> None:
    assert one(t.unquote(X, quotes), raw) == expected


def test_unquote_keeps_null() -> None:
    assert one(t.unquote(X), None) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(texts(), min_size=1, max_size=6), st.sampled_from(['"', "'"]))
def test_unquote_of_quote_is_identity(values: list[str], mark: str) -> None:
    quoted = apply(t.quote(X, mark), values)
    assert all(q.startswith(mark) and q.endswith(mark) for q in quoted)
    assert apply(t.unquote(X, "'\""), quoted) == values


@settings(max_examples=60, deadline=None)
@given(st.lists(texts(exclude="\"'")))
def test_unquote_leaves_unquoted_text_alone(values: list[str]) -> None:
    assert apply(t.unquote(X, "'\""), values) == values


def test_unescape_json_slash() -> None:
    assert one(t.unescape(X, '"/'), '{\\"a\\":\\"b\\/c\\"}') == '{"a":"b/c"}'


def test_captures_and_list_max() -> None:
    found = one(t.captures(X, r'"(\w+)":true'), '{"a":true,"b":false,"c":true}')
    assert found == ["a", "c"]
    assert one(t.captures(X, r"(\d+)"), "none") == []
    assert one(t.captures(X, r"(\d+)"), None) == []
    values = pl.DataFrame({"x": [["1", "2.5", "x"], []]})
    assert values.select(t.list_max(X)).to_series().to_list() == [2.5, None]


def test_container_prefix() -> None:
    parts = apply(
        t.container_prefix(X),
        ["qdrant-1  | 2024-04-10 15:01:09 rest", "2024-04-10 15:01:09 rest", "rest"],
    )
    assert parts == [
        {"compose": "qdrant-1", "docker_time": "2024-04-10 15:01:09", "rest": "rest"},
        {"compose": None, "docker_time": "2024-04-10 15:01:09", "rest": "rest"},
        {"compose": None, "docker_time": None, "rest": "rest"},
    ]
