"""The secret salt: per installation (0600, created once, atomically) or from TIMELINE_SALT."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from timeline.errors import ConfigError
from timeline.normalize.salt import (
    ENV_VAR,
    SALT_BYTES,
    installation_salt,
    resolve_salt,
    salt_origin,
    salt_path,
)


def test_salt_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert salt_path() == tmp_path / "ai-timeline" / "salt"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # not absolute: ignored (XDG spec)
    assert salt_path() == Path.home() / ".config" / "ai-timeline" / "salt"


def test_installation_salt_is_random_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "ai-timeline" / "salt"
    first = installation_salt(path)
    assert len(first) == SALT_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert installation_salt(path) == first
    assert installation_salt(tmp_path / "other" / "salt") != first
    assert sorted(p.name for p in path.parent.iterdir()) == ["salt"]  # no temporary file left


def test_concurrent_first_runs_agree_on_one_salt(tmp_path: Path) -> None:
    path = tmp_path / "ai-timeline" / "salt"
    with ThreadPoolExecutor(max_workers=8) as pool:
        salts = set(pool.map(lambda _: installation_salt(path), range(32)))
    assert len(salts) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["salt"]


def test_damaged_or_unusable_salt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "salt"
    path.write_text("not hex\n", encoding="ascii")
    with pytest.raises(ConfigError, match="damaged"):
        installation_salt(path)
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="ascii")
    with pytest.raises(ConfigError, match=ENV_VAR):
        installation_salt(blocker / "ai-timeline" / "salt")


def test_resolution_order_and_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    installed = resolve_salt()
    assert installed.origin == "installation" and len(installed.value) == SALT_BYTES
    assert resolve_salt(b"") == installed  # an empty salt is no salt
    assert resolve_salt(b"mine").origin == "custom"
    monkeypatch.setenv(ENV_VAR, "from-env")
    assert resolve_salt().value == b"from-env"
    assert resolve_salt().origin == "environment"
    assert salt_origin(b"from-env") == "environment"  # the CLI passes the variable as --salt
    assert resolve_salt(b"mine").origin == "custom"
    monkeypatch.setenv(ENV_VAR, "")
    assert resolve_salt().origin == "installation"
    assert "from-env" not in repr(resolve_salt(b"from-env"))
