"""Built-in parser plugins: one folder per parser, grouped by layer.

``parsers/<group>/<name>/`` holds either ``parser.py`` (a code parser, listed once in
:data:`CODE_PARSERS` below) or ``spec.toml`` (a declarative parser, registered by being there),
its doc page ``README.md`` and its golden pairs ``golden/<case>.<ext>`` beside
``golden/<case>.expected.jsonl``. ``<group>`` is the parser's layer, or ``otel`` for the
cross-layer OpenTelemetry parsers. Code shared by a family of parsers lives in
``parsers/<group>/_<family>.py``; code shared more widely belongs in :mod:`timeline.parserkit`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from parsers.gateway.aws_alb.parser import AwsAlbParser
from parsers.gateway.azure_openai_diagnostics.parser import AzureOpenAIDiagnosticsParser
from parsers.gateway.envoy_json.parser import EnvoyJsonParser
from parsers.gateway.envoy_text.parser import EnvoyTextParser
from parsers.gateway.litellm_proxy.parser import LiteLLMProxyParser
from parsers.gateway.litellm_spend_log.parser import LiteLLMSpendLogParser
from parsers.gateway.nginx_combined.parser import NginxCombinedParser
from parsers.gateway.traefik_json.parser import TraefikJsonParser
from parsers.inference.llama_cpp.parser import LlamaCppParser
from parsers.inference.ollama.parser import OllamaParser
from parsers.inference.openai_http.parser import OpenAIHttpParser
from parsers.inference.sglang.parser import SglangParser
from parsers.inference.tgi_json.parser import TgiJsonParser
from parsers.inference.tgi_text.parser import TgiTextParser
from parsers.inference.triton.parser import TritonParser
from parsers.inference.vllm.parser import VllmParser
from parsers.otel.otlp_json.parser import OtlpJsonParser
from parsers.policy.azure_content_safety.parser import AzureContentSafetyParser
from parsers.policy.bedrock_guardrails.parser import BedrockGuardrailsParser
from parsers.policy.llama_guard.parser import LlamaGuardParser
from parsers.policy.llama_stack_shield.parser import LlamaStackShieldParser
from parsers.policy.nemo_guardrails.parser import NemoGuardrailsParser
from parsers.policy.nemo_guardrails_trace.parser import NemoGuardrailsTraceParser
from parsers.policy.openai_moderation.parser import OpenAIModerationParser
from parsers.retrieval.elasticsearch_slowlog.parser import ElasticsearchSlowlogParser
from parsers.retrieval.milvus_log.parser import MilvusParser
from parsers.retrieval.qdrant_log.parser import QdrantParser
from timeline.parserkit.api import Parser
from timeline.parserkit.spec.parser import SpecParser

ROOT: Final = Path(__file__).resolve().parent
GROUPS: Final = ("gateway", "policy", "retrieval", "inference", "otel")

# The registry of code parsers: one line per parser. Specs need no line.
CODE_PARSERS: Final[tuple[type[Parser], ...]] = (
    NginxCombinedParser,
    EnvoyTextParser,
    EnvoyJsonParser,
    LiteLLMSpendLogParser,
    LiteLLMProxyParser,
    TraefikJsonParser,
    AwsAlbParser,
    AzureOpenAIDiagnosticsParser,
    OpenAIModerationParser,
    AzureContentSafetyParser,
    BedrockGuardrailsParser,
    LlamaGuardParser,
    LlamaStackShieldParser,
    NemoGuardrailsParser,
    NemoGuardrailsTraceParser,
    ElasticsearchSlowlogParser,
    QdrantParser,
    MilvusParser,
    VllmParser,
    TgiTextParser,
    TgiJsonParser,
    OllamaParser,
    TritonParser,
    SglangParser,
    LlamaCppParser,
    OpenAIHttpParser,
    OtlpJsonParser,
)


def folder_of(parser_class: type[object]) -> Path:
    """The folder of a built-in code parser (the one holding its ``parser.py``)."""
    module = parser_class.__module__
    if not module.startswith("parsers.") or not module.endswith(".parser"):
        raise ValueError(
            f"{module} is not a built-in parser module (parsers.<group>.<name>.parser)"
        )
    return ROOT.joinpath(*module.split(".")[1:-1])


def spec_files() -> list[Path]:
    """Every built-in spec: ``parsers/<group>/<name>/spec.toml``, in path order."""
    return sorted(ROOT.glob("*/*/spec.toml"))


def origin_of(folder: Path) -> str:
    """How a built-in parser's origin is shown: ``built-in parsers/<group>/<name>``."""
    return f"built-in parsers/{folder.relative_to(ROOT).as_posix()}"


def builtin_parsers() -> list[tuple[Parser, str, Path]]:
    """Every built-in parser with its origin text and its folder: code parsers, then specs."""
    found: list[tuple[Parser, str, Path]] = []
    for parser_class in CODE_PARSERS:
        folder = folder_of(parser_class)
        found.append((parser_class(), origin_of(folder), folder))
    for spec in spec_files():
        found.append((SpecParser.from_file(spec), origin_of(spec.parent), spec.parent))
    return found
