"""Built-in parser plugins, registered explicitly here.

Declarative ones live in ``parsers/specs/*.toml``; code parsers are modules of this package.
Each entry is ``(parser, origin)``; the origin names it in error messages.
"""

from __future__ import annotations

from pathlib import Path

from timeline.parse.api import Parser
from timeline.spec.parser import SpecParser

SPEC_DIR = Path(__file__).parent / "specs"

BUILTIN_SPECS: tuple[str, ...] = ("nginx_combined",)


def builtin_parsers() -> list[tuple[Parser, str]]:
    """Every built-in parser with its origin."""
    found: list[tuple[Parser, str]] = []
    for name in BUILTIN_SPECS:
        path = SPEC_DIR / f"{name}.toml"
        found.append((SpecParser.from_file(path), f"built-in spec parsers/specs/{name}.toml"))
    return found
