"""Load a built-in declarative spec from ``parsers/specs/``."""

from __future__ import annotations

from pathlib import Path

from timeline.parse.api import Parser
from timeline.spec.parser import SpecParser

SPEC_DIR = Path(__file__).parent / "specs"


def spec_parser(name: str) -> tuple[Parser, str]:
    """The built-in spec ``parsers/specs/<name>.toml`` and its origin text."""
    return SpecParser.from_file(
        SPEC_DIR / f"{name}.toml"
    ), f"built-in spec parsers/specs/{name}.toml"
