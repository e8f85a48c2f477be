"""timeline.normalize.lists: appending to list-of-struct columns equals ``pl.concat_list``."""

from __future__ import annotations

import polars as pl
import pytest

from timeline.normalize.lists import append, elements, long_entries
from timeline.schema import ID_STRUCT, KV_STRUCT

KV = pl.List(KV_STRUCT)


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "attributes": [
                [{"key": "a", "value": "1"}],
                None,
                [],
                [{"key": "b", "value": None}, {"key": "c", "value": "3"}],
                None,
                [{"key": "a", "value": "1"}, {"key": "a", "value": "1"}],
            ],
            "request_id": ["r1", None, "r3", "r4", None, "a"],
            "trace_id": [None, None, "t3", "r4", "t5", None],
            "fill": [True, True, False, True, False, True],
        },
        schema={
            "attributes": KV,
            "request_id": pl.String,
            "trace_id": pl.String,
            "fill": pl.Boolean,
        },
    )


@pytest.mark.parametrize("rows", [slice(0, 6), slice(1, 5), slice(0, 0), slice(4, 5)])
def test_append_equals_concat_list(rows: slice) -> None:
    frame = _frame()[rows]
    entry = pl.struct(key=pl.lit("from"), value=pl.col("request_id"))
    expected = frame.select(
        pl.when("fill")
        .then(pl.concat_list(pl.col("attributes").fill_null(pl.lit([], dtype=KV)), entry))
        .otherwise(pl.col("attributes"))
    ).to_series()
    entries = long_entries(frame, [{"key": pl.lit("from"), "value": pl.col("request_id")}])
    got = append(frame.get_column("attributes"), entries.filter(frame.get_column("fill")))
    assert got.dtype == expected.dtype
    assert got.to_list() == expected.to_list()


@pytest.mark.parametrize("rows", [slice(0, 6), slice(2, 6), slice(0, 0)])
def test_append_unique_equals_list_unique(rows: slice) -> None:
    frame = _frame()[rows].with_columns(
        pl.col("attributes")
        .list.eval(
            pl.struct(
                kind=pl.element().struct.field("key"), value=pl.element().struct.field("value")
            )
        )
        .cast(pl.List(ID_STRUCT))
        .alias("ids")
    )
    columns = ("request_id", "trace_id")
    expected = frame.select(
        pl.concat_list(
            pl.col("ids").fill_null(pl.lit([], dtype=pl.List(ID_STRUCT))),
            pl.concat_list(
                [pl.struct(kind=pl.lit(c), value=pl.col(c)) for c in columns]
            ).list.filter(pl.element().struct.field("value").is_not_null()),
        ).list.unique(maintain_order=True)
    ).to_series()
    entries = long_entries(frame, [{"kind": pl.lit(c), "value": pl.col(c)} for c in columns])
    got = append(frame.get_column("ids"), entries.filter(pl.col("value").is_not_null()), True)
    assert got.to_list() == expected.to_list()


def test_append_whole_elements() -> None:
    frame = _frame()
    other = frame.get_column("attributes").shift(1).alias("other")
    both = frame.with_columns(other)
    expected = both.select(
        pl.concat_list(
            pl.col("attributes").fill_null(pl.lit([], dtype=KV)),
            pl.col("other").fill_null(pl.lit([], dtype=KV)),
        )
    ).to_series()
    got = append(both.get_column("attributes").fill_null([]), elements(both, "other"))
    assert got.to_list() == expected.to_list()
