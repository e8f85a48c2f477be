"""Run the real console entry point in-process and capture what a user would see."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from timeline.cli.main import main


@dataclass
class CliResult:
    """Exit code and output of one ``timeline`` invocation."""

    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Call ``timeline ARGS`` through :func:`timeline.cli.main.main`."""
    capsys.readouterr()
    old = sys.argv
    sys.argv = ["timeline", *args]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
