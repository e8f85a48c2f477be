"""The parser registry: built-ins (listed explicitly in ``parsers``), entry points, user specs."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Final

from parsers import builtin_parsers
from timeline.errors import RegistryError
from timeline.parserkit.api import Parser
from timeline.parserkit.spec.parser import SpecParser
from timeline.schema import LAYERS

ENTRY_POINT_GROUP: Final = "timeline.parsers"
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


class Registry:
    """Parsers by name, each with the place it came from (for error messages)."""

    def __init__(self) -> None:
        self._parsers: dict[str, Parser] = {}
        self._origins: dict[str, str] = {}
        self._folders: dict[str, Path] = {}

    def register(self, parser: Parser, origin: str, folder: Path | None = None) -> None:
        """Add ``parser``; a second parser with the same name is an error naming both origins.

        ``folder`` is where the parser's golden pairs live (``folder/golden/``), when it has one."""
        for attr in ("name", "layer", "description"):
            if not isinstance(getattr(parser, attr, None), str):
                raise RegistryError(f"parser from {origin} has no string attribute {attr!r}")
        if not callable(getattr(parser, "sniff", None)) or not callable(
            getattr(parser, "parse", None)
        ):
            raise RegistryError(
                f"parser {parser.name!r} from {origin} must have sniff() and parse() methods"
            )
        if not _SNAKE.match(parser.name):
            raise RegistryError(f"parser name {parser.name!r} from {origin} is not snake_case")
        if parser.layer not in LAYERS:
            raise RegistryError(
                f"parser {parser.name!r} from {origin} has layer {parser.layer!r}; expected one of {', '.join(LAYERS)}"
            )
        if parser.name in self._parsers:
            raise RegistryError(
                f"parser name {parser.name!r} is registered twice: by {self._origins[parser.name]} and by {origin}"
            )
        self._parsers[parser.name] = parser
        self._origins[parser.name] = origin
        if folder is not None:
            self._folders[parser.name] = folder

    def get(self, name: str) -> Parser:
        """The parser called ``name``; an unknown name is an error listing the close ones."""
        try:
            return self._parsers[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._parsers), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise RegistryError(f"unknown parser {name!r}{hint} (see `timeline parsers`)") from None

    def origin(self, name: str) -> str:
        """Where the parser called ``name`` came from."""
        return self._origins[name]

    def folder(self, name: str) -> Path | None:
        """The folder of the parser called ``name`` (built-ins and specs), if it has one."""
        return self._folders.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._parsers

    def __iter__(self) -> Iterator[Parser]:
        return iter(sorted(self._parsers.values(), key=lambda p: (LAYERS.index(p.layer), p.name)))

    def __len__(self) -> int:
        return len(self._parsers)


def _coerce(obj: object, origin: str) -> list[Parser]:
    """An entry point may load a parser, a parser class, or a callable returning parsers."""
    if isinstance(obj, type):
        obj = obj()
    if isinstance(obj, Parser):
        return [obj]
    if callable(obj):
        produced = obj()
        items = list(produced) if isinstance(produced, list | tuple) else [produced]
        if items and all(isinstance(p, Parser) for p in items):
            return items
    raise RegistryError(
        f"{origin} does not provide a parser (name, layer, description, sniff, parse)"
    )


def default_registry(specs: Iterable[Path] = (), plugins: bool = True) -> Registry:
    """Built-ins, then third-party entry points, then the user's spec files."""
    registry = Registry()
    for parser, origin, folder in builtin_parsers():
        registry.register(parser, origin, folder)
    if plugins:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            origin = f"entry point {ep.name!r} ({ep.value})"
            try:
                loaded = ep.load()
            except Exception as exc:  # a broken plugin must not hide the others' names
                raise RegistryError(f"cannot load {origin}: {exc}") from exc
            for parser in _coerce(loaded, origin):
                registry.register(parser, origin)
    for path in specs:
        registry.register(SpecParser.from_file(path), f"spec {str(path)!r}", path.parent)
    return registry
