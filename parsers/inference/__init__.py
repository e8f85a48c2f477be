"""Built-in inference-layer parsers."""

from __future__ import annotations

from timeline.parse.api import Parser


def parsers() -> list[tuple[Parser, str]]:
    """The inference parsers with their origins."""
    return []
