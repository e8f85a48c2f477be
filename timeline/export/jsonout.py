"""The appendix as JSON for machines (schema: docs/appendix-schema.json)."""

from __future__ import annotations

import json
from typing import Any


def render_json(doc: dict[str, Any]) -> str:
    """Indented JSON; ``<``, ``>`` and ``&`` written as ``\\u`` escapes so that no log-derived
    markup appears verbatim even when the file is opened by something that sniffs HTML."""
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"
