"""timeline.parserkit.pyrepr, .values and .tracebacks: reprs, decoded values, exceptions."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.parserkit.helpers import apply
from timeline.parserkit.pyrepr import keyword_pairs, literal, python_string, split_top_level
from timeline.parserkit.tracebacks import exception_type, last_exception_type
from timeline.parserkit.values import dig, json_text

X = pl.col("x")


def test_python_string_never_evaluates_code() -> None:
    assert python_string("'a\\nb'") == "a\nb"
    assert python_string("__import__('os').system('true')") is None
    assert python_string("'unterminated") is None
    assert python_string("None") is None
    assert literal("{'a': [1, 'x']}") == {"a": [1, "x"]}
    assert literal("{'a': 1}", max_chars=3) is None
    assert literal(None) is None


def test_sampling_params_split_respects_nesting() -> None:
    text = "n=1, stop=['a, b', ')'], seed=None, guided=G(x=1, y=[2, 3]), top_k=-1"
    assert split_top_level(text)[1] == "stop=['a, b', ')']"
    pairs = dict(keyword_pairs(text))
    assert pairs == {"n": "1", "stop": "['a, b', ')']", "guided": "G(x=1, y=[2, 3])", "top_k": "-1"}
    assert keyword_pairs("a: 'x', b: None", sep=":") == [("a", "x")]


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=20))
def test_python_string_reads_repr(value: str) -> None:
    assert python_string(repr(value)) == value


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=6), min_size=1, max_size=5))
def test_split_top_level_inverts_joining_reprs(values: list[str]) -> None:
    assert split_top_level(", ".join(repr(v) for v in values)) == [repr(v) for v in values]


def test_json_text() -> None:
    assert [json_text(v) for v in (None, True, "x", 3, 1.5, float("nan"), [1, "é"])] == [
        None,
        "true",
        "x",
        "3",
        "1.5",
        None,
        '[1, "é"]',
    ]
    assert json_text({"a": None}) == '{"a": null}'
    assert json_text({"a": {1}}) == '{"a": "{1}"}'  # a Python literal's set: never raises


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=80, deadline=None)
@given(json_values)
def test_json_text_round_trips(value: Any) -> None:
    text = json_text(value)
    if value is None:
        assert text is None
    elif isinstance(value, str):
        assert text == value
    else:
        assert text is not None and json.loads(text) == value


def test_dig() -> None:
    doc = {"choices": [{"delta": {"content": "hi"}}], "n": 1}
    assert dig(doc, "choices", 0, "delta", "content") == "hi"
    assert dig(doc, "choices", -1, "delta") == {"content": "hi"}
    assert dig(doc, "choices", 5) is None
    assert dig(doc, "n", "x") is None
    assert dig(doc, "missing", 0) is None
    assert dig(doc) == doc


def test_exception_types() -> None:
    lines = ["Traceback (most recent call last):", "  File ...", "torch.OutOfMemoryError: CUDA"]
    assert apply(exception_type(X), lines) == [None, None, "torch.OutOfMemoryError"]
    frame = pl.DataFrame({"x": [[*lines, "KeyboardInterrupt"], ["no error"]]})
    assert frame.select(last_exception_type(X)).to_series().to_list() == ["KeyboardInterrupt", None]
