"""Retrieval parsers: real public samples, and the mappings that are easy to get wrong."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from parsers.retrieval.elasticsearch_slowlog.parser import ElasticsearchSlowlogParser
from parsers.retrieval.milvus_log.parser import MilvusParser
from parsers.retrieval.qdrant_log.parser import QdrantParser
from tests.helpers import assert_real_log, parsed_fraction
from timeline.parserkit.api import LINE_SCHEMA, Sample, Source


def _source(*lines: str) -> Source:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": list(lines)}, schema=LINE_SCHEMA
    )
    return Source("test.log", frame)


def test_elasticsearch_real_sample(real_logs: Path) -> None:
    run = assert_real_log(
        real_logs, "retrieval_elasticsearch_search_slowlog_json.log", "elasticsearch_slowlog"
    )
    assert parsed_fraction(run) == 1.0
    events = run.events
    assert set(events["event_type"]) == {"retrieval.query"}
    assert events["index_name"].to_list()[:3] == ["index1"] * 3
    # the literal "null" X-Opaque-Id is no id; the 8.0 "my-identifier" is one
    assert events["request_id"].to_list()[3:5] == [None, "my-identifier"]
    assert events["duration_ms"].to_list()[0] == pytest.approx(0.0704)


def test_qdrant_real_sample(real_logs: Path) -> None:
    run = assert_real_log(real_logs, "retrieval_qdrant_server.log", "qdrant_log")
    assert parsed_fraction(run) == 1.0
    events = run.events
    assert set(events["event_type"]) == {"retrieval.query"}
    assert set(events["index_name"]) == {"test_collection"}
    # RFC3339 time wins over the Docker Desktop local-time prefix, which is kept
    first = events.row(0, named=True)
    assert first["ts_source"].isoformat().startswith("2024-04-10T14:01:09")
    attrs = first["attributes"]  # a map in events.parquet
    assert attrs["docker_time"] == "2024-04-10 15:01:09"
    assert first["duration_ms"] == pytest.approx(4.214)


def test_es_opaque_id_only_on_search_lines() -> None:
    parser = ElasticsearchSlowlogParser()
    result = parser.parse(
        _source(
            "[2025-03-02T10:15:09,101][WARN ][i.i.s.index] [n1] [kb/uuid1] took[1ms], took_millis[1], type[_doc], id[doc-1], routing[], source[{}]",
            "[2025-03-02T10:15:09,101][WARN ][i.s.s.query] [n1] [kb][0] took[1ms], took_millis[1], total_hits[1 hits], stats[], search_type[QUERY_THEN_FETCH], total_shards[1], source[{}], id[req-1], ",
        )
    )
    assert result.events["request_id"].to_list() == [None, "req-1"]
    assert result.events["event_type"].to_list() == ["server.log", "retrieval.query"]


def test_qdrant_search_routes_and_other_requests() -> None:
    access = '2025-03-02T10:15:04.1Z  INFO actix_web::middleware::logger: 1.2.3.4 "{m} {p} HTTP/1.1" 200 1 "-" "ua" 0.5'
    result = QdrantParser().parse(
        _source(
            access.format(m="POST", p="/collections/a/points/query/batch"),
            access.format(m="POST", p="/collections/a/points/scroll"),
            access.format(m="POST", p="/collections/a%20b/points/discover"),
        )
    )
    events = result.events
    assert events["event_type"].to_list() == ["retrieval.query", "http.response", "retrieval.query"]
    assert events["index_name"].to_list() == ["a", None, "a%20b"]
    assert events["duration_ms"].to_list() == [500.0, 500.0, 500.0]


def test_qdrant_does_not_claim_other_rust_tracing_logs() -> None:
    tgi = Sample(
        "tgi.log",
        (
            "2025-03-02T10:15:04.101234Z  INFO text_generation_router: router/src/main.rs:300: Connected",
            "2025-03-02T10:15:04.101234Z  INFO text_generation_launcher: Starting shard",
        ),
    )
    assert QdrantParser().sniff(tgi) == 0.0


def test_milvus_quoted_fields_and_topk() -> None:
    line = (
        '[2025/03/02 10:15:04.101 +00:00] [DEBUG] [proxy/impl.go:1] ["Search received"] '
        '[traceID=abc] [collection="a \\"b\\" ]c"] '
        '[search_params="[{\\"key\\":\\"topk\\",\\"value\\":\\"7\\"}]"]'
    )
    events = MilvusParser().parse(_source(line)).events
    row = events.row(0, named=True)
    assert row["index_name"] == 'a "b" ]c'
    assert row["top_k"] == 7
    assert row["trace_id"] == "abc"
    assert row["event_type"] == "retrieval.query"


@pytest.mark.parametrize("parser", [ElasticsearchSlowlogParser(), QdrantParser(), MilvusParser()])
def test_arbitrary_text_never_crashes(
    parser: ElasticsearchSlowlogParser | QdrantParser | MilvusParser,
) -> None:
    lines = ("", "{", "[", '{"a":', "\x1b[2m", "[2025/03/02 x] [INFO] [a] [b]", "ÿ" * 50, "]]]]")
    result = parser.parse(_source(*lines))
    covered = (
        result.events["source_line"].n_unique() + result.rejects.height + result.skipped.height
    )
    assert covered == len(lines)
    parser.sniff(Sample("x", lines))
