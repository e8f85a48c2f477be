"""Built-in policy-layer parsers."""

from __future__ import annotations

from timeline.parse.api import Parser


def parsers() -> list[tuple[Parser, str]]:
    """The policy parsers with their origins."""
    return []
