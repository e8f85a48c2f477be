"""Shared fixtures: the repository root, the real-log samples, the golden-file switch."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
REAL_LOGS = ROOT.parent / "shared" / "real-logs"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite parsers/*/*/golden/*.expected.jsonl from the current parsers.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test from the repository root, so shown paths are stable."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(autouse=True, scope="session")
def _private_config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``XDG_CONFIG_HOME`` in a temporary folder: builds never create a salt in the real home."""
    home = tmp_path_factory.mktemp("config-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(home))
        yield home


@pytest.fixture
def real_logs() -> Path:
    """``../shared/real-logs``: required under CI (fail loudly), skipped elsewhere when absent."""
    if REAL_LOGS.is_dir():
        return REAL_LOGS
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"the real-log samples are missing: expected {REAL_LOGS} (CI must provide ../shared)"
        )
    pytest.skip(f"real-log samples not found at {REAL_LOGS}")
