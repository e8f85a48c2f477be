"""Every real sample and every fixture the project knows, in one build: it never crashes.

Real third-party samples (``../shared/real-logs``) and the project's own inputs (golden pairs,
scenarios, the security fixture) go through ``timeline build --skip-unknown`` together; the build
exits 0, accounts for every line and writes the appendix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_one_build_over_every_known_sample_exits_0_and_writes_the_appendix(
    capsys: pytest.CaptureFixture[str], real_logs: Path, tmp_path: Path
) -> None:
    inputs = [
        str(real_logs),
        *sorted(str(p) for p in ROOT.glob("parsers/*/*/golden")),
        *sorted(str(p) for p in ROOT.glob("fixtures/scenarios/*/logs")),
        str(ROOT / "fixtures" / "security" / "logs"),
    ]
    out = tmp_path / "out"
    r = run_cli(capsys, "build", *inputs, "-o", str(out), "--skip-unknown", "-q")
    assert r.code == 0, r.err
    for name in ("timeline.parquet", "requests.parquet", "appendix.md", "appendix.html"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "build.json").read_text(encoding="utf-8"))
    totals = manifest["totals"]
    assert totals["lines_read"] == (
        totals["lines_parsed"] + totals["lines_rejected"] + totals["lines_skipped"]
    )
    assert totals["files"] > 150
    assert "None" not in (out / "appendix.md").read_text(encoding="utf-8")
