"""Turn the command line's inputs (files, directories, globs, ``-``) into a sorted list of files.

* A file is shown by the name the user gave (relative to the working directory when below it),
  never by a symbolic link's target, so patterns written for the link match it.
* Each file knows its path relative to the input that named it (the folder given, a glob's
  folder, or the file's own folder): ``--parser`` patterns are matched against it.
* Directory walks follow symbolic links to files and folders, each folder once (by device and
  inode, so a link loop ends); dangling links, FIFOs, devices and sockets met on the way are
  skipped with a reason and the walk goes on. A FIFO or character device named on the command
  line (``<(zcat x.gz)``, ``/dev/stdin``) is read as a stream.
* Settings and spec files (``*.toml``, such as ``timeline.toml``) met in a walk are not logs.
* The same file reached twice (a link and its target, a hard link) is read once.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from timeline.errors import InputError

STDIN = "-"
SETTINGS_SUFFIX = ".toml"  # timeline.toml and parser specs beside the logs are never logs
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, order=True)
class InputFile:
    """One input: a path on disk, or stdin (``path`` is None).

    ``relative`` is the path below the input argument that named it (``--parser`` patterns
    match it); ``absolute`` the path made absolute without following links (``timeline.toml``
    patterns match it relative to the toml's folder).
    """

    display: str
    path: Path | None
    relative: str = field(default="", compare=False)
    absolute: str = field(default="", compare=False)


@dataclass
class Discovery:
    """The files to read, and what was skipped on the way (path as shown, reason)."""

    files: list[InputFile]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _absolute(path: Path) -> str:
    return os.path.abspath(path)  # noqa: PTH100 (lexical: links in the path stay as given)


def display_name(path: Path) -> str:
    """The path as given, relative to the working directory when it lies below it, else absolute."""
    absolute = Path(_absolute(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(_absolute(path)).relative_to(_absolute(root)).as_posix()
    except ValueError:
        return path.name


_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str | None:
    """What a non-regular, non-directory file is, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _walk(directory: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """Files below ``directory``, links followed, each folder once; the rest goes to ``skipped``."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else directory
        skipped.append((display_name(where), f"cannot read the folder: {exc.strerror or exc}"))

    for root, dirs, files in os.walk(directory, followlinks=True, onerror=unreadable):
        here = Path(root)
        try:
            info = here.stat()
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            skipped.append((display_name(here), "a folder already read (a symbolic link loop)"))
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.endswith(SETTINGS_SUFFIX):
                continue
            candidate = here / name
            try:
                mode = candidate.stat().st_mode
            except FileNotFoundError:
                skipped.append((display_name(candidate), "dangling symbolic link (no target)"))
                continue
            except OSError as exc:
                skipped.append((display_name(candidate), f"cannot read: {exc.strerror or exc}"))
                continue
            kind = _kind(mode)
            if kind is not None:
                skipped.append(
                    (
                        display_name(candidate),
                        f"{kind} met in a folder walk (name it on the command line to read it)",
                    )
                )
                continue
            found.append(candidate)
    return found


def _glob_root(pattern: str) -> Path:
    """The folder part of ``pattern`` before its first wildcard."""
    fixed: list[str] = []
    for part in Path(pattern).parts:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path()


def discover_inputs(inputs: Sequence[str], exclude: Sequence[Path] = ()) -> Discovery:
    """Expand ``inputs`` into files, sorted by display name, each once; see the module docstring.

    Directories are walked recursively (hidden files and folders, and ``*.toml`` settings, are
    left out); a glob that the shell did not expand is expanded here. ``exclude`` names
    directories never to read (the output directory).
    """
    if not inputs:
        raise InputError("no inputs given; name log files, directories or globs (or - for stdin)")
    excluded = [p.resolve() for p in exclude]
    seen: dict[tuple[int, int], InputFile] = {}
    skipped: list[tuple[str, str]] = []
    stdin: InputFile | None = None
    for item in inputs:
        if item == STDIN:
            stdin = InputFile(STDIN, None, STDIN, STDIN)
            continue
        path = Path(item)
        if path.is_dir():
            root, candidates = path, _walk(path, skipped)
        elif path.exists():
            kind = _kind(path.stat().st_mode)
            if kind in ("a block device", "a socket", "not a regular file"):
                raise InputError(f"cannot read {item!r}: {kind} is not a log file or a stream")
            root, candidates = path.parent, [path]
        elif path.is_symlink():
            raise InputError(f"{item!r} is a dangling symbolic link: its target does not exist")
        elif _GLOB_CHARS & set(item):
            root = _glob_root(item)
            candidates = []
            for name in sorted(glob.glob(item, recursive=True)):  # noqa: PTH207 (absolute patterns)
                match = Path(name)
                if match.is_file():
                    candidates.append(match)
                elif match.is_symlink() and not match.exists():
                    skipped.append((display_name(match), "dangling symbolic link (no target)"))
            if not candidates:
                raise InputError(f"no file matches {item!r}; check the pattern")
        else:
            raise InputError(
                f"no such file or directory: {item!r}; check the path, or quote a glob so that the shell does not expand it"
            )
        for candidate in candidates:
            if any(candidate.resolve().is_relative_to(ex) for ex in excluded):
                continue
            if not os.access(candidate, os.R_OK):
                raise InputError(f"cannot read {display_name(candidate)!r}: permission denied")
            info = candidate.stat()
            key = (info.st_dev, info.st_ino)
            if key not in seen:
                seen[key] = InputFile(
                    display_name(candidate),
                    Path(_absolute(candidate)),
                    _relative(candidate, root),
                    _absolute(candidate),
                )
    files = sorted(seen.values())
    if stdin is not None:
        files.append(stdin)
    if not files:
        raise InputError(f"no files found in {', '.join(repr(i) for i in inputs)}")
    return Discovery(files, skipped)


def discover(inputs: Sequence[str], exclude: Sequence[Path] = ()) -> list[InputFile]:
    """The files of :func:`discover_inputs` (what was skipped is left out)."""
    return discover_inputs(inputs, exclude).files
