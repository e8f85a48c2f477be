"""One output folder, one build.

* **A lock.** ``.OUT.lock`` beside the output folder ``OUT`` is held (``fcntl.flock``) by the one
  ``build``, ``correlate`` or ``report`` writing ``OUT``; a second one fails at once with a one-line
  message. The lock file is removed on release (a waiter that locked a removed file retries).
* **A fresh folder swapped in.** A build writes into ``.OUT.building-<pid>-<rand>`` beside ``OUT``
  and, when everything is written, renames ``OUT`` to ``.OUT.old-<pid>-<rand>``, the new folder to
  ``OUT``, and removes the old one. Between the two renames (microseconds) ``OUT`` does not exist;
  it never holds files of two builds. When ``OUT`` holds files that are not the tool's (or is the
  working directory, or a mount point) it is not swapped: the new files are renamed into it one by
  one and the tool's files the new build did not write are removed.
* **Leftovers** of crashed runs (``.OUT.building-*`` and ``.OUT.old-*`` whose process is gone, and
  ``.parts-*``, ``.correlate-*``, ``.*.tmp`` inside ``OUT``) are removed by the next run that holds
  the lock.
* **One build id.** ``build.json`` and every Parquet file's metadata carry the build's id;
  :func:`check_one_build` refuses a folder whose tables come from different builds.
* **Errors** that are the user's to fix (disk full, read-only, permission) become one
  :class:`timeline.errors.OutputError` line (:func:`output_errors`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from timeline.errors import InputError, OutputError, TimelineError, output_error
from timeline.io.atomic import chmod_dir
from timeline.io.parquet import read_metadata
from timeline.layout import (
    BUILD_ID,
    EVENTS,
    MANIFEST,
    OUTPUT_FILES,
    REJECTS,
    REQUESTS,
    TIMELINE,
    building_prefix,
    is_scratch,
    lock_name,
    old_prefix,
)


def real_outdir(outdir: Path) -> Path:
    """``outdir`` made absolute, a symbolic link to a folder followed (the link keeps working)."""
    path = Path(os.path.abspath(outdir))  # noqa: PTH100 (lexical: a link in the path stays)
    return path.resolve() if path.is_symlink() else path


@contextlib.contextmanager
def output_errors(where: Path) -> Iterator[None]:
    """Turn disk-full, read-only and permission errors (``OSError``, Arrow, polars) into one line."""
    try:
        yield
    except TimelineError:
        raise
    except Exception as exc:
        mapped = output_error(exc, str(where))
        if mapped is None:
            raise
        raise mapped from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


@contextlib.contextmanager
def locked(outdir: Path, shown: Path | None = None) -> Iterator[Path]:
    """Hold the lock of the output folder ``outdir`` (``.OUT.lock`` beside it); yield its real path.

    A second holder fails at once with an :class:`OutputError` naming the folder. ``outdir``'s
    parent must exist.
    """
    target = real_outdir(outdir)
    name = str(shown if shown is not None else outdir)
    lock = target.parent / lock_name(target.name)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise output_error(exc, name) or OutputError(
                f"cannot create the lock file {str(lock)!r}: {exc.strerror or exc}; choose another -o"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(
                f"{name!r} is being written by another timeline build, correlate or report "
                f"(it holds {str(lock)!r}); wait for it to finish or choose another -o"
            ) from None
        except OSError as exc:  # no locks on this file system (some network mounts): go on
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                os.close(fd)
                raise
        if _same_file(fd, lock):
            break
        os.close(fd)  # the previous holder removed the file after we opened it: lock the new one
    try:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield target
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)


def _pid_gone(pid: int) -> bool:
    if pid == os.getpid():
        return True  # ours, from an earlier run in this process (we hold the lock now)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def clean_leftovers(target: Path) -> list[str]:
    """Remove what crashed runs left for ``target`` (see the module docstring); return the names.

    Call it while holding :func:`locked`.
    """
    removed: list[str] = []
    prefixes = (building_prefix(target.name), old_prefix(target.name))
    with contextlib.suppress(OSError):
        for entry in sorted(target.parent.iterdir()):
            prefix = next((p for p in prefixes if entry.name.startswith(p)), None)
            if prefix is None:
                continue
            pid = entry.name[len(prefix) :].split("-", 1)[0]
            if pid.isdigit() and _pid_gone(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
    if target.is_dir():
        with contextlib.suppress(OSError):
            for entry in sorted(target.iterdir()):
                if is_scratch(entry.name):
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
                    removed.append(entry.name)
    return removed


def _parent_ready(target: Path, shown: str) -> None:
    if target.exists() and not target.is_dir():
        raise OutputError(f"output path {shown!r} exists and is not a directory; choose another -o")
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(
            f"cannot create output directory {shown!r}: {os.strerror(errno.ENOTDIR)}; choose another -o"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, shown) or OutputError(
            f"cannot create output directory {shown!r}: {exc.strerror or exc}; choose another -o"
        ) from None
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write next to {shown!r} (the folder {str(target.parent)!r} is not writable); "
            "choose another -o"
        )


def _swappable(target: Path) -> bool:
    """Whether ``target`` may be replaced whole: it holds only the tool's files."""
    cwd = Path.cwd().resolve()
    if target.resolve() == cwd or cwd.is_relative_to(target.resolve()) or target.is_mount():
        return False
    return all(e.name in OUTPUT_FILES or is_scratch(e.name) for e in target.iterdir())


