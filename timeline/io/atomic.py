"""Atomic output: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from timeline.errors import OutputError


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s directory; on success it replaces ``target``.

    On any error (or interruption) the temporary file is removed and ``target`` is untouched.
    """
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(
            f"cannot write to {str(target.parent)!r}: {exc.strerror or exc}"
        ) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def prepare_outdir(outdir: Path) -> None:
    """Create ``outdir`` (and parents) or raise a clear ``OutputError``."""
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(
            f"output path {str(outdir)!r} exists and is not a directory; choose another -o"
        )
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output directory {str(outdir)!r}: {exc.strerror or exc}; choose another -o"
        ) from None
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {str(outdir)!r} is not writable; choose another -o")
