"""Attribute bags that remember which keys were mapped, and keep content out of ``attributes``."""

from __future__ import annotations

import re
from typing import Any, Final

from timeline.parserkit.values import json_text

# Attributes that carry prompts, completions, documents or tool payloads. They go to
# prompt_text / completion_text (redacted by the pipeline) or nowhere, never to ``attributes``.
CONTENT: Final = re.compile(
    r"^(?:input\.value|output\.value|input\.mime_type|output\.mime_type"
    r"|llm\.input_messages\..*|llm\.output_messages\..*|llm\.prompts(?:\..*)?"
    r"|llm\.prompt_template\.(?:template|variables)"
    r"|llm\.tools\..*|llm\.invocation_parameters"
    r"|gen_ai\.prompt(?:\..*)?|gen_ai\.completion(?:\..*)?"
    r"|gen_ai\.(?:input|output)\.messages|gen_ai\.system_instructions"
    r"|gen_ai\.tool\.call\.(?:arguments|result)|gen_ai\.tool\.definitions"
    r"|embedding\.embeddings\..*|embedding\.text"
    r"|retrieval\.documents\..*|reranker\.(?:input|output)_documents\..*|reranker\.query"
    r"|tool\.parameters|tool_call\..*|message\.content|message\.contents\..*"
    r"|guardrails\.(?:input|output)\.(?:text|content))$"
)


class Bag:
    """Attributes of one span or log record; ``get`` marks keys as mapped."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.used: set[str] = set()

    def get(self, *keys: str) -> Any:
        """The first present, non-null value among ``keys`` (every key found is marked used)."""
        found: Any = None
        for key in keys:
            if key in self.values:
                self.used.add(key)
                if found is None and self.values[key] is not None:
                    found = self.values[key]
        return found

    def peek(self, *keys: str) -> Any:
        """Like :meth:`get` without marking anything as used."""
        for key in keys:
            value = self.values.get(key)
            if value is not None:
                return value
        return None

    def indexed(self, prefix: str, suffix: str) -> list[tuple[int, Any]]:
        """``prefix.N.suffix`` values sorted by N (OpenInference flattened lists)."""
        pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.{re.escape(suffix)}$")
        out = []
        for key, value in self.values.items():
            match = pattern.match(key)
            if match:
                self.used.add(key)
                out.append((int(match.group(1)), value))
        return sorted(out, key=lambda item: item[0])

    def rest(self, prefix: str = "") -> list[dict[str, str]]:
        """Unmapped, non-content attributes as key/value text pairs (``prefix`` added to keys)."""
        out = []
        for key, value in self.values.items():
            if key in self.used or CONTENT.match(key):
                continue
            shown = json_text(value)
            if shown is not None:
                out.append({"key": prefix + key, "value": shown})
        return out
