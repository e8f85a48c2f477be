"""Request chains as Mermaid sequence diagrams; every log-derived character made safe.

Participants are the fixed layer names. Message text keeps letters, digits and a few safe
punctuation marks; every other character becomes a Mermaid entity code (``#60;``), so that log
text can neither end the diagram, inject directives nor smuggle HTML.
"""

from __future__ import annotations

import re
from typing import Any, Final

from timeline.export.text import number

_SAFE: Final = re.compile(r"[A-Za-z0-9 .,:/@=+_-]")
_ALIASES: Final = {
    "gateway": "G",
    "policy": "P",
    "retrieval": "R",
    "inference": "I",
    "other": "O",
}
MAX_TEXT: Final = 90


def mermaid_text(value: Any) -> str:
    """Text safe inside a Mermaid message (entity codes for anything unusual)."""
    text = " ".join(str(value).split())[:MAX_TEXT]
    return "".join(ch if _SAFE.fullmatch(ch) else f"#{ord(ch)};" for ch in text)


def sequence(exemplar: dict[str, Any]) -> list[str]:
    """The lines of a ``mermaid`` code block for one exemplar chain."""
    layers = [layer for layer in _ALIASES if any(e["layer"] == layer for e in exemplar["events"])]
    lines = ["sequenceDiagram"]
    lines += [f"    participant {_ALIASES[layer]} as {layer}" for layer in layers]
    previous = "G" if "gateway" in layers else (_ALIASES[layers[0]] if layers else "G")
    for event in exemplar["events"]:
        here = _ALIASES.get(event["layer"], "O")
        offset = event["offset_ms"]
        when = "?" if offset is None else f"{offset:+.1f}ms"
        label = f"{when} {event['event_type'] or ''} {event['status'] or ''}".strip()
        details = event["details"]
        for key in ("status_code", "verdict", "model_revision", "index_name", "error_type"):
            if key in details:
                label += f" {key}={details[key]}"
        if event["clock_offset_ms"]:
            label += f" clock {event['clock_offset_ms']:+.1f}ms"
        heuristic = event["correlation_method"] == "heuristic"
        if heuristic:
            label += f" heuristic link {number(event['correlation_confidence'], '.2f')}"
        arrow = "-->>" if heuristic else "->>"
        if here == previous:
            lines.append(f"    Note over {here}: {mermaid_text(label)}")
        else:
            lines.append(f"    {previous}{arrow}{here}: {mermaid_text(label)}")
        previous = here
    return lines
