"""Gateway parsers against the public samples in ../shared/real-logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_real_log


def test_envoy_json_real_log(real_logs: Path) -> None:
    run = assert_real_log(real_logs, "gateway_envoy_json.log", "envoy_json", 1.0)
    ev = run.events
    tcp = ev.filter(ev["source_line"] == 1).row(0, named=True)
    assert tcp["upstream"] == "34.64.144.150:27017"
    assert tcp["request_id"] is None
    assert tcp["duration_ms"] == 665017.0
    http = ev.filter(ev["source_line"] == 7).row(0, named=True)
    assert http["status_code"] == 304
    assert http["request_id"] == "4b7b3304-d531-417b-b4e3-b18f3e8328ff"
    assert http["client_address"] == "211.244.65.10"


def test_litellm_real_log(real_logs: Path) -> None:
    run = assert_real_log(real_logs, "gateway_litellm_spend_log.json", "litellm_spend_log", 1.0)
    assert run.account.events == 1
    row = run.events.row(0, named=True)
    assert row["request_id"].startswith("chatcmpl-2283081b")
    assert {"kind": "chatcmpl_id", "value": row["request_id"]} in row["ids"]
    assert row["ts_assumed_tz"] is True
    assert (row["input_tokens"], row["output_tokens"]) == (10, 20)
    assert row["duration_ms"] == pytest.approx(4.583)
    assert row["layer"] == "gateway" and row["event_type"] == "http.request"
    assert "cache_hit" not in dict(row["attributes"])  # the string "None" means null


def test_envoy_text_real_log(real_logs: Path) -> None:
    """Lines 6-7 are Docker JSON envelopes: the envelope stage hands their inner line over."""
    run = assert_real_log(real_logs, "gateway_envoy_text.log", "envoy_text", 1.0)
    ev = run.events
    assert run.account.lines_read == 7 and ev.height == 7
    tcp = ev.filter(ev["source_line"] == 1).row(0, named=True)
    assert tcp["http_method"] is None and tcp["upstream"] == "172.27.0.2:80"
    nr = ev.filter(ev["source_line"] == 3).row(0, named=True)
    assert (nr["status"], nr["error_type"]) == ("error", "NR")
    ambassador = ev.filter(ev["source_line"] == 5).row(0, named=True)
    assert ambassador["request_id"] == "b7ba9b4c-f4b7-47c2-9718-c23aa1465f49"
    wrapped_tcp = ev.filter(ev["source_line"] == 7).row(0, named=True)
    assert (wrapped_tcp["status"], wrapped_tcp["error_type"]) == ("error", "UF,URX")
