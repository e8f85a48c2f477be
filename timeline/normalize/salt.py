"""The secret salt of prompt hashes and redaction markers.

The salt makes hashes of short values (an e-mail address, a phone number, a key) impossible to
recompute by anyone who does not hold it, so it must never be derivable from what a build writes.
In order of preference:

* ``custom``: the ``salt`` a caller passes (``timeline build --salt``), to compare hashes across
  machines; reported as ``environment`` when it is the value of ``TIMELINE_SALT``;
* ``environment``: the ``TIMELINE_SALT`` environment variable;
* ``installation``: 32 random bytes created once per user in
  ``$XDG_CONFIG_HOME/ai-timeline/salt`` (default ``~/.config/ai-timeline/salt``), readable by the
  user only (mode 0600), created atomically (a concurrent first run reads the same salt).

Only the origin (``custom``, ``environment``, ``installation``) is ever written to an output.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from timeline.errors import ConfigError

ENV_VAR: Final = "TIMELINE_SALT"
SALT_BYTES: Final = 32
APP_DIR: Final = "ai-timeline"
SALT_FILE: Final = "salt"

Origin = Literal["custom", "environment", "installation"]


@dataclass(frozen=True)
class Salt:
    """A salt and where it came from (the only part that may be shown)."""

    value: bytes = field(repr=False)
    origin: Origin


def salt_path() -> Path:
    """``$XDG_CONFIG_HOME/ai-timeline/salt``, else ``~/.config/ai-timeline/salt``."""
    config = os.environ.get("XDG_CONFIG_HOME")
    base = Path(config) if config and Path(config).is_absolute() else Path.home() / ".config"
    return base / APP_DIR / SALT_FILE


def _read(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:  # readable by others (copied, restored): user-only again
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    text = path.read_text(encoding="ascii").strip()
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) < 16:
        raise ConfigError(
            f"the salt file {path} is damaged (expected {2 * SALT_BYTES} hex digits); "
            f"delete it to create a new one (hashes will change) or set {ENV_VAR}"
        )
    return value


def _create(path: Path) -> None:
    """Write a new random salt to ``path`` unless it exists: a full file or nothing, mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{SALT_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(SALT_BYTES) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # atomic, and never replaces a salt another run created first
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: rename, unless one appeared
            if not path.exists():
                tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def installation_salt(path: Path | None = None) -> bytes:
    """The per-installation salt, created on first use (see the module docstring)."""
    target = path if path is not None else salt_path()
    try:
        if not target.exists():
            _create(target)
        return _read(target)
    except OSError as exc:
        raise ConfigError(
            f"cannot create or read the salt file {target}: {exc.strerror or exc}; "
            f"set {ENV_VAR} to a secret value instead"
        ) from exc


def salt_origin(custom: bytes | None) -> Origin:
    """Where the salt of a build given ``custom`` comes from, without reading or creating it."""
    env = os.environ.get(ENV_VAR)
    if custom:
        return "environment" if env and custom == env.encode("utf-8") else "custom"
    return "environment" if env else "installation"


def resolve_salt(custom: bytes | None = None) -> Salt:
    """``custom``, else ``TIMELINE_SALT``, else the installation salt."""
    origin = salt_origin(custom)
    if custom:  # an empty salt is no salt: treated as not given
        return Salt(custom, origin)
    if origin == "environment":
        return Salt(os.environ[ENV_VAR].encode("utf-8"), origin)
    return Salt(installation_salt(), origin)
