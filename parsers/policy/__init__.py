"""Built-in policy-layer parsers."""

from __future__ import annotations

from parsers.policy.azure_content_safety import AzureContentSafetyParser
from parsers.policy.bedrock_guardrails import BedrockGuardrailsParser
from parsers.policy.llama_guard import LlamaGuardParser
from parsers.policy.llama_stack_shield import LlamaStackShieldParser
from parsers.policy.nemo_guardrails import NemoGuardrailsParser
from parsers.policy.nemo_guardrails_trace import NemoGuardrailsTraceParser
from parsers.policy.openai_moderation import OpenAIModerationParser
from timeline.parse.api import Parser

_ORIGIN = "built-in parsers.policy"


def parsers() -> list[tuple[Parser, str]]:
    """The policy parsers with their origins."""
    found: list[Parser] = [
        OpenAIModerationParser(),
        AzureContentSafetyParser(),
        BedrockGuardrailsParser(),
        LlamaGuardParser(),
        LlamaStackShieldParser(),
        NemoGuardrailsParser(),
        NemoGuardrailsTraceParser(),
    ]
    return [(p, f"{_ORIGIN}.{type(p).__module__.rsplit('.', 1)[-1]}") for p in found]
