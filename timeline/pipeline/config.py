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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from timeline.correlate.config import CorrelationConfig, parse_correlation
from timeline.errors import ConfigError
from timeline.parserkit.api import SourceSettings
from timeline.parserkit.timestamps import check_timezone

CONFIG_NAME = "timeline.toml"
_TOP = ("defaults", "sources", "specs", "correlation")
_DEFAULT_KEYS = ("timezone", "year")
_SOURCE_KEYS = ("match", "parser", "timezone", "year")


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


def _year(value: object, where: str, problems: list[str]) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1970 <= value <= 2200:
        problems.append(f"{where}: 'year' must be a whole number such as 2025")
        return None
    return value


def _tz(value: object, where: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(f"{where}: 'timezone' must be a string such as 'Europe/Berlin'")
        return None
    problem = check_timezone(value)
    if problem:
        problems.append(f"{where}: {problem}")
        return None
    return value


def load_config(path: Path) -> BuildConfig:
    """Read ``timeline.toml``; every problem is reported at once."""
    try:
        root = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config {str(path)!r}: {exc}") from None
    problems: list[str] = []
    for key in root:
        if key not in _TOP:
            problems.append(f"unknown key {key!r} (allowed: {', '.join(_TOP)})")
    defaults = root.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append("'defaults' must be a table ([defaults])")
        defaults = {}
    for key in defaults:
        if key not in _DEFAULT_KEYS:
            problems.append(
                f"[defaults]: unknown key {key!r} (allowed: {', '.join(_DEFAULT_KEYS)})"
            )
    timezone = _tz(defaults.get("timezone"), "[defaults]", problems) or "UTC"
    year = _year(defaults.get("year"), "[defaults]", problems)
    rules: list[SourceRule] = []
    sources = root.get("sources", [])
    if not isinstance(sources, list):
        problems.append("'sources' must be an array of tables ([[sources]])")
        sources = []
    for i, src in enumerate(sources, 1):
        where = f"[[sources]] #{i}"
        if not isinstance(src, dict):
            problems.append(f"{where}: must be a table")
            continue
        for key in src:
            if key not in _SOURCE_KEYS:
                problems.append(
                    f"{where}: unknown key {key!r} (allowed: {', '.join(_SOURCE_KEYS)})"
                )
        match = src.get("match")
        if not isinstance(match, str) or not match:
            problems.append(f"{where}: 'match' (a glob such as 'gateway/*.log') is required")
            continue
        parser = src.get("parser")
        if parser is not None and not isinstance(parser, str):
            problems.append(f"{where}: 'parser' must be a parser name (see `timeline parsers`)")
            parser = None
        rules.append(
            SourceRule(
                match=match,
                parser=parser,
                timezone=_tz(src.get("timezone"), where, problems),
                year=_year(src.get("year"), where, problems),
            )
        )
    specs = root.get("specs", [])
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        problems.append("'specs' must be a list of paths to parser spec files")
        specs = []
    correlation = parse_correlation(root.get("correlation", {}), problems)
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return BuildConfig(
        timezone=timezone,
        year=year,
        rules=tuple(rules),
        specs=tuple(path.parent / s for s in specs),
        path=str(path),
        correlation=correlation,
    )
