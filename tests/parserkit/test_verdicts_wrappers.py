"""timeline.parserkit.verdicts and .wrappers: policy verdicts and a response's wrapper."""

from __future__ import annotations

import polars as pl

from tests.parserkit.helpers import apply, one
from timeline.parserkit.verdicts import (
    no_categories,
    outcome_columns,
    stage,
    verdict_severity,
    verdict_status,
    verdict_word,
)
from timeline.parserkit.wrappers import first_key, first_path, wrapped_object, wrapper_columns

X = pl.col("x")


def test_verdict_words_status_severity() -> None:
    words = [" Blocked", "GUARDRAIL_INTERVENED", "pass", "warn", "anonymized", "maybe", None]
    verdicts = apply(verdict_word(X), words)
    assert verdicts == ["block", "block", "allow", "flag", "redact", None, None]
    assert apply(verdict_status(X), verdicts) == [
        "blocked",
        "blocked",
        "ok",
        "ok",
        "ok",
        None,
        None,
    ]
    assert apply(verdict_severity(X), verdicts) == [
        "WARN",
        "WARN",
        "INFO",
        "WARN",
        "INFO",
        "INFO",
        "INFO",
    ]
    assert apply(stage(X), ["Prompt", "completion", "other", None]) == [
        "input",
        "output",
        None,
        None,
    ]
    assert one(no_categories(), "x") == []


def test_outcome_columns() -> None:
    frame = pl.DataFrame(
        {
            "error_type": ["RateLimitError", "bad", None, None],
            "message": [None, None, None, None],
            "verdict": [None, None, "block", "allow"],
        }
    )
    got = frame.select(outcome_columns()).rows()
    assert got == [
        ("rate_limited", "ERROR"),
        ("error", "ERROR"),
        ("blocked", "WARN"),
        ("ok", "INFO"),
    ]


def test_wrapper() -> None:
    line = (
        '{"ts": 1740910504, "requestId": "r-1", "x-request-id": "ignored", "stage": "pre_call",'
        ' "host": "-", "result": "text", "response": {"id": "x"}}'
    )
    cols = wrapper_columns(X, "UTC")
    got = one(pl.struct([e.alias(k) for k, e in cols.items()]), line)
    assert got["ts_raw"] == "1740910504"
    assert got["ts_source"].isoformat() == "2025-03-02T10:15:04+00:00"
    assert got["ts_assumed_tz"] is False
    assert (got["request_id"], got["policy_stage"], got["host"]) == ("r-1", "input", None)
    assert one(first_path(X, ["$.nope", "$.response.id"]), line) == "x"
    assert one(first_key(X, ["x-request-id"]), line) == "ignored"
    assert one(wrapped_object(X, ["result", "response"]), line) == '{"id":"x"}'
    assert one(wrapped_object(X, ["missing"]), '{"a": 1}') == '{"a": 1}'
