"""The nginx sample from ../shared/real-logs (variants arrive with the gateway parsers)."""

from __future__ import annotations

from pathlib import Path

from timeline.testing import run_one


def test_nginx_combined_accounts_for_every_line(real_logs: Path) -> None:
    run = run_one(real_logs / "gateway_nginx_combined.log", "nginx_combined")
    acc = run.account
    assert acc.lines_read == 20
    assert acc.balanced()
    assert run.rejects.height == acc.lines_rejected
    assert run.rejects["reason"].null_count() == 0
