"""The column-speed helpers of ``timeline.parserkit.text`` and vLLM's ``reprs`` equal the plain
expressions (or Python calls) they replace, on arbitrary values (nulls included)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.inference.vllm.reprs import python_strings
from timeline.parserkit.pyrepr import python_string
from timeline.parserkit.text import concat_lists, on_distinct, on_rows, split_head
from timeline.schema import KV_STRUCT

_TEXT = st.text(alphabet=st.sampled_from(list("ab =:'\"\\\n\tx0[]")), max_size=12)
_KV = st.fixed_dictionaries({"key": st.sampled_from(["k", "q"]), "value": st.none() | _TEXT})
_KV_LISTS = st.none() | st.lists(st.none() | _KV, max_size=3)
_LISTS = pl.List(KV_STRUCT)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_KV_LISTS, _KV_LISTS, _KV_LISTS), max_size=8), st.booleans())
def test_concat_lists_equals_concat_list(rows: list[tuple[object, ...]], drop_nulls: bool) -> None:
    frame = pl.DataFrame(
        [list(r) for r in rows], schema={"a": _LISTS, "b": _LISTS, "c": _LISTS}, orient="row"
    )
    filled = [pl.col(c).fill_null(pl.lit([], dtype=_LISTS)) for c in "abc"]
    if drop_nulls:
        filled = [e.list.drop_nulls() for e in filled]
    expected = frame.select(pl.concat_list(filled).alias("all")).get_column("all")
    got = concat_lists(frame, ["a", "b", "c"], "all", drop_nulls=drop_nulls)
    assert got.to_list() == expected.to_list()
    assert got.dtype == _LISTS


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.none() | _TEXT, st.none() | st.booleans()), max_size=12))
def test_on_rows_equals_when_then(rows: list[tuple[str | None, bool | None]]) -> None:
    frame = pl.DataFrame(
        {"t": [r[0] for r in rows], "m": [r[1] for r in rows]},
        schema={"t": pl.String, "m": pl.Boolean},
    )
    exprs = {
        "g": pl.col("t").str.extract(r"(a+)", 1),
        "n": pl.col("t").str.len_chars(),
    }
    got = on_rows(frame, pl.col("m"), exprs)
    expected = frame.with_columns([pl.when(pl.col("m")).then(e).alias(k) for k, e in exprs.items()])
    assert got.to_dicts() == expected.to_dicts()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.none() | _TEXT, st.none() | st.integers(0, 3)), max_size=12))
def test_on_distinct_equals_row_by_row(rows: list[tuple[str | None, int | None]]) -> None:
    frame = pl.DataFrame(
        {"t": [r[0] for r in rows], "i": [r[1] for r in rows]},
        schema={"t": pl.String, "i": pl.Int64},
    )
    exprs = {"u": pl.col("t").str.to_uppercase() + pl.col("i").cast(pl.String)}
    got = on_distinct(frame, ["t", "i"], exprs)
    expected = frame.with_columns([e.alias(k) for k, e in exprs.items()])
    assert got.to_dicts() == expected.to_dicts()


_HEAD = r"^(?P<_head>(?P<level>[A-Z]+) (?P<code>\d+) )"


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.none()
        | st.builds(
            lambda lvl, code, rest: f"{lvl} {code} {rest}",
            st.sampled_from(["INFO", "WARN", "x", ""]),
            st.sampled_from(["1", "22", "", "a"]),
            _TEXT,
        ),
        max_size=10,
    )
)
def test_split_head_equals_a_whole_rest_capture(lines: list[str | None]) -> None:
    frame = pl.DataFrame({"line": lines}, schema={"line": pl.String})
    got = split_head(frame, pl.col("line"), _HEAD, "rest")
    whole = frame.select(
        pl.col("line").str.extract_groups(_HEAD + r"(?P<rest>.*)$").alias("g")
    ).unnest("g")
    assert (
        got.select("level", "code", "rest").to_dicts()
        == whole.select("level", "code", "rest").to_dicts()
    )


_LITERALS = st.one_of(
    _TEXT,
    _TEXT.map(lambda s: "'" + s + "'"),
    _TEXT.map(lambda s: '"' + s + '"'),
    st.text(max_size=6).map(repr),
    st.just("''"),
    st.just("'"),
    st.just('"it\'s"'),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.none() | _LITERALS, max_size=10))
def test_python_strings_equals_python_string_row_by_row(values: list[str | None]) -> None:
    series = pl.Series("p", values, dtype=pl.String)
    expected = [None if v is None else python_string(v) for v in values]
    assert python_strings(series).to_list() == expected
