"""timeline.parserkit.ids and .kv: id lists and key/value attributes."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.parserkit.helpers import apply, one, texts
from timeline.parserkit import frame
from timeline.parserkit.ids import id_list, is_openai_id
from timeline.parserkit.kv import attributes, dynamic_kv, empty_kv, kv_list, pairs_series
from timeline.parserkit.text import NULL_TOKENS, nullify

X = pl.col("x")


def test_frame_keeps_the_names_others_import() -> None:
    assert (frame.kv_list, frame.id_list, frame.nullify) == (kv_list, id_list, nullify)
    assert frame.NULL_TOKENS == NULL_TOKENS


def test_id_list_drops_nulls_in_order() -> None:
    ids = id_list({"b": X, "a": pl.lit("1"), "c": pl.lit(None, dtype=pl.String)})
    assert apply(ids, ["x", None]) == [
        [{"kind": "b", "value": "x"}, {"kind": "a", "value": "1"}],
        [{"kind": "a", "value": "1"}],
    ]
    assert one(id_list({}), "x") == []


def test_openai_ids() -> None:
    assert apply(is_openai_id(X), ["chatcmpl-1", "cmpl-2", "resp_3", "xchatcmpl-4", None]) == [
        True,
        True,
        False,
        False,
        None,
    ]


def test_attributes_clean_values_and_append_lists() -> None:
    attrs = attributes({"a": X, "n": pl.lit(3), "dash": pl.lit("-")}, kv_list({"z": pl.lit("1")}))
    assert one(attrs, "  v ") == [
        {"key": "a", "value": "v"},
        {"key": "n", "value": "3"},
        {"key": "z", "value": "1"},
    ]
    assert one(attributes({"a": X}), " null ") == []
    assert one(empty_kv(), "x") == []


def test_dynamic_kv_and_pairs_series() -> None:
    metrics = pl.DataFrame({"x": [["Avg prompt throughput: 1.5", "GPU KV cache usage=2%"]]})
    got = metrics.select(dynamic_kv(X, "m.")).to_series().to_list()
    assert got == [
        [
            {"key": "m.avg_prompt_throughput", "value": "1.5"},
            {"key": "m.gpu_kv_cache_usage", "value": "2%"},
        ]
    ]
    series = pairs_series([[("a", "1")], []], "p.")
    assert series.to_list() == [[{"key": "p.a", "value": "1"}], []]


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{1,6}", fullmatch=True),
        st.one_of(st.none(), texts(max_size=5)),
        max_size=5,
    )
)
def test_kv_list_keeps_exactly_the_non_null_values(values: dict[str, str | None]) -> None:
    pairs = {k: pl.lit(v, dtype=pl.String) for k, v in values.items()}
    got = one(kv_list(pairs), "x")
    assert got == [{"key": k, "value": v} for k, v in values.items() if v is not None]


_VALUES = st.one_of(st.none(), st.sampled_from(["", "a", "b c", "0", "null"]), st.text(max_size=4))
_ITEM = st.one_of(
    st.none(),
    st.builds(lambda k, v: {"key": k, "value": v}, st.sampled_from(["k", "m"]), _VALUES),
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(_VALUES, _VALUES, st.one_of(st.none(), st.lists(_ITEM, max_size=3))),
        max_size=6,
    ),
)
def test_kv_column_equals_kv_list_then_concat_lists(
    rows: list[tuple[str | None, str | None, list[dict[str, str | None] | None] | None]],
) -> None:
    """The one-pass ``kv_column`` gives what ``kv_list`` followed by ``concat_lists`` gives:
    null values and keys null on every row left out, null lists empty, null items dropped, order
    kept, zero rows included."""
    from timeline.parserkit.kv import kv_column
    from timeline.parserkit.text import concat_lists
    from timeline.schema import KV_STRUCT

    df = pl.DataFrame(
        {
            "a": [r[0] for r in rows],
            "b": [r[1] for r in rows],
            "l": [r[2] for r in rows],
        },
        schema={"a": pl.String, "b": pl.String, "l": pl.List(KV_STRUCT)},
    )
    pairs = {"first": pl.col("a"), "second": pl.col("b"), "never": pl.lit(None, dtype=pl.String)}
    got = kv_column(df, pairs, [pl.col("l")], "x")
    want = concat_lists(
        df.with_columns(kv_list(pairs).alias("_kv")), ["_kv", "l"], "x", drop_nulls=True
    )
    assert got.to_list() == want.to_list()
    assert got.dtype == want.dtype
