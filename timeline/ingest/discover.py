"""Turn the command line's inputs (files, directories, globs, ``-``) into a sorted list of files."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from timeline.errors import InputError

STDIN = "-"
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, order=True)
class InputFile:
    """One input: a path on disk, or stdin (``path`` is None)."""

    display: str
    path: Path | None


def display_name(path: Path) -> str:
    """The path relative to the working directory when it lies below it, else absolute (posix)."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def _walk(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
    return found


def discover(inputs: Sequence[str], exclude: Sequence[Path] = ()) -> list[InputFile]:
    """Expand ``inputs`` into files, sorted by display name, each once.

    Directories are walked recursively (hidden files and folders are left out); a glob that the
    shell did not expand is expanded here. ``exclude`` names directories never to read (the
    output directory).
    """
    if not inputs:
        raise InputError("no inputs given; name log files, directories or globs (or - for stdin)")
    excluded = [p.resolve() for p in exclude]
    seen: dict[Path, InputFile] = {}
    stdin: InputFile | None = None
    for item in inputs:
        if item == STDIN:
            stdin = InputFile(STDIN, None)
            continue
        path = Path(item)
        if path.is_dir():
            candidates = _walk(path)
        elif path.exists():
            candidates = [path]
        elif _GLOB_CHARS & set(item):
            candidates = [
                Path(p)
                for p in sorted(glob.glob(item, recursive=True))  # noqa: PTH207 (absolute patterns)
                if Path(p).is_file()
            ]
            if not candidates:
                raise InputError(f"no file matches {item!r}; check the pattern")
        else:
            raise InputError(
                f"no such file or directory: {item!r}; check the path, or quote a glob so that the shell does not expand it"
            )
        for candidate in candidates:
            resolved = candidate.resolve()
            if any(resolved.is_relative_to(ex) for ex in excluded):
                continue
            if not os.access(resolved, os.R_OK):
                raise InputError(f"cannot read {display_name(candidate)!r}: permission denied")
            seen.setdefault(resolved, InputFile(display_name(candidate), resolved))
    files = sorted(seen.values())
    if stdin is not None:
        files.append(stdin)
    if not files:
        raise InputError(f"no files found in {', '.join(repr(i) for i in inputs)}")
    return files
