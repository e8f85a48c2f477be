"""The parser plugin API.

A parser turns the lines of one input into canonical events. It declares:

* ``name``: stable snake_case name (``nginx_combined``);
* ``layer``: the layer most of its events belong to (gateway | policy | retrieval | inference | other);
* ``description``: one line, shown by ``timeline parsers`` and in the docs;
* ``sniff(sample) -> float``: how well a sample of a file fits, from 0.0 (not at all) to 1.0;
* ``parse(source) -> ParseResult``: events plus the lines it rejected or skipped.

Two optional attributes change how the pipeline feeds it:

* ``multiline`` (default False): the parser gets the whole file in one :class:`Source`
  (records span lines). Otherwise it may be called once per chunk of lines.
* ``needs_year`` (default False): timestamps carry no year; ``source.settings.year`` is set.

A multi-line parser is fed in chunks instead of whole files when it can say where a chunk may end:

* ``record_start``: a regex matching the first line of every record; a chunk ends before the last
  such line, the rest is carried to the next chunk;
* ``cut(lines) -> int | None``: the first ``source_line`` that must be carried to the next chunk
  (e.g. the start of a stream whose lines are folded together and that has not finished), or
  None when the whole chunk can be parsed.

Contract (checked by the pipeline): every line of ``source.lines`` is exactly one of
the first line of an event, a line merged into a multi-line record (counted in
``merged_lines``), a reject, or a skipped line. Blank lines are removed and counted as
skipped by the pipeline before ``parse`` unless the parser sets ``keep_blank = True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import polars as pl

LINE_SCHEMA = pl.Schema({"source_line": pl.Int64(), "line": pl.String()})
MARK_SCHEMA = pl.Schema({"source_line": pl.Int64(), "reason": pl.String()})


@dataclass(frozen=True)
class SourceSettings:
    """Per-source settings from the command line and ``timeline.toml``."""

    timezone: str = "UTC"
    year: int | None = None
    year_origin: str = ""
    # Where ``timezone`` came from: "rule" (a ``[[sources]]`` rule matching this file),
    # "configuration" (``[defaults]`` or ``--timezone``), "" (nobody said: UTC). A parser whose
    # format declares its own zone (a spec's ``timezone``) uses it unless a rule names one.
    timezone_origin: str = ""


@dataclass(frozen=True)
class Sample:
    """The head of a file, for sniffing: up to 64 non-blank, decodable lines."""

    name: str
    lines: tuple[str, ...]

    def frame(self) -> pl.DataFrame:
        """The sample lines as a ``source_line`` / ``line`` frame (line numbers are sample positions)."""
        return pl.DataFrame(
            {"source_line": list(range(1, len(self.lines) + 1)), "line": list(self.lines)},
            schema=LINE_SCHEMA,
        )


@dataclass(frozen=True)
class Source:
    """Lines of one input (all of it for multi-line parsers, else one chunk)."""

    name: str
    lines: pl.DataFrame
    settings: SourceSettings = field(default_factory=SourceSettings)


@dataclass
class ParseResult:
    """What a parser returns: events (canonical columns, ``source_line`` required) and marks."""

    events: pl.DataFrame
    rejects: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MARK_SCHEMA))
    skipped: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MARK_SCHEMA))
    merged_lines: int = 0


@runtime_checkable
class Parser(Protocol):
    """What every parser plugin provides."""

    name: str
    layer: str
    description: str

    def sniff(self, sample: Sample) -> float:
        """Score in [0, 1]: how well ``sample`` fits this format."""
        ...

    def parse(self, source: Source) -> ParseResult:
        """Turn ``source`` into events plus rejected and skipped lines."""
        ...


def is_multiline(parser: Parser) -> bool:
    """True when ``parser`` must see the whole file at once."""
    return bool(getattr(parser, "multiline", False))


def needs_year(parser: Parser) -> bool:
    """True when ``parser``'s timestamps carry no year."""
    return bool(getattr(parser, "needs_year", False))


def keeps_blank(parser: Parser) -> bool:
    """True when ``parser`` wants blank lines passed to it."""
    return bool(getattr(parser, "keep_blank", False))


def marks(lines: pl.DataFrame, reason: str | pl.Expr) -> pl.DataFrame:
    """Build a rejects/skipped frame for ``lines`` with one reason (text or expression)."""
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    return lines.select(pl.col("source_line"), reason_expr.cast(pl.String).alias("reason"))
