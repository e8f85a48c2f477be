"""`timeline demo`: builds the bundled incident and ends with three next steps that work."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.cli_helpers import CliResult, run_cli

ROOT = Path(__file__).resolve().parent.parent


def _steps(result: CliResult) -> list[str]:
    lines = result.out.splitlines()
    start = lines.index("Next, try:")
    return [line.strip() for line in lines[start + 1 :] if not line.strip()[:1].isdigit()]


def test_demo_ends_with_three_next_steps_that_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "demo"
    r = run_cli(capsys, "demo", str(folder), "--requests", "12")
    assert (r.code, r.err) == (0, ""), r.err
    assert "6 files: lines " in r.out
    show, query, appendix = _steps(r)
    assert (folder / "logs" / "gateway" / "edge-access.log").is_file()
    # 1. show a real request by the id printed
    args = shlex.split(show)
    assert args[:3] == ["timeline", "show", str(folder / "out")]
    shown = run_cli(capsys, *args[1:])
    assert shown.code == 0, shown.err
    assert shown.out.startswith("request r-") and args[3] in shown.out.splitlines()[1]
    # 2. the query runs and prints a table
    queried = run_cli(capsys, *shlex.split(query)[1:])
    assert queried.code == 0, queried.err
    assert queried.out.splitlines()[0].split() == ["model_revision", "failure_reason", "n"]
    # 3. the appendix is there
    assert Path(appendix).is_file() and appendix.endswith("appendix.html")


def test_demo_refuses_a_folder_with_other_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    r = run_cli(capsys, "demo", str(tmp_path))
    assert r.code == 1
    assert r.err == (
        f"Error: {str(tmp_path)!r} already holds other files (notes.txt); the demo writes only "
        "into an empty folder or an earlier demo's: choose another folder\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_readme_starts_with_the_demo() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = text.split("```sh\n", 1)[1].split("```", 1)[0].strip()
    assert first == "python -m pip install . && timeline demo"


@pytest.mark.slow
def test_demo_at_full_size_matches_the_committed_fixture(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    r = run_cli(capsys, "demo", str(tmp_path / "demo"), "-q")
    assert r.code == 0, r.err
    again = run_cli(capsys, "demo", str(tmp_path / "demo"), "-q")  # an earlier demo's folder
    assert (again.code, again.out) == (0, r.out)
    fixture = ROOT / "fixtures" / "scenarios" / "model_revision_rollout" / "logs"
    for path in sorted(fixture.rglob("*")):
        if path.is_file():
            rel = path.relative_to(fixture)
            assert (tmp_path / "demo" / "logs" / rel).read_bytes() == path.read_bytes(), rel
