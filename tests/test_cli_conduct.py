"""How the CLI behaves for a new user (issue 17): quiet output, fast start, lazy `show`, escaped
terminal output, `detect` explaining itself, settings files never taken for logs, completion, and a
fresh install that works with the newest and the oldest allowed dependencies."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
NGINX = (
    '203.0.113.7 - - [02/Mar/2025:10:15:04 +0000] "POST /v1/chat/completions HTTP/1.1" 200 15 '
    '"-" "curl/8.5.0"\n'
)
# A route that carries terminal control sequences (retitle, bell, recolour, carriage return).
HOSTILE_ROUTE = "/x\x1b]0;owned\x07\x1b[31m\rred"


def _nginx_json(n: int, route: str = "/v1/chat/completions", status: int = 200) -> str:
    record = {
        "@timestamp": f"2025-03-02T10:15:0{n}.000Z",
        "client_ip": "203.0.113.7",
        "method": "POST",
        "path": route,
        "status_code": status,
        "rt": 0.01,
        "req_id": f"req-{n}",
        "user_agent": "curl/8.5.0",
    }
    return json.dumps(record) + "\n"  # control characters travel as \u001b escapes, as in real logs


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # any raw control character but \t \n


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small correlated build: five nginx JSON lines, one with control characters."""
    folder = tmp_path_factory.mktemp("conduct")
    (folder / "logs").mkdir()
    lines = [_nginx_json(n) for n in range(4)] + [_nginx_json(5, HOSTILE_ROUTE, 404)]
    (folder / "logs" / "access.log").write_text("".join(lines))
    from timeline.pipeline.api import build

    build([str(folder / "logs")], folder / "out")
    return folder / "out"


# -- -q prints only the totals; results on stdout, nothing else on stderr ----------------------


