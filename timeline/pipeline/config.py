"""``timeline.toml``: per-source settings (parser, time zone, year) and extra spec files.

```toml
[defaults]
timezone = "UTC"        # zone for timestamps without an offset
year = 2025             # year for formats without one (vLLM, syslog)

[[sources]]
match = "gateway/*.log*"   # glob against the file's path as shown (or its base name)
parser = "nginx_combined"
timezone = "Europe/Berlin"

specs = ["specs/my_app.toml"]   # user parser specs, relative to this file
```
"""

from __future__ import annotations

import fnmatch
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

    def matches(self, display: str) -> bool:
        """Whether the rule's glob matches the path as shown, or its base name."""
        return glob_matches(self.match, display)


def glob_matches(pattern: str, display: str) -> bool:
    """``pattern`` against the shown path, or against its base name when it has no ``/``."""
    if fnmatch.fnmatchcase(display, pattern):
        return True
    return "/" not in pattern and fnmatch.fnmatchcase(display.rsplit("/", 1)[-1], pattern)


@dataclass(frozen=True)
class BuildConfig:
    """Everything ``timeline.toml`` and the command line say about sources."""

    timezone: str = "UTC"
    year: int | None = None
    rules: tuple[SourceRule, ...] = ()
    specs: tuple[Path, ...] = ()
    path: str | None = None
    correlation: CorrelationConfig = field(default_factory=CorrelationConfig)

    def parser_for(self, display: str) -> str | None:
        """The parser named for this source by the first matching rule that names one."""
        for rule in self.rules:
            if rule.parser and rule.matches(display):
                return rule.parser
        return None

    def settings_for(self, display: str) -> SourceSettings:
        """Time zone and year for this source (first matching rule wins, then defaults)."""
        tz, year = self.timezone, self.year
        for rule in self.rules:
            if rule.matches(display):
                tz = rule.timezone or tz
                year = rule.year if rule.year is not None else year
                break
        return SourceSettings(
            timezone=tz, year=year, year_origin="configuration" if year is not None else ""
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
        timezone=defaults["timezone"] or "UTC",
        year=defaults["year"],
        rules=rules,
        specs=tuple(path.parent / s for s in values["specs"]),
        path=str(path),
        correlation=correlation,
    )
