"""Built-in inference-layer parsers."""

from __future__ import annotations

from parsers.inference.ollama import OllamaParser
from parsers.inference.openai_http import OpenAIHttpParser
from parsers.inference.tgi import TgiJsonParser, TgiTextParser
from parsers.inference.vllm import VllmParser
from timeline.parse.api import Parser


def parsers() -> list[tuple[Parser, str]]:
    """The inference parsers with their origins."""
    return [
        (VllmParser(), "built-in parsers/inference/vllm.py"),
        (TgiTextParser(), "built-in parsers/inference/tgi.py"),
        (TgiJsonParser(), "built-in parsers/inference/tgi.py"),
        (OllamaParser(), "built-in parsers/inference/ollama.py"),
        (OpenAIHttpParser(), "built-in parsers/inference/openai_http.py"),
    ]
