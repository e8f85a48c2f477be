"""One error hierarchy. The library raises these; only the CLI turns them into messages and exit codes."""

from __future__ import annotations

import errno
import os
import re
from typing import Final

OUTPUT_ERRNOS: Final[dict[int, str]] = {
    errno.ENOSPC: "free some space or choose another -o",
    errno.EDQUOT: "free some space (the disk quota is exceeded) or choose another -o",
    errno.EROFS: "the file system is read-only; choose another -o",
    errno.EACCES: "check the folder's permissions or choose another -o",
    errno.EPERM: "check the folder's permissions or choose another -o",
}
"""Operating-system errors on output that are the user's to fix, and what to do about each."""

_ERRNO_TEXT: Final = re.compile(r"(?:os error |\[errno |\[Errno )(\d+)")


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


def output_errno(exc: BaseException) -> int | None:
    """The errno of an output error that is the user's to fix (disk full, read-only, permission).

    Python's ``OSError`` carries it; Arrow and polars errors only name it in their text
    (``No space left on device (os error 28)``). None for any other error.
    """
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None:
        found = _ERRNO_TEXT.search(str(exc))
        code = int(found.group(1)) if found else None
    return code if code in OUTPUT_ERRNOS else None


def output_error(exc: BaseException, where: str) -> OutputError | None:
    """A one-line :class:`OutputError` for ``exc`` while writing ``where``, or None (not the user's)."""
    code = output_errno(exc)
    if code is None:
        return None
    return OutputError(f"cannot write {where!r}: {os.strerror(code)}; {OUTPUT_ERRNOS[code]}")