def test_quiet_build_prints_only_the_totals(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    log.write_text(NGINX)
    r = run_cli(capsys, "build", str(log), "-o", str(tmp_path / "out"), "-q")
    assert (r.code, r.err) == (0, "")
    assert r.out == "1 files: lines 1 = parsed 1 + rejected 0 + skipped 0; 1 events\n"


def test_build_results_go_to_stdout_and_nothing_to_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    log.write_text(NGINX)
    r = run_cli(capsys, "build", str(log), "-o", str(tmp_path / "out"))
    assert (r.code, r.err) == (0, "")
    lines = r.out.splitlines()
    assert lines[0].startswith(f"{log}: nginx_combined; lines 1 = parsed 1")
    assert lines[1] == "1 files: lines 1 = parsed 1 + rejected 0 + skipped 0; 1 events"
    assert lines[2].startswith("correlated 1 events into ")
    assert lines[-1].startswith("wrote ")


def test_a_rule_matching_no_file_is_a_warning_on_stderr_also_with_quiet(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    log.write_text(NGINX)
    out = str(tmp_path / "out")
    r = run_cli(capsys, "build", str(log), "-o", out, "-q", "--parser", "gw/*.log=nginx_combined")
    assert r.code == 0
    assert r.out == "1 files: lines 1 = parsed 1 + rejected 0 + skipped 0; 1 events\n"
    assert r.err == (
        "warning: --parser gw/*.log=nginx_combined matches no input file (patterns are relative"
        " to the input folder or the file's folder)\n"
    )


def test_max_file_bytes_stops_an_endless_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    log.write_text(NGINX * 20)
    r = run_cli(
        capsys, "build", str(log), "-o", str(tmp_path / "out"), "-q", "--max-file-bytes", "100"
    )
    assert r.code == 0, r.err
    read = int(r.out.split("lines ", 1)[1].split(" ", 1)[0])
    assert 0 < read < 20


def test_detect_names_the_rule_that_forced_a_parser(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "gw").mkdir()
    (tmp_path / "gw" / "edge.txt").write_text(NGINX)
    r = run_cli(capsys, "detect", str(tmp_path), "--parser", "gw/*.txt=nginx_combined")
    assert r.code == 0, r.err
    assert "nginx_combined (forced by --parser" in r.out
    assert "  rule: " in r.out and "gw/edge.txt" in r.out


# -- --version and --help import neither polars, pyarrow nor rich ------------------------------


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["query", "--help"], ["build", "-h"]])
def test_version_and_help_do_not_import_the_library(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from timeline.cli.main import cli\n"
        "try:\n"
        f"    cli.main({args!r}, prog_name='timeline')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted({'polars', 'pyarrow', 'rich', 'timeline.pipeline.api'} & set(sys.modules))\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "HEAVY []" in result.stdout, result.stdout
    assert "Usage: timeline" in result.stdout or "timeline, version" in result.stdout


def test_cli_default_limits_are_the_readers() -> None:
    from timeline.cli.options import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINE_BYTES
    from timeline.ingest.reader import DEFAULT_MAX_FILE_BYTES as READER_FILE_DEFAULT
    from timeline.ingest.reader import DEFAULT_MAX_LINE_BYTES as READER_DEFAULT

    assert DEFAULT_MAX_LINE_BYTES == READER_DEFAULT
    assert DEFAULT_MAX_FILE_BYTES == READER_FILE_DEFAULT


# -- show reads one request lazily; terminal output escapes control characters ---------------


def test_show_reads_only_the_request(
    capsys: pytest.CaptureFixture[str], built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import polars as pl

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("show read the whole timeline")

    monkeypatch.setattr(pl, "read_parquet", refuse)
    r = run_cli(capsys, "show", str(built), "req-3")
    assert r.code == 0, r.err
    assert r.out.startswith("request r-") and "req-3" in r.out.splitlines()[1]
    assert r.out.count("http.") == 1


def test_show_and_query_escape_control_characters(
    capsys: pytest.CaptureFixture[str], built: Path
) -> None:
    r = run_cli(
        capsys,
        "query",
        str(built),
        "SELECT correlation_id, http_route FROM timeline WHERE status_code = 404",
    )
    assert r.code == 0, r.err
    assert not CONTROL.search(r.out), repr(r.out)
    assert "/x\\x1b]0;owned\\x07\\x1b[31m\\rred" in r.out
    cid = r.out.splitlines()[2].split()[0]
    shown = run_cli(capsys, "show", str(built), cid)
    assert shown.code == 0, shown.err
    assert not CONTROL.search(shown.out), repr(shown.out)
    assert "http_route=/x\\x1b]0;owned\\x07\\x1b[31m\\rred" in shown.out
    csv_out = run_cli(
        capsys, "query", str(built), "SELECT http_route FROM timeline", "--format", "csv"
    )
    assert "\x1b" in csv_out.out  # csv and json are data, not terminal text: kept exact


# -- detect explains its choice ---------------------------------------------------------------


def test_detect_explains_the_choice_and_the_runner_up(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "parsers" / "policy" / "azure_content_safety" / "golden" / "basic.jsonl"
    r = run_cli(capsys, "detect", str(path))
    assert r.code == 0, r.err
    first, why, runner = r.out.splitlines()
    assert first.endswith("/basic.jsonl: azure_content_safety 0.97 (runner-up: openai_http 0.60)")
    assert why.startswith("  why: 8 of 8 sample lines parsed into 8 events with a time; fills ")
    assert "verdict" in why
    assert runner.startswith("  runner-up openai_http 0.60: 1 of 8 sample lines parsed")
    assert "7 rejected (" in runner
    assert "0.00" not in r.out


def test_detect_without_a_real_runner_up_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "a.log"
    log.write_text(NGINX)
    r = run_cli(capsys, "detect", str(log))
    assert r.out.splitlines() == [
        f"{log}: nginx_combined 1.00 (runner-up: none)",
        "  why: 1 of 1 sample lines parsed into 1 events with a time; fills status_code, status, "
        "http_method, http_route, client_address, ids",
    ]


# -- settings and spec files in an input folder are not logs ----------------------------------


def _folder_with_settings(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    (logs / "golden").mkdir(parents=True)
    (logs / "access.log").write_text(NGINX)
    (logs / "timeline.toml").write_text('[defaults]\ntimezone = "UTC"\n')
    (logs / "my_app.spec.toml").write_text('name = "my_app"\n')
    (logs / "golden" / "basic.toml").write_text("year = 2025\n")
    return logs


def test_detect_leaves_settings_files_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    logs = _folder_with_settings(tmp_path)
    r = run_cli(capsys, "detect", str(logs))
    assert r.code == 0, r.out
    assert ".toml" not in r.out
    assert r.out.startswith(f"{logs / 'access.log'}: nginx_combined 1.00")


def test_build_leaves_settings_files_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    logs = _folder_with_settings(tmp_path)
    r = run_cli(capsys, "build", str(logs), "-o", str(tmp_path / "out"), "-q")
    assert (r.code, r.err) == (0, "")
    assert r.out == "1 files: lines 1 = parsed 1 + rejected 0 + skipped 0; 1 events\n"


# -- shell completion ---------------------------------------------------------------------------


def test_shell_completion_answers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from timeline.docgen import COMPLETE_VAR

    monkeypatch.setenv(COMPLETE_VAR, "bash_source")
    r = run_cli(capsys)
    assert r.code == 0 and "_timeline_completion" in r.out
    monkeypatch.setenv(COMPLETE_VAR, "bash_complete")
    monkeypatch.setenv("COMP_WORDS", "timeline qu")
    monkeypatch.setenv("COMP_CWORD", "1")
    r = run_cli(capsys)
    assert r.code == 0 and r.out.splitlines() == ["plain,query"]
    monkeypatch.setenv("COMP_WORDS", "timeline query --fo")
    monkeypatch.setenv("COMP_CWORD", "2")
    assert run_cli(capsys).out.splitlines() == ["plain,--format"]


# -- a fresh install: test extras, and a lower-bounds constraints file that matches pyproject --


def _minimums() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = {}
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)(,<[0-9.]+)?", requirement)
        assert match, f"{requirement!r}: give every dependency a minimum (NAME>=VERSION)"
        found[match.group(1).lower()] = match.group(2)
    return found


def test_test_extras_have_what_the_tests_import() -> None:
    assert "jsonschema" in _minimums()


def test_lower_bounds_constraints_pin_every_minimum() -> None:
    lines = (ROOT / ".ci" / "constraints-lower.txt").read_text(encoding="utf-8").splitlines()
    pins = dict(line.split("==") for line in (raw.strip() for raw in lines) if "==" in line)

    def padded(version: str) -> tuple[int, ...]:
        parts = tuple(int(p) for p in version.split("."))
        return parts + (0,) * (3 - len(parts))

    minimums = _minimums()
    assert set(pins) == set(minimums)
    assert {k: padded(v) for k, v in pins.items()} == {k: padded(v) for k, v in minimums.items()}
    script = ROOT / ".ci" / "lower-bounds"
    assert os.access(script, os.X_OK)
    assert "-c .ci/constraints-lower.txt -e '.[test]'" in script.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "uri"),
    [
        (["build", "s3a://bucket/exports/", "-o", "OUT"], "s3a://bucket/exports/"),
        (["build", "logs", "-o", "hdfs://nn/out"], "hdfs://nn/out"),
        (
            ["correlate", "abfss://c@a.dfs.core.windows.net/out"],
            "abfss://c@a.dfs.core.windows.net/out",
        ),
        (["report", "file:///tmp/out"], "file:///tmp/out"),
    ],
)
def test_the_local_engine_says_a_uri_needs_the_spark_engine(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], uri: str
) -> None:
    (tmp_path / "logs").mkdir()
    args = [str(tmp_path / a) if a in ("logs", "OUT") else a for a in args]
    result = run_cli(capsys, *args)
    assert result.code == 1
    assert result.out == ""
    hint = (
        "timeline report reads a local folder; copy the folder here (a spark build into a URI "
        "writes its appendix itself)"
        if args[0] == "report"
        else "the local engine reads and writes local paths; use --engine spark (Spark's Hadoop "
        "file systems), or copy the files to a folder"
    )
    assert result.err == f"Error: {uri!r} is a URI: {hint}\n"
