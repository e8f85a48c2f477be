"""timeline.parserkit.logfmt: key=value pairs."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.parserkit.helpers import apply, one
from timeline.parserkit import logfmt
from timeline.parserkit.text import quote

X = pl.col("x")
LINE = 'time=2025-03-02T10:15:04Z level=info msg="model \\"x\\" loaded" dur=1.2ms path=/a/b empty='


def test_pairs_in_order_and_unquoted() -> None:
    assert one(logfmt.pairs(X), LINE) == [
        {"key": "time", "value": "2025-03-02T10:15:04Z"},
        {"key": "level", "value": "info"},
        {"key": "msg", "value": 'model "x" loaded'},
        {"key": "dur", "value": "1.2ms"},
        {"key": "path", "value": "/a/b"},
        {"key": "empty", "value": ""},
    ]


def test_keys_start_at_a_blank_and_rename() -> None:
    pairs = one(logfmt.pairs(X, {"rt": "request_time"}), '/a=1 rt=0.2 k.v-w/z=3 9=no ua="a b"')
    assert pairs == [
        {"key": "request_time", "value": "0.2"},
        {"key": "k.v-w/z", "value": "3"},
        {"key": "ua", "value": "a b"},
    ]


def test_value_of_one_key() -> None:
    assert apply(logfmt.value(X, "msg"), [LINE, "level=info", 'amsg=1 msg=""']) == [
        'model "x" loaded',
        None,
        "",
    ]


def test_starts_with_pair_and_rest() -> None:
    assert apply(logfmt.starts_with_pair(X), ["  a=1", "text a=1", "=1"]) == [True, False, False]
    assert one(logfmt.without_pairs(X, ""), '"GET /" rt=0.1 "quoted text" ua="a b"') == (
        '"GET /" "quoted text"'
    )


keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-/]{0,8}", fullmatch=True)
values = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(keys, values), min_size=1, max_size=6))
def test_pairs_round_trip(items: list[tuple[str, str]]) -> None:
    quoted = apply(quote(X), [v for _, v in items])
    line = " ".join(f"{k}={q}" for (k, _), q in zip(items, quoted, strict=True))
    assert one(logfmt.pairs(X), line) == [{"key": k, "value": v} for k, v in items]
