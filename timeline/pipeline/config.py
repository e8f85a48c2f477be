"""``timeline.toml``: per-source settings (parser, time zone, year) and extra spec files.

```toml
[defaults]
timezone = "UTC"        # zone for timestamps without an offset
year = 2025             # year for formats without one (vLLM, syslog)

[[sources]]
match = "gateway/*.log*"   # glob against the file's path relative to this file's folder
parser = "nginx_combined"   # (or against its base name, when the glob has no "/")
timezone = "Europe/Berlin"

specs = ["specs/my_app.toml"]   # user parser specs, relative to this file
```

``match`` patterns mean the same wherever the command runs: they are matched against the path of
each input file relative to the folder of this ``timeline.toml`` (``--parser GLOB=NAME`` against
the path relative to the input argument that named the file). A :class:`BuildConfig` made in code
(no file) matches like ``--parser``.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from timeline.correlation.config import CORRELATION, CorrelationConfig, correlation_from_values
from timeline.errors import ConfigError
from timeline.parserkit.api import SourceSettings
from timeline.parserkit.timestamps import check_timezone
from timeline.tomlmodel import (
    Checked,
    Int,
    Key,
    List,
    Model,
    PathKind,
    Problems,
    Str,
    Table,
    Tables,
    fail,
    load_toml,
)

CONFIG_NAME = "timeline.toml"
_TIMEZONE: Final = Key(
    "timezone", Checked(Str(), check_timezone), expected="an IANA time zone such as 'Europe/Berlin'"
)
_YEAR: Final = Key("year", Int(1970, 2200))
DEFAULTS: Final = Model(_TIMEZONE, _YEAR)
SOURCE: Final = Model(
    Key("match", Str(nonempty=True), required=True, expected="a glob such as 'gateway/*.log'"),
    Key("parser", Str(), expected="a parser name (see `timeline parsers`)"),
    _TIMEZONE,
    _YEAR,
)
CONFIG: Final = Model(
    Key("defaults", Table(DEFAULTS)),
    Key("sources", Tables(SOURCE), default=()),
    Key("specs", List(PathKind("a parser spec file")), default=()),
    Key("correlation", Table(CORRELATION)),
)
"""The keys of ``timeline.toml`` (see the module docstring)."""


@dataclass(frozen=True)
class SourceRule:
    """Settings for the sources whose path matches ``match``."""

    match: str
    parser: str | None = None
    timezone: str | None = None
    year: int | None = None

    def matches(self, path: str) -> bool:
        """Whether the rule's glob matches ``path`` (relative to the config's folder), or its base name."""
        return glob_matches(self.match, path)


def glob_matches(pattern: str, path: str) -> bool:
    """``pattern`` against ``path``, or against its base name when the pattern has no ``/``."""
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return "/" not in pattern and fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)


@dataclass(frozen=True)
class BuildConfig:
    """Everything ``timeline.toml`` and the command line say about sources."""

    timezone: str | None = None  # None: nobody set one (UTC, a spec's own zone wins)
    year: int | None = None
    rules: tuple[SourceRule, ...] = ()
    specs: tuple[Path, ...] = ()
    path: str | None = None
    correlation: CorrelationConfig = field(default_factory=CorrelationConfig)

    def rule_path(self, absolute: str, relative: str) -> str:
        """The path rules match for a file: relative to this config's folder (``relative``, the
        path below its input argument, for a config made in code or for stdin)."""
        if self.path is None or not absolute or absolute == "-":
            return relative
        base = os.path.dirname(os.path.abspath(self.path))  # noqa: PTH100, PTH120 (lexical)
        return Path(os.path.relpath(absolute, base)).as_posix()

    def rule_for(self, path: str) -> SourceRule | None:
        """The first rule that names a parser and matches ``path`` (see :meth:`rule_path`)."""
        return next((r for r in self.rules if r.parser and r.matches(path)), None)

    def parser_for(self, path: str) -> str | None:
        """The parser named for this source by the first matching rule that names one."""
        rule = self.rule_for(path)
        return rule.parser if rule is not None else None

    def settings_for(self, path: str) -> SourceSettings:
        """Time zone and year for this source (first matching rule wins, then defaults)."""
        tz, year = self.timezone, self.year
        origin = "configuration" if tz is not None else ""
        for rule in self.rules:
            if rule.matches(path):
                if rule.timezone:
                    tz, origin = rule.timezone, "rule"
                year = rule.year if rule.year is not None else year
                break
        return SourceSettings(
            timezone=tz or "UTC",
            year=year,
            year_origin="configuration" if year is not None else "",
            timezone_origin=origin,
        )


def load_config(path: Path) -> BuildConfig:
    """Read ``timeline.toml``; raise ``ConfigError`` listing every problem at once."""
    problems = Problems()
    root = load_toml(path, problems)
    if root is None:
        fail(str(path), problems, ConfigError)
    return config_from_table(root, path)


def config_from_table(root: Any, path: Path) -> BuildConfig:
    """Validate the parsed ``timeline.toml`` at ``path``; raise ``ConfigError`` listing every problem."""
    problems = Problems()
    values = CONFIG.validate(root, problems)
    defaults = values["defaults"]
    rules = tuple(
        SourceRule(src["match"], src["parser"], src["timezone"], src["year"])
        for src in values["sources"]
        if src["match"] is not None
    )
    correlation = correlation_from_values(values["correlation"])
    problems.raise_if_any(str(path), ConfigError)
    return BuildConfig(
        timezone=defaults["timezone"] or None,
        year=defaults["year"],
        rules=rules,
        specs=tuple(path.parent / s for s in values["specs"]),
        path=str(path),
        correlation=correlation,
    )