def _replace_files(staging: Path, target: Path) -> None:
    """Move the new files into ``target`` one by one; remove the tool's files they do not replace."""
    new = {e.name for e in staging.iterdir()}
    for name in OUTPUT_FILES:
        if name not in new:
            (target / name).unlink(missing_ok=True)
    for name in sorted(new):
        (staging / name).replace(target / name)


def _commit(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.rename(target)
        return
    if _swappable(target):
        with contextlib.suppress(OSError):
            staging.chmod(target.stat().st_mode & 0o7777)  # the folder keeps its mode
        aside = target.parent / f"{old_prefix(target.name)}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            target.rename(aside)
        except OSError:
            pass  # busy, another device...: fall back to moving the files
        else:
            try:
                staging.rename(target)
            except BaseException:
                aside.rename(target)
                raise
            shutil.rmtree(aside, ignore_errors=True)
            return
    _replace_files(staging, target)
    shutil.rmtree(staging, ignore_errors=True)


class Fresh:
    """A build's staging folder (``stage``) and the output folder it replaces on :meth:`commit`."""

    def __init__(self, stage: Path, target: Path) -> None:
        self.stage = stage
        self.target = target
        self.committed = False

    def commit(self) -> None:
        """Swap the staging folder in (see the module docstring); the lock is still held after."""
        if not self.committed:
            _commit(self.stage, self.target)
            self.committed = True


@contextlib.contextmanager
def fresh_outdir(outdir: Path) -> Iterator[Fresh]:
    """Build into a fresh folder beside ``outdir``, swapped in by ``commit()`` (or at the end).

    Holds the lock throughout (so the caller may still write into ``outdir`` after the commit)
    and cleans leftovers of crashed runs first. On an error (or an interruption) before the
    commit, the staging folder is removed and ``outdir`` is left as it was.
    """
    shown = str(outdir)
    target = real_outdir(outdir)
    _parent_ready(target, shown)
    with locked(target, Path(shown)), output_errors(Path(shown)):
        clean_leftovers(target)
        name = f"{building_prefix(target.name)}{os.getpid()}-{secrets.token_hex(4)}"
        staging = target.parent / name
        staging.mkdir()
        fresh = Fresh(staging, target)
        try:
            chmod_dir(staging)
            yield fresh
            fresh.commit()
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


def build_ids(folder: Path) -> dict[str, str | None]:
    """The build id of each table (and ``build.json``) present in ``folder``."""
    ids: dict[str, str | None] = {}
    for name in (EVENTS, REJECTS, TIMELINE, REQUESTS):
        path = folder / name
        if path.is_file():
            try:
                meta = read_metadata(path)
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot read {str(path)!r}: {exc}") from None
            value = meta.get(BUILD_ID)
            ids[name] = value if isinstance(value, str) else None
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            doc = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {str(manifest)!r}: {exc}") from None
        value = doc.get(BUILD_ID) if isinstance(doc, dict) else None
        ids[MANIFEST] = value if isinstance(value, str) else None
    return ids


def check_one_build(folder: Path) -> str | None:
    """The build id shared by every table in ``folder``; an ``InputError`` when they differ.

    A folder written before build ids existed (none has one) passes, with None.
    """
    ids = build_ids(folder)
    distinct = set(ids.values())
    if len(distinct) <= 1:
        return next(iter(distinct), None)
    groups: dict[str | None, list[str]] = {}
    for name, value in ids.items():
        groups.setdefault(value, []).append(name)
    described = "; ".join(
        f"{', '.join(names)}: {'build ' + value[:8] if value else 'no build id (an older build)'}"
        for value, names in groups.items()
    )
    raise InputError(
        f"{str(folder)!r} holds tables of different builds ({described}); rebuild it with "
        f"`timeline build INPUTS -o {folder}`"
    )
