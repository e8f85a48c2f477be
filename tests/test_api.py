"""The library API and the commands that are thin layers over it (detect, parsers test, correlate)."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

import timeline
from tests.cli_helpers import run_cli
from timeline.errors import InputError

NGINX = '203.0.113.7 - - [02/Mar/2025:10:15:04 +0000] "POST /v1/chat/completions HTTP/1.1" 200 15 "-" "curl/8.5.0"\n'
SPEC = """name = "kb_search"
layer = "retrieval"
description = "kb-search JSON lines"
reader = "jsonl"

[timestamp]
field = "time"

[constants]
event_type = "retrieval.query"

[fields]
request_id = "rid"
top_k = "k"
"""
KB_LINES = (
    '{"time": "2025-03-02T10:15:04.120Z", "rid": "r-1", "k": 5}\n'
    '{"time": "2025-03-02T10:15:05.000Z", "rid": "r-2", "k": 3}\n'
    "not json at all\n"
)


def test_import_is_cheap_and_names_the_api() -> None:
    assert set(timeline.__all__) >= {"build", "correlate", "report", "detect", "check_golden"}
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        timeline.nope  # noqa: B018


def test_build_correlate_report_query_show_from_python(tmp_path: Path) -> None:
    scenario = Path("fixtures/scenarios/guardrail_update/logs")
    out = tmp_path / "out"
    result = timeline.build([scenario], out, report=False)
    assert result.totals["lines_read"] == (
        result.totals["lines_parsed"]
        + result.totals["lines_rejected"]
        + result.totals["lines_skipped"]
    )
    assert result.outputs["timeline"] == out / "timeline.parquet"
    assert not (out / "appendix.md").exists()
    again = timeline.correlate(out)
    assert again.summary() == result.correlation.summary() if result.correlation else False
    written = timeline.report(out, formats=("md",))
    assert written == [out / "appendix.md"]
    frame = timeline.query(out, "SELECT count(*) AS n FROM requests")
    assert isinstance(frame, pl.DataFrame) and frame.item() > 0
    request = timeline.query(out, "SELECT correlation_id FROM requests LIMIT 1").item()
    assert any(request in line for line in timeline.show(out, request))


def test_correlate_needs_a_build_first(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=r"has neither timeline.parquet nor events.parquet; run `timeline build"
    ):
        timeline.correlate(tmp_path)


def test_detect_follows_the_same_forcing_as_build(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "kb.log").write_text(KB_LINES)
    (tmp_path / "kb.toml").write_text(SPEC)
    (logs / "timeline.toml").write_text(
        f'specs = ["{tmp_path / "kb.toml"}"]\n[[sources]]\nmatch = "kb.log"\nparser = "kb_search"\n'
    )
    r = run_cli(capsys, "detect", str(logs / "kb.log"), "--config", str(logs / "timeline.toml"))
    assert r.code == 0, r.err
    assert r.out == (
        f"{logs / 'kb.log'}: kb_search (forced by timeline.toml) (runner-up: none)\n"
        "  rule: timeline.toml match 'kb.log' matched 'kb.log'\n"
    )
    r = run_cli(
        capsys, "detect", str(logs / "kb.log"), "--spec", str(tmp_path / "kb.toml"),
        "--parser", "kb.log=nginx_combined",
    )  # fmt: skip
    assert r.out.startswith(f"{logs / 'kb.log'}: nginx_combined (forced by --parser)")
    decisions = timeline.detect([logs / "kb.log"], config=logs / "timeline.toml")
    assert [d.describe() for d in decisions] == ["forced by timeline.toml"]


def test_parsers_test_runs_a_builtin_parsers_golden_pairs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = run_cli(capsys, "parsers", "test", "nginx_combined")
    assert r.code == 0, r.out
    golden = Path(__file__).resolve().parents[1] / "parsers/gateway/nginx_combined/golden"
    pairs = len(list(golden.glob("*.expected.jsonl")))
    assert pairs >= 4
    assert r.out.splitlines()[-1] == f"{pairs} passed, 0 failed"
    assert "ok      parsers/gateway/nginx_combined/golden/basic.log" in r.out


def test_parsers_test_for_a_spec_outside_the_repository(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = tmp_path / "kb.toml"
    spec.write_text(SPEC)
    golden = tmp_path / "golden"
    golden.mkdir()
    (golden / "basic.log").write_text(KB_LINES)
    r = run_cli(capsys, "parsers", "test", str(spec), "--update")
    assert r.code == 0, r.out
    assert "written " in r.out and r.out.splitlines()[-1] == "1 passed, 0 failed"
    expected = (golden / "basic.expected.jsonl").read_text()
    assert '"request_id": "r-1"' in expected and '"reject": {"source_line": 3' in expected
    r = run_cli(capsys, "parsers", "test", str(spec))
    assert (r.code, r.out.splitlines()[-1]) == (0, "1 passed, 0 failed")
    # a parser change shows as a readable diff and exit 1
    spec.write_text(SPEC.replace('top_k = "k"', ""))
    r = run_cli(capsys, "parsers", "test", str(spec))
    assert r.code == 1
    assert r.out.splitlines()[-1] == "0 passed, 1 failed"
    removed = [line for line in r.out.splitlines() if line.startswith('-{"event_id"')]
    added = [line for line in r.out.splitlines() if line.startswith('+{"event_id"')]
    assert len(removed) == len(added) == 2
    assert '"top_k": 5' in removed[0] and "top_k" not in added[0]


def test_parsers_test_errors_say_what_to_do(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    r = run_cli(capsys, "parsers", "test", "ngnix_combined")
    assert r.code == 1
    assert r.err == (
        "Error: unknown parser 'ngnix_combined'; did you mean 'nginx_combined'? "
        "(see `timeline parsers`)\n"
    )
    spec = tmp_path / "kb.toml"
    spec.write_text(SPEC)
    r = run_cli(capsys, "parsers", "test", str(spec))
    assert r.code == 1
    assert r.err == (
        f"Error: no golden pairs in '{tmp_path / 'golden'}': add <case>.<ext> inputs there "
        "(and run with --update to write their <case>.expected.jsonl)\n"
    )


def test_correlate_command_recorrelates(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "in" / "a.log"
    log.parent.mkdir()
    log.write_text(NGINX)
    out = tmp_path / "out"
    assert run_cli(capsys, "build", str(log), "-o", str(out), "--no-correlate").code == 0
    assert not (out / "timeline.parquet").exists()
    r = run_cli(capsys, "correlate", str(out))
    assert r.code == 0, r.err
    assert (out / "timeline.parquet").is_file() and "request" in r.out
    shutil.rmtree(out)
    r = run_cli(capsys, "correlate", str(out))
    assert r.code == 1
    assert r.err == (
        f"Error: '{out}' has neither timeline.parquet nor events.parquet; "
        f"run `timeline build INPUTS -o {out}` first\n"
    )
