"""Built-in parser plugins, registered explicitly: one subpackage per layer.

Each subpackage's ``parsers()`` returns ``(parser, origin)`` pairs; declarative parsers are
TOML files in ``parsers/specs/``, code parsers are modules of the subpackage.
"""

from __future__ import annotations

from parsers import gateway, inference, otel, policy, retrieval
from timeline.parse.api import Parser


def builtin_parsers() -> list[tuple[Parser, str]]:
    """Every built-in parser with its origin, layer by layer."""
    found: list[tuple[Parser, str]] = []
    for group in (gateway, policy, retrieval, inference, otel):
        found.extend(group.parsers())
    return found
