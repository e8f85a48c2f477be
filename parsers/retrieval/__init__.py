"""Built-in retrieval-layer parsers."""

from __future__ import annotations

from timeline.parse.api import Parser


def parsers() -> list[tuple[Parser, str]]:
    """The retrieval parsers with their origins."""
    return []
