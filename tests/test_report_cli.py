"""`timeline report` and the build hook: outputs, exact error texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "fixtures" / "scenarios" / "retrieval_index_change" / "logs"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from timeline.parse.registry import default_registry
    from timeline.pipeline.build import BuildOptions, build

    outdir = tmp_path_factory.mktemp("built")
    build([str(SCENARIO)], default_registry(plugins=False), BuildOptions(outdir=outdir))
    return outdir


def test_report_writes_every_format_by_default(
    capsys: pytest.CaptureFixture[str], built: Path
) -> None:
    result = run_cli(capsys, "report", str(built))
    assert result.code == 0, result.err
    for name in ("appendix.md", "appendix.html", "appendix.json"):
        assert f"wrote {built / name}" in result.out
        assert (built / name).stat().st_size > 1000


def test_report_one_format_and_template(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, built: Path
) -> None:
    for name in ("appendix.md", "appendix.html", "appendix.json", "appendix-postmortem.md"):
        (built / name).unlink(missing_ok=True)
    result = run_cli(capsys, "report", str(built), "--format", "md", "--template")
    assert result.code == 0, result.err
    assert (built / "appendix.md").exists() and not (built / "appendix.html").exists()
    draft = (built / "appendix-postmortem.md").read_text(encoding="utf-8")
    for section in (
        "Summary",
        "Impact",
        "Timeline",
        "Trigger",
        "Root causes",
        "Detection",
        "Resolution",
        "Action items",
        "Lessons",
    ):
        assert f"## {section}" in draft
    assert "kb-v8" in draft and "_For the team to write._" in draft


def test_report_missing_timeline_exact_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = run_cli(capsys, "report", str(tmp_path))
    assert result.code == 1
    assert result.err == (
        f"Error: {str(tmp_path)!r} has no timeline.parquet; "
        f"run `timeline build INPUTS -o {tmp_path}` first\n"
    )


def test_report_bad_failing_predicate_exact_error(
    capsys: pytest.CaptureFixture[str], built: Path
) -> None:
    result = run_cli(capsys, "report", str(built), "--failing", "nonsense ((")
    assert result.code == 1
    assert result.err.startswith(
        "Error: --failing 'nonsense ((' is not a valid SQL predicate over the requests table "
        "(sql parser error: Expected: an expression, found: EOF); columns: correlation_id, start, "
    )


def test_report_unknown_column_in_predicate(
    capsys: pytest.CaptureFixture[str], built: Path
) -> None:
    result = run_cli(capsys, "report", str(built), "--failing", "no_such_col > 1")
    assert result.code == 1
    assert result.err.startswith(
        "Error: --failing 'no_such_col > 1' is not a valid SQL predicate over the requests "
        'table (unable to find column "no_such_col"); columns: correlation_id, '
    )


def test_build_writes_the_appendix_unless_told_not_to(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    logs = str(ROOT / "fixtures" / "security" / "logs")
    result = run_cli(capsys, "build", logs, "-o", str(tmp_path / "a"), "-q")
    assert result.code == 0, result.err
    assert (tmp_path / "a" / "appendix.html").exists()
    result = run_cli(capsys, "build", logs, "-o", str(tmp_path / "b"), "-q", "--no-report")
    assert result.code == 0, result.err
    assert not (tmp_path / "b" / "appendix.html").exists()
    assert (tmp_path / "b" / "timeline.parquet").exists()
