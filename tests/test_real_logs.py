"""Every file of ../shared/real-logs: detection picks the right parser and >= 95% of lines parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_real_log, parsed_fraction

EXPECTED = {
    "crosslayer_otlp_file_exporter_traces.jsonl": "otlp_json",
    "gateway_envoy_json.log": "envoy_json",
    "gateway_envoy_text.log": "envoy_text",
    "gateway_litellm_spend_log.json": "litellm_spend_log",
    "gateway_nginx_combined.log": "nginx_combined",
    "inference_ollama_server.log": "ollama",
    "inference_tgi_text.log": "tgi_text",
    "inference_vllm_server.log": "vllm",
    "policy_llama_stack_shield_responses.log": "llama_stack_shield",
    "policy_nemo_guardrails_verbose.log": "nemo_guardrails",
    "policy_openai_moderation_response.json": "openai_moderation",
    "retrieval_elasticsearch_search_slowlog_json.log": "elasticsearch_slowlog",
    "retrieval_qdrant_server.log": "qdrant_log",
}


def test_every_real_log_is_listed(real_logs: Path) -> None:
    present = {p.name for p in real_logs.iterdir() if p.suffix != ".md"}
    assert present == set(EXPECTED)


@pytest.mark.parametrize(("filename", "parser"), sorted(EXPECTED.items()))
def test_real_log_detected_and_parsed(real_logs: Path, filename: str, parser: str) -> None:
    run = assert_real_log(real_logs, filename, parser)
    assert parsed_fraction(run) >= 0.95
