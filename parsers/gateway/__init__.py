"""Built-in gateway-layer parsers."""

from __future__ import annotations

from parsers._spec import spec_parser
from timeline.parse.api import Parser


def parsers() -> list[tuple[Parser, str]]:
    """The gateway parsers with their origins."""
    return [spec_parser("nginx_combined")]
