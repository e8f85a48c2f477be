"""The canonical schema module."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from timeline.schema import ARROW_SCHEMA, FIELD_NAMES, POLARS_SCHEMA, conform, to_arrow


def test_names_are_unique_and_snake_case() -> None:
    assert len(set(FIELD_NAMES)) == len(FIELD_NAMES)
    assert all(n == n.lower() and " " not in n and "." not in n for n in FIELD_NAMES)


def test_conform_fills_missing_columns_with_typed_nulls() -> None:
    frame = conform(pl.DataFrame({"source_line": [1], "message": ["hi"]}))
    assert frame.schema == POLARS_SCHEMA
    assert frame["layer"].to_list() == [None]


def test_conform_rejects_columns_outside_the_schema() -> None:
    with pytest.raises(ValueError, match="not canonical columns: bogus"):
        conform(pl.DataFrame({"source_line": [1], "bogus": [1]}))


def test_to_arrow_writes_attributes_as_a_map() -> None:
    frame = conform(
        pl.DataFrame(
            {"source_line": [1, 2, 3]},
        ).with_columns(
            pl.Series(
                "attributes",
                [[{"key": "a", "value": "1"}], [], None],
                dtype=POLARS_SCHEMA["attributes"],
            )
        )
    )
    table = to_arrow(frame.slice(1, 2))
    assert table.schema == ARROW_SCHEMA
    assert pa.types.is_map(table.schema.field("attributes").type)
    assert table.column("attributes").to_pylist() == [[], None]
    assert to_arrow(frame).column("attributes").to_pylist()[0] == [("a", "1")]
