"""Inference parsers against the real samples in ../shared/real-logs."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.helpers import assert_real_log


def test_vllm_real_log(real_logs: Path) -> None:
    run = assert_real_log(real_logs, "inference_vllm_server.log", "vllm")
    events = run.events
    assert run.account.lines_parsed == run.account.lines_read  # every line, KServe ones too
    kinds = events.get_column("event_type").value_counts().rows()
    assert ("server.metrics", 5) in kinds
    assert ("http.response", 8) in kinds
    received = events.filter(pl.col("event_type") == "inference.request").filter(
        pl.col("prompt_text").is_not_null()
    )
    assert received.height == 3
    kserve = events.filter(pl.col("source_line") == 23).row(0, named=True)
    assert kserve["ts_raw"] == "2025-05-14 17:45:10.901"
    assert kserve["request_id"] == "chatcmpl-017ee87d69ed40e9b67198e5c5e0ee7d"
    access = events.filter(pl.col("event_type") == "http.response")
    # plain uvicorn lines print no time: they inherit the nearest earlier line's, and say so
    assert access.get_column("ts_inherited").sum() == 7
    assert access.get_column("ts_source").null_count() == 0


def test_tgi_text_real_log(real_logs: Path) -> None:
    run = assert_real_log(real_logs, "inference_tgi_text.log", "tgi_text")
    assert run.account.lines_read == 12
    assert run.account.events == 4
    prompt = run.events.filter(pl.col("event_type") == "inference.request").row(0, named=True)
    assert prompt["prompt_text"].endswith("<|im_start|>assistant\n")  # the final blank line
    assert prompt["prompt_text"].count("\n") == 5


def test_ollama_real_log(real_logs: Path) -> None:
    run = assert_real_log(real_logs, "inference_ollama_server.log", "ollama")
    gin = run.events.filter(pl.col("event_type") == "http.response")
    assert gin.height == 9
    assert gin.get_column("duration_ms").to_list()[-3:] == [
        35684.791792,
        51787.708541,
        16207.636833,
    ]
    assert run.account.skipped_by_reason["gin debug banner"] == 8
