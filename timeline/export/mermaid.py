"""Request chains as Mermaid sequence diagrams; every log-derived character made safe.

Participants are the fixed layer names. Message text keeps letters, digits and a few safe
punctuation marks; every other character becomes a Mermaid entity code (``#60;``), so that log
text can neither end the diagram, inject directives nor smuggle HTML.
"""

from __future__ import annotations

import re
from typing import Any, Final

from timeline.export.text import number
from timeline.export.waterfall import coarse_precision as _precision

_SAFE: Final = re.compile(r"[A-Za-z0-9 .,:/@=+_-]")
_ALIASES: Final = {
    "gateway": "G",
    "policy": "P",
    "retrieval": "R",
    "inference": "I",
    "other": "O",
}
MAX_TEXT: Final = 120


def mermaid_text(value: Any) -> str:
    """Text safe inside a Mermaid message (entity codes for anything unusual)."""
    text = " ".join(str(value).split())[:MAX_TEXT]
    return "".join(ch if _SAFE.fullmatch(ch) else f"#{ord(ch)};" for ch in text)


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value if v is not None)
    return str(value)


def sequence(exemplar: dict[str, Any]) -> list[str]:
    """The lines of a ``mermaid`` code block for one exemplar chain.

    Null-safe: a step without a time says ``no time``, missing fields are left out; a stamp coarser than
    a millisecond says so (its order may be off by that much).
    """
    events = [e for e in exemplar.get("events") or [] if isinstance(e, dict)]
    layers = [layer for layer in _ALIASES if any(e.get("layer") == layer for e in events)]
    lines = ["sequenceDiagram"]
    lines += [f"    participant {_ALIASES[layer]} as {layer}" for layer in layers]
    previous = "G" if "gateway" in layers else (_ALIASES[layers[0]] if layers else "G")
    for event in events:
        here = _ALIASES.get(str(event.get("layer")), "O")
        offset = event.get("offset_ms")
        when = f"{offset:+.1f}ms" if isinstance(offset, int | float) else "no time"
        label = f"{when} {event.get('event_type') or ''} {event.get('status') or ''}".strip()
        details = event.get("details") or {}
        duration = details.get("duration_ms")
        if isinstance(duration, int | float):
            label += f" took {duration:g}ms"
        for key in ("status_code", "verdict", "model_revision", "index_name", "error_type"):
            if details.get(key) is not None:
                label += f" {key}={_value(details[key])}"
        coarse = _precision(event)
        if coarse is not None:
            label += f" stamp to {coarse:g}ms"
        clock = event.get("clock_offset_ms")
        if isinstance(clock, int | float) and clock:
            label += f" clock {clock:+.1f}ms"
        heuristic = event.get("correlation_method") == "heuristic"
        if heuristic:
            label += f" heuristic link {number(event.get('correlation_confidence'), '.2f')}"
        arrow = "-->>" if heuristic else "->>"
        if here == previous:
            lines.append(f"    Note over {here}: {mermaid_text(label)}")
        else:
            lines.append(f"    {previous}{arrow}{here}: {mermaid_text(label)}")
        previous = here
    return lines
