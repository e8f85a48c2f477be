"""One error hierarchy. The library raises these; only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class TimelineError(Exception):
    """Base class of every error the tool reports to its user."""


class InputError(TimelineError):
    """An input path is missing, unreadable or not a log file."""


class UnknownFormatError(TimelineError):
    """No parser recognises a file."""


class AmbiguousFormatError(TimelineError):
    """Several parsers recognise a file equally well."""


class ConfigError(TimelineError):
    """``timeline.toml`` or a command-line setting is invalid."""


class SpecError(TimelineError):
    """A declarative parser spec is invalid. ``problems`` holds every problem found."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {count} {noun}:\n{lines}")


class RegistryError(TimelineError):
    """A parser could not be registered (for example, a duplicate name)."""


class OutputError(TimelineError):
    """An output could not be written."""


class ParserBugError(TimelineError):
    """A parser broke its contract (for example, its line accounting does not add up)."""
