"""The flat ``docs_returned`` column: filled once at normalize time, read by correlation and the
appendix, computed for timeline files written before it existed."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from timeline.analyze.load import scan_events
from timeline.correlation.requests import REQUEST_INPUT_COLUMNS, docs_returned, requests_table
from timeline.normalize.events import docs_from_source, normalize
from timeline.schema import KV_STRUCT, POLARS_SCHEMA, to_arrow


def _kv(**pairs: str) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in pairs.items()]


def _parsed() -> pl.DataFrame:
    """What a parser returns: one row per case."""
    return pl.DataFrame(
        {
            "source_line": [1, 2, 3, 4, 5, 6, 7, 8],
            "layer": [
                "retrieval",
                "retrieval",
                "retrieval",
                "retrieval",
                None,
                "gateway",
                None,
                None,
            ],
            "event_type": [
                "retrieval.query",
                "retrieval.query",
                "retrieval.query",
                "retrieval.query",
                "retrieval.query",
                "http.request",
                "inference.response",
                None,
            ],
            "doc_ids": [["a", "b"], None, [], None, None, None, ["x"], None],
            "attributes": [
                _kv(total_hits="9"),  # doc_ids win
                _kv(total_hits="12"),
                [],
                _kv(total_hits="many"),  # not a number: unknown
                _kv(total_hits="3"),  # layer from the parser's default
                _kv(total_hits="4"),  # not a retrieval event
                [],
                None,
            ],
        },
        schema_overrides={"doc_ids": pl.List(pl.String), "attributes": pl.List(KV_STRUCT)},
    )


def _lines(n: int) -> pl.DataFrame:
    return pl.DataFrame({"source_line": list(range(1, n + 1)), "line": ["x"] * n})


def test_normalize_fills_docs_returned_for_retrieval_events() -> None:
    events = normalize(_parsed(), _lines(8), "r.log", "p", "other")
    assert events["docs_returned"].to_list() == [2, 12, 0, None, 3, None, None, None]
    # the parser's default layer counts: an unnamed layer of a retrieval parser is retrieval
    events = normalize(_parsed(), _lines(8), "r.log", "p", "retrieval")
    assert events["docs_returned"].to_list() == [2, 12, 0, None, 3, None, 1, None]


def test_a_parser_that_sets_docs_returned_keeps_it() -> None:
    parsed = _parsed().with_columns(pl.lit(7, dtype=pl.Int64).alias("docs_returned"))
    events = normalize(parsed, _lines(8), "r.log", "p", "retrieval")
    assert events["docs_returned"].to_list() == [7] * 8


def test_docs_from_source_is_the_old_computation() -> None:
    frame = _parsed()
    assert frame.select(docs_from_source())["doc_ids"].to_list() == [2, 12, 0, None, 3, 4, 1, None]


def test_requests_read_the_flat_column_not_attributes() -> None:
    assert "docs_returned" in REQUEST_INPUT_COLUMNS
    assert "attributes" not in REQUEST_INPUT_COLUMNS
    assert docs_returned().meta.root_names() == ["docs_returned"]
    events = normalize(_parsed(), _lines(8), "r.log", "p", "other").with_columns(
        pl.lit("r1").alias("correlation_id"),
        pl.lit(None, dtype=POLARS_SCHEMA["ts"]).alias("ts"),
    )
    table = requests_table(events.select(REQUEST_INPUT_COLUMNS))
    # the smallest count of the request's retrieval queries: the empty one
    assert table["docs_returned"].to_list() == [0]
    assert table["failure_reason"].to_list() == ["empty retrieval"]


def test_an_older_timeline_file_gets_the_column_computed(tmp_path: Path) -> None:
    events = normalize(_parsed(), _lines(8), "r.log", "p", "retrieval")
    old = to_arrow(events).drop_columns(["docs_returned"])
    pq.write_table(old, tmp_path / "old.parquet")
    pq.write_table(to_arrow(events), tmp_path / "new.parquet")
    expected = [2, 12, 0, None, 3, None, 1, None]
    assert scan_events(tmp_path / "old.parquet").collect()["docs_returned"].to_list() == expected
    assert scan_events(tmp_path / "new.parquet").collect()["docs_returned"].to_list() == expected
    # projection: a query for the count alone reads no more than it needs
    counts = scan_events(tmp_path / "old.parquet").select(docs_returned()).collect()
    assert counts["docs_returned"].to_list() == expected
