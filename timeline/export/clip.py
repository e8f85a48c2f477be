"""Shorten long strings in a document, after redaction (so that no secret is cut in half)."""

from __future__ import annotations

from typing import Any, Final

MAX_STRING: Final = 400
ELLIPSIS: Final = "…"


def clip(value: Any, limit: int = MAX_STRING) -> Any:
    """A deep copy of ``value`` with every string longer than ``limit`` cut and marked."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + ELLIPSIS
    if isinstance(value, dict):
        return {k: clip(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clip(v, limit) for v in value]
    return value
