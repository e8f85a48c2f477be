"""Focused tests of the inference parsers' tricky mappings."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.inference.ollama.parser import OllamaParser
from parsers.inference.openai_http.parser import OpenAIHttpParser
from parsers.inference.tgi_json.parser import TgiJsonParser
from parsers.inference.tgi_text.parser import TgiTextParser
from parsers.inference.vllm.parser import VllmParser
from timeline.parserkit.api import LINE_SCHEMA, Parser, ParseResult, Sample, Source, SourceSettings

PARSERS: list[Parser] = [
    VllmParser(),
    TgiTextParser(),
    TgiJsonParser(),
    OllamaParser(),
    OpenAIHttpParser(),
]


def _source(lines: list[str], year: int | None = 2025, tz: str = "UTC") -> Source:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines}, schema=LINE_SCHEMA
    )
    return Source("t.log", frame, SourceSettings(timezone=tz, year=year))


def _covered(result: ParseResult) -> int:
    starts = result.events.get_column("source_line").n_unique() if result.events.height else 0
    return starts + result.merged_lines + result.rejects.height + result.skipped.height


def test_vllm_request_id_suffixes_and_forwarded_ids() -> None:
    lines = [
        "INFO 04-18 08:01:10 [async_llm.py:252] Added request chatcmpl-0123456789abcdef0123456789abcdef-9d8c7b6a.",
        "INFO 04-18 08:01:10 [async_llm.py:252] Added request cmpl-0123456789abcdef0123456789abcdef-3.",
        "INFO 04-18 08:01:10 [async_llm.py:252] Added request chatcmpl-c219f6da-8a6c-4c30-8f0e-2bd2f6fa5b1e.",
        "INFO 04-18 08:01:10 [async_llm.py:252] Added request chatcmpl-req-42-abcdefgh.",
    ]
    events = VllmParser().parse(_source(lines)).events
    assert events.get_column("request_id").to_list() == [
        "chatcmpl-0123456789abcdef0123456789abcdef",
        "cmpl-0123456789abcdef0123456789abcdef",
        "chatcmpl-c219f6da-8a6c-4c30-8f0e-2bd2f6fa5b1e",
        "chatcmpl-req-42-abcdefgh",  # not a vLLM-made id: nothing stripped
    ]
    ids = [{i["kind"]: i["value"] for i in row} for row in events.get_column("ids").to_list()]
    assert ids[0]["vllm_request_id"].endswith("-9d8c7b6a")
    assert "x_request_id" not in ids[0]
    assert ids[2]["x_request_id"] == "c219f6da-8a6c-4c30-8f0e-2bd2f6fa5b1e"
    assert ids[3]["x_request_id"] == "req-42-abcdefgh"


def test_vllm_local_zone_and_year() -> None:
    line = "INFO 01-15 09:00:00 [logger.py:39] Finished request chatcmpl-0123456789abcdef0123456789abcdef."
    ev = (
        VllmParser().parse(_source([line], year=2024, tz="Europe/Berlin")).events.row(0, named=True)
    )
    assert ev["ts_source"].isoformat() == "2024-01-15T08:00:00+00:00"
    assert ev["ts_assumed_tz"] is True
    assert ev["status"] == "ok"


def test_vllm_traceback_lines_are_merged() -> None:
    lines = [
        "ERROR 04-18 08:02:00 [engine.py:160] Exception in worker loop",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in f',
        "ValueError: nope",
        "INFO 04-18 08:02:01 [x.py:1] next",
    ]
    result = VllmParser().parse(_source(lines))
    assert result.merged_lines == 3
    err = result.events.row(0, named=True)
    assert (err["event_type"], err["error_type"], err["status"]) == (
        "inference.error",
        "ValueError",
        "error",
    )


def test_openai_generic_json_is_not_claimed() -> None:
    sample = Sample("x.jsonl", ('{"level":"info","msg":"hi","id":"42"}',) * 5)
    assert OpenAIHttpParser().sniff(sample) == 0.0
    assert TgiJsonParser().sniff(sample) == 0.0
    tracing = Sample(
        "y.jsonl",
        ('{"timestamp":"2025-01-01T00:00:00Z","level":"INFO","message":"m","target":"qdrant::x"}',),
    )
    assert TgiJsonParser().sniff(tracing) == 0.0


def test_openai_error_statuses() -> None:
    lines = [
        '{"status_code":429,"response":{"error":{"type":"requests","code":"rate_limit_exceeded","message":"slow down"}}}',
        '{"status_code":400,"response":{"error":{"type":"invalid_request_error","code":"context_length_exceeded","message":"too long"}}}',
    ]
    events = OpenAIHttpParser().parse(_source(lines)).events
    assert events.get_column("status").to_list() == ["rate_limited", "error"]
    assert events.get_column("error_type").to_list() == [
        "rate_limit_exceeded",
        "context_length_exceeded",
    ]


@pytest.mark.parametrize("parser", PARSERS, ids=[p.name for p in PARSERS])
@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(
        st.text(min_size=1, max_size=80).filter(lambda s: "\n" not in s and s.strip()),
        min_size=1,
        max_size=8,
    )
)
def test_random_text_keeps_the_line_contract(parser: Parser, lines: list[str]) -> None:
    result = parser.parse(_source(lines))
    assert _covered(result) == len(lines)
    assert parser.sniff(Sample("r.log", tuple(lines))) <= 1.0
