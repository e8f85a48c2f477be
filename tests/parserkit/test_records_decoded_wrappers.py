"""Vectorized record grouping and decoded wrappers agree with the loop / per-path originals."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.parserkit.helpers import lines_frame
from timeline.parserkit.records import _group, _group_vectorized, _span_frame, read_records
from timeline.parserkit.wrappers import (
    RESPONSE_COLUMN,
    WRAPPER_PATHS,
    Response,
    first_decoded_key,
    wrapped_object,
    wrapper_columns,
    wrapper_columns_from,
)

_FEATURE_SCHEMA = {
    "row": pl.UInt32,
    "head": pl.Boolean,
    "restart": pl.Boolean,
    "delta": pl.Int64,
    "punct": pl.Boolean,
}
_feature = st.tuples(
    st.integers(1, 2), st.booleans(), st.booleans(), st.integers(-2, 2), st.booleans()
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_feature, min_size=1, max_size=10), st.sampled_from([None, 2, 3, 100]))
def test_vectorized_grouping_matches_the_loop(
    steps: list[tuple[int, bool, bool, int, bool]], max_lines: int | None
) -> None:
    rows, row = [], 0
    for step, head, restart, delta, punct in steps:
        row += step
        rows.append((row, head, restart, delta, punct))
    features = pl.DataFrame(rows, schema=_FEATURE_SCHEMA, orient="row")
    fast = _group_vectorized(features, max_lines)
    if fast is None:
        return
    loop = _group(rows, max_lines)
    assert fast.closed.equals(_span_frame(loop.closed))
    assert loop.unterminated == [] and loop.too_long == []
    assert fast.outside.to_list() == loop.outside
    assert fast.punctuation.to_list() == loop.punctuation


def test_vectorized_grouping_of_pretty_records() -> None:
    lines = ["[", "{", ' "a": {"b": 1}', "},", "{", ' "c": "}"', "}", "]"]
    records = read_records(lines_frame(lines))
    assert records.frame.get_column("lines").to_list() == [[2, 3, 4], [5, 6, 7]]
    assert records.skipped.get_column("source_line").to_list() == [1, 8]


_RECORDS = [
    '{"ts": "2025-01-01T00:00:00Z", "request_id": "r1", "response": {"id": "x", "error": {"code": 1}}}',
    '{"requestId": "r2", "stage": "output", "result": "flat", "body": {"id": 2.50}}',
    '{"id": "bare", "error": "boom", "host": "-"}',
    '{"response": [1], "result": {"id": null}}',
    '{"response": {}, "x_request_id": {"n": 1}}',
]


def test_response_and_wrapper_columns_match_the_per_path_readers() -> None:
    response = Response(
        ("response", "result", "body"), ("$.id", "$.error.code"), response_heads=("$.error",)
    )
    read = read_records(
        lines_frame(_RECORDS), [*WRAPPER_PATHS, *response.paths()], heads=response.heads()
    )
    frame = response.attach(read.frame)
    text = pl.col("text")
    old = frame.select(wrapped_object(text, response.keys).alias("r")).to_series()
    assert frame.get_column(RESPONSE_COLUMN).to_list() == old.to_list()
    got = frame.select(
        response.value("$.id").alias("id"),
        response.value("$.error.code").alias("code"),
        response.head("$.error").alias("error"),
    )
    resp = pl.col(RESPONSE_COLUMN)
    want = frame.select(
        resp.str.json_path_match("$.id").alias("id"),
        resp.str.json_path_match("$.error").str.json_path_match("$.code").alias("code"),
        resp.str.json_path_match("$.error").str.slice(0, 1).alias("error"),
    )
    assert got.equals(want)
    decoded = wrapper_columns_from(first_decoded_key)
    per_path = wrapper_columns(text)
    assert frame.select(**decoded).equals(frame.select(**per_path))
