"""Atomic output: write to a temporary file beside the target, then rename over it.

Final files get the permissions ``open()`` would give them (``0o666`` less the umask), not the
``0o600`` of :func:`tempfile.mkstemp`, so that a team can share an output folder.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from timeline.errors import OutputError
from timeline.layout import TMP_SUFFIX

FILE_MODE: Final = 0o666
DIR_MODE: Final = 0o777
_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux ``/proc``)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _UMASK_LOCK:  # elsewhere: set and restore (the only portable way to read it)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def chmod_file(path: Path) -> None:
    """Give a finished output file the mode a plain ``open()`` would: ``0o666 & ~umask``."""
    path.chmod(FILE_MODE & ~current_umask())


def chmod_dir(path: Path) -> None:
    """Give an output folder the mode ``mkdir`` would (``0o777 & ~umask``), keeping set-group-id."""
    keep = path.stat().st_mode & stat.S_ISGID
    path.chmod((DIR_MODE & ~current_umask()) | keep)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s directory; on success it replaces ``target``.

    On any error (or interruption) the temporary file is removed and ``target`` is untouched.
    The result has the umask's permissions (see the module docstring).
    """
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent
        )
    except OSError as exc:
        raise OutputError(
            f"cannot write to {str(target.parent)!r}: {exc.strerror or exc}"
        ) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        chmod_file(tmp)
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
