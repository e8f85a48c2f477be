"""Policy-layer parsers: the real samples, and the mappings that are easy to get wrong."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import builtin_parsers
from parsers.policy.llama_guard.parser import LlamaGuardParser
from parsers.policy.nemo_guardrails.parser import NemoGuardrailsParser
from parsers.policy.nemo_guardrails.payload import decode
from parsers.policy.openai_moderation.parser import OpenAIModerationParser
from tests.helpers import assert_real_log, parsed_fraction
from timeline.parserkit.api import LINE_SCHEMA, Parser, ParseResult, Source
from timeline.schema import conform

REAL = [
    ("policy_nemo_guardrails_verbose.log", "nemo_guardrails"),
    ("policy_llama_stack_shield_responses.log", "llama_stack_shield"),
    ("policy_openai_moderation_response.json", "openai_moderation"),
]


def _source(*lines: str) -> Source:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": list(lines)}, schema=LINE_SCHEMA
    )
    return Source("t.log", frame)


def _check_contract(result: ParseResult, n_lines: int) -> None:
    starts = result.events.get_column("source_line").unique().to_list()
    marked = (
        result.rejects.get_column("source_line").to_list()
        + result.skipped.get_column("source_line").to_list()
    )
    assert len(starts) + len(marked) + result.merged_lines == n_lines
    assert len(set(starts) | set(marked)) == len(starts) + len(marked)
    conform(result.events)


@pytest.mark.parametrize(("filename", "parser"), REAL)
def test_real_policy_logs(real_logs: Path, filename: str, parser: str) -> None:
    run = assert_real_log(real_logs, filename, parser)
    assert parsed_fraction(run) == 1.0


def test_real_nemo_log_verdicts(real_logs: Path) -> None:
    run = assert_real_log(real_logs, "policy_nemo_guardrails_verbose.log", "nemo_guardrails")
    checks = run.events.filter(pl.col("event_type") == "policy.check")
    rows = checks.select("policy_name", "verdict", "policy_stage").rows()
    # jailbreak_check returned the *string* 'False' for result key 'allowed': a block.
    assert rows == [("jailbreak_check", "block", "input"), ("self_check_input", "allow", "input")]
    jailbreak = checks.row(0, named=True)
    assert jailbreak["duration_ms"] == pytest.approx(18.54)  # finish minus its start event
    assert {"kind": "action_uid", "value": "48a492ca-57e9-4481-a6b9-46270d19c655"} in jailbreak[
        "ids"
    ]
    assert run.account.skipped_by_reason["repeat of a Processing event line"] == 5


def test_real_moderation_collapses_aliases(real_logs: Path) -> None:
    run = assert_real_log(real_logs, "policy_openai_moderation_response.json", "openai_moderation")
    row = run.events.row(0, named=True)
    assert row["categories"] == ["violence", "harassment", "harassment/threatening"]
    assert row["policy_version"] == "text-moderation-007"
    assert row["verdict"] == "flag"
    assert row["score"] == pytest.approx(0.997192919254303)


def test_real_llama_stack_bedrock_repr(real_logs: Path) -> None:
    run = assert_real_log(
        real_logs, "policy_llama_stack_shield_responses.log", "llama_stack_shield"
    )
    verdicts = run.events.get_column("verdict").to_list()
    assert verdicts == ["allow", "block", "block"]
    assert run.events.get_column("categories").to_list()[1:] == [["S9"], ["VIOLENCE"]]
    assert run.events.get_column("duration_ms").to_list()[2] == 346.0


def test_payload_decoding_never_evaluates_code() -> None:
    assert decode("{'type': __import__('os').getcwd()}") == {"ok": False}
    assert decode("{'type': 'UserMessage'") == {"ok": False}
    assert decode("['a']") == {"ok": False}
    row = decode("{'type': 'X', 'return_value': {'allowed': False, 'policy_violations': ['S3']}}")
    assert row["p_allowed"] == "false"
    assert row["p_violations"] == ["S3"]


def test_nemo_inverted_result_key_and_fact_score() -> None:
    prefix = "INFO:nemoguardrails.colang.v1_0.runtime.runtime:Processing event: "
    result = NemoGuardrailsParser().parse(
        _source(
            prefix + "{'type': 'InternalSystemActionFinished', 'uid': 'a', 'action_name': "
            "'jailbreak_detection_model', 'action_result_key': 'is_jailbreak', 'return_value': False}",
            prefix + "{'type': 'InternalSystemActionFinished', 'uid': 'b', 'action_name': "
            "'check_facts', 'action_result_key': 'accuracy', 'return_value': 0.9}",
        )
    )
    assert result.events.get_column("verdict").to_list() == ["allow", "allow"]
    assert result.events.get_column("score").to_list() == [None, 0.9]


def test_nemo_event_payload_without_a_uid_is_an_event() -> None:
    """An ``Event ::`` payload with no uid repeats no ``Processing event`` line: it is an event,
    not a line the parser neither parsed nor skipped (which rejected the whole chunk)."""
    runtime = "INFO:nemoguardrails.flows.runtime:"
    result = NemoGuardrailsParser().parse(
        _source(
            runtime + "Event :: UserMessage {'text': 'hi'}",
            runtime + "Processing event: {'type': 'X', 'uid': 'u1'}",
        )
    )
    assert result.events.height == 2
    assert result.skipped.height == 0


def test_llama_guard_aliases_are_configurable() -> None:
    parser = LlamaGuardParser(aliases={"output": ["guard.raw"], "request_id": ["rid"]})
    result = parser.parse(_source('{"rid": "r-9", "guard": {"raw": "unsafe\\nS11"}}'))
    row = result.events.row(0, named=True)
    assert row["request_id"] == "r-9"
    assert row["categories"] == ["S11"]
    assert {"key": "category_names", "value": "Suicide & Self-Harm"} in row["attributes"]
    # the default parser does not know these names
    assert LlamaGuardParser().parse(_source('{"rid": "r-9", "raw": "safe"}')).events.height == 0


def test_moderation_prefers_the_callers_verdict() -> None:
    line = (
        '{"request_id": "r1", "verdict": "blocked", "response": {"id": "modr-1", "model": "m",'
        ' "results": [{"flagged": true, "categories": {"hate": true}, "category_scores": {"hate": 0.7}}]}}'
    )
    row = OpenAIModerationParser().parse(_source(line)).events.row(0, named=True)
    assert (row["verdict"], row["status"], row["request_id"]) == ("block", "blocked", "r1")


def test_sniffers_reject_each_others_samples() -> None:
    from timeline.parserkit.api import Sample

    samples = {
        "llama_guard": '{"request_id": "r", "model": "meta-llama/Llama-Guard-3-8B", "output": "safe"}',
        "openai_moderation": '{"id": "modr-1", "results": [{"flagged": false, "category_scores": {}}]}',
        "azure_content_safety": '{"categoriesAnalysis": [{"category": "Hate", "severity": 0}]}',
        "bedrock_guardrails": '{"action": "GUARDRAIL_INTERVENED", "assessments": [{"contentPolicy": {}}]}',
        "nemo_guardrails_trace": '{"trace_id": "t", "spans": [{"name": "x", "span_id": "s", "parent_id": null, "start_time": 0, "duration": 1}]}',
        "llama_stack_shield": "RunShieldResponse(violation=None)",
        "nemo_guardrails": "INFO:nemoguardrails.flows.runtime:Processing event: {'type': 'Listen'}",
    }
    found = {p.name: p for p in _policy_parsers()}
    for name, line in samples.items():
        scores = {n: p.sniff(Sample("s", (line,))) for n, p in found.items()}
        best = max(scores, key=lambda n: scores[n])
        assert best == name, scores
        assert scores[name] >= 0.5
    plain_json = Sample("s", ('{"level": "info", "msg": "hello"}',))
    assert all(p.sniff(plain_json) == 0.0 for p in found.values())


def _policy_parsers() -> list[Parser]:
    return [p for p, _, _ in builtin_parsers() if p.layer == "policy"]


_PREFIXES = st.sampled_from(
    ["", "{", "}", '{"spans": [', "INFO:nemoguardrails.x:Processing event: {", "RunShieldResponse("]
)
_LINES = st.builds(lambda a, b: a + b, _PREFIXES, st.text(max_size=60))


@pytest.mark.slow  # a hypothesis run of many examples: CI's slow step
@settings(max_examples=40, deadline=None)
@given(st.lists(_LINES, min_size=1, max_size=8))
def test_random_text_keeps_the_line_contract(lines: list[str]) -> None:
    clean = [ln.replace("\n", " ").replace("\r", " ") or "x" for ln in lines]
    for parser in _policy_parsers():
        result = parser.parse(_source(*clean))
        _check_contract(result, len(clean))


def test_nemo_trace_keeps_spans_without_span_id_whatever_else_is_in_the_input() -> None:
    """A record's spans do not depend on the other records of its chunk: spans without
    ``span_id`` were cut at the most ``"span_id":`` keys of any record (here 1)."""
    from parsers.policy.nemo_guardrails_trace.parser import NemoGuardrailsTraceParser

    one = '{"trace_id": "a", "spans": [{"name": "x", "span_id": "s", "start_time": 0, "duration": 1}]}'
    three = (
        '{"trace_id": "b", "spans": [{"name": "interaction", "start_time": 0, "duration": 3},'
        ' {"name": "rail: self check input", "start_time": 0.5, "duration": 1},'
        ' {"name": "guardrails.llm_call", "start_time": 1.5, "duration": 1}]}'
    )
    parser = NemoGuardrailsTraceParser()
    together = parser.parse(_source(one, three))
    alone = parser.parse(_source(three))
    _check_contract(together, 2)
    spans = together.events.filter(pl.col("source_line") == 2)
    assert spans.height == 3
    assert alone.events.height == 3


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["True", "None", "it's", 'say "hi"', "a\\b", "é\u2028", ""])
)
_LITERALS = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(value=st.dictionaries(st.text(max_size=8), _LITERALS, max_size=5))
def test_nemo_payloads_decode_as_literal_eval_does(value: dict[str, object]) -> None:
    """The JSON rewrite of a payload (the fast path) gives what ``ast.literal_eval`` gives, same
    types included, or leaves the payload to it; so does a payload spelled with double quotes."""
    import ast

    from parsers.policy.nemo_guardrails.payload import _value, as_json

    texts = [repr(value), repr(value).replace("'", '"')]
    rewritten = as_json(pl.Series(texts)).to_list()
    for text, json_text in zip(texts, rewritten, strict=True):
        try:
            expected = ast.literal_eval(text)
        except (SyntaxError, ValueError):
            continue  # not a literal: both paths refuse it (decode gives ok False)
        got = _value(text, json_text)
        assert repr(got) == repr(expected), text
