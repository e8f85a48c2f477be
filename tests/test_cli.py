"""End-to-end CLI behaviour with exact messages and exit codes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

NGINX = '203.0.113.7 - - [02/Mar/2025:10:15:04 +0000] "POST /v1/chat/completions HTTP/1.1" 200 15 "-" "curl/8.5.0"\n'


def test_no_such_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r = run_cli(capsys, "build", "missing.log", "-o", str(tmp_path / "out"))
    assert r.code == 1
    assert r.err == (
        "Error: no such file or directory: 'missing.log'; check the path, or quote a glob so that the shell "
        "does not expand it\n"
    )


def test_glob_without_matches(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r = run_cli(capsys, "build", str(tmp_path / "*.log"), "-o", str(tmp_path / "out"))
    assert r.code == 1
    assert r.err == f"Error: no file matches '{tmp_path}/*.log'; check the pattern\n"


def test_unknown_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "mystery.log"
    log.write_text("hello world\nsecond line\n")
    r = run_cli(capsys, "build", str(log), "-o", str(tmp_path / "out"))
    assert r.code == 1
    assert r.err.startswith(f"Error: cannot detect the format of '{log}' (closest: ")
    assert r.err.endswith(
        f"Force a parser with --parser '{log}=NAME', or skip such files with --skip-unknown.\n"
    )
    assert not (tmp_path / "out").exists()


def test_skip_unknown_counts_the_skipped_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "mystery.log").write_text("hello world\nsecond line\n")
    (tmp_path / "in" / "access.log").write_text(NGINX)
    r = run_cli(
        capsys, "build", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--skip-unknown"
    )
    assert r.code == 0, r.err
    assert (
        "mystery.log: -; lines 2 = parsed 0 + rejected 0 + skipped 2; events 0; skipped: 2 unknown format (--skip-unknown)"
        in r.out
    )
    assert "2 files: lines 3 = parsed 1 + rejected 0 + skipped 2; 1 events" in r.out


def test_invalid_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(
        'name = "bad"\nlayer = "gateway"\ndescription = "x"\nreader = "jsonl"\n[fields]\nstatus_cod = "s"\n'
    )
    r = run_cli(capsys, "parsers", "validate", str(spec))
    assert r.code == 1
    assert r.err == (
        f"Error: {spec}: 2 problems:\n"
        "  - [timestamp.field] is required; add the source field holding the time, or set required = false if the format has no time\n"
        "  - [fields.status_cod] is not a canonical field; did you mean 'status_code'? (see docs/schema.md)\n"
    )


def test_valid_spec(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "parsers", "validate", "docs/examples/nginx_combined.toml")
    assert (r.code, r.out) == (
        0,
        "docs/examples/nginx_combined.toml: ok (nginx_combined, gateway, reader regex)\n",
    )


def test_invalid_spec_given_to_build(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text("name = 1\n")
    log = tmp_path / "a.log"
    log.write_text(NGINX)
    r = run_cli(capsys, "build", str(log), "-o", str(tmp_path / "out"), "--spec", str(spec))
    assert r.code == 1
    assert r.err.startswith(
        f"Error: {spec}: 5 problems:\n  - [name] got the number 1; use a snake_case name such as 'my_app_log'\n"
    )


def test_unwritable_output_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(NGINX)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli(capsys, "build", str(log), "-o", str(blocker))
    assert r.code == 1
    assert (
        r.err
        == f"Error: output path '{blocker}' exists and is not a directory; choose another -o\n"
    )
    r = run_cli(capsys, "build", str(log), "-o", str(blocker / "sub"))
    assert r.code == 1
    assert (
        r.err
        == f"Error: cannot create output directory '{blocker / 'sub'}': Not a directory; choose another -o\n"
    )


def test_bad_parser_override(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(NGINX)
    r = run_cli(
        capsys, "build", str(log), "-o", str(tmp_path / "o"), "--parser", "a.log=ngnix_combined"
    )
    assert r.code == 1
    assert (
        r.err
        == "Error: unknown parser 'ngnix_combined'; did you mean 'nginx_combined'? (see `timeline parsers`)\n"
    )
    r = run_cli(capsys, "build", str(log), "-o", str(tmp_path / "o"), "--parser", "nginx_combined")
    assert r.code == 2
    assert "Invalid value for --parser: 'nginx_combined' is not GLOB=NAME" in r.err


def test_bad_timezone(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r = run_cli(capsys, "build", "x", "-o", str(tmp_path), "--timezone", "Moon/Base")
    assert r.code == 2
    assert "Invalid value for --timezone: unknown time zone 'Moon/Base'" in r.err


def test_build_prints_accounting_and_writes_outputs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "access.log.gz"
    log.write_bytes(gzip.compress((NGINX + "garbage\n\n").encode()))
    out = tmp_path / "out"
    r = run_cli(capsys, "build", str(log), "-o", str(out))
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == (
        f"{log}: nginx_combined; lines 3 = parsed 1 + rejected 1 + skipped 1; events 1; "
        "rejects: 1 does not match the nginx_combined pattern; skipped: 1 blank line"
    )
    manifest = json.loads((out / "build.json").read_text())
    assert manifest["accounting"][0]["compression"] == "gzip"
    assert manifest["command"].startswith("timeline build ")
    assert sorted(p.name for p in out.iterdir()) == [
        "appendix.html",
        "appendix.json",
        "appendix.md",
        "build.json",
        "correlation.json",
        "rejects.parquet",
        "requests.parquet",
        "timeline.parquet",
    ]  # the events once, as the timeline: no events.parquet


def test_parsers_lists_name_layer_description(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "parsers")
    assert r.code == 0
    assert any(line.split()[:2] == ["nginx_combined", "gateway"] for line in r.out.splitlines())


def test_detect_prints_choice_and_runner_up(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "a.log"
    log.write_text(NGINX)
    r = run_cli(capsys, "detect", str(log))
    assert r.code == 0
    assert r.out.startswith(f"{log}: nginx_combined 1.00 (runner-up: ")


def test_ambiguous_format_lists_candidates_and_how_to_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = """name = "{name}"
layer = "other"
description = "app"
reader = "logfmt"
[timestamp]
field = "time"
"""
    for name in ("app_a", "app_b"):
        (tmp_path / f"{name}.toml").write_text(spec.replace("{name}", name))
    log = tmp_path / "app.log"
    log.write_text("time=2025-03-02T10:15:04Z msg=hi\n")
    args = ["--spec", str(tmp_path / "app_a.toml"), "--spec", str(tmp_path / "app_b.toml")]
    r = run_cli(capsys, "build", str(log), "-o", str(tmp_path / "o"), *args)
    assert r.code == 1
    assert r.err == (
        f"Error: the format of '{log}' is ambiguous: app_a 1.00, app_b 1.00 fit equally well. "
        f"Force one with --parser '{log}=NAME' or a [[sources]] rule in timeline.toml.\n"
    )
    r = run_cli(
        capsys, "build", str(log), "-o", str(tmp_path / "o"), *args, "--parser", "app.log=app_b"
    )
    assert r.code == 0, r.err
    assert f"{log}: app_b; lines 1 = parsed 1" in r.out


def test_show_prints_a_request_chain_with_markers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from timeline.scenarios.generate import write_scenario

    truth = write_scenario("clock_skew_forwarded_ids", tmp_path / "sc", 12, seed=5)
    out = tmp_path / "out"
    assert run_cli(capsys, "build", str(tmp_path / "sc" / "logs"), "-o", str(out), "-q").code == 0
    key = next(
        k
        for rel, rows in truth["lines"].items()
        if rel.endswith("infer-b.jsonl")
        for _, k, _ in rows
    )
    rid = json.loads(
        (tmp_path / "sc" / "logs" / "inference" / "infer-b.jsonl").read_text().splitlines()[0]
    )["request_id"]
    assert key
    r = run_cli(capsys, "show", str(out), rid)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("request r-") and "layers)" in lines[0]
    assert rid in lines[1]
    assert any(
        "heuristic link, confidence 0." in line and "edge-access.log" in line for line in lines
    )
    assert any("[clock +" in line and "infer-b.jsonl" in line for line in lines)
    r = run_cli(capsys, "show", str(out), "no-such-id")
    assert (r.code, r.err) == (
        1,
        "Error: no request has the id 'no-such-id'; list requests with `timeline query` or look in requests.parquet\n",
    )
    r = run_cli(capsys, "show", str(tmp_path), rid)
    assert (
        r.err
        == f"Error: '{tmp_path}' has no timeline.parquet; run `timeline build INPUTS -o {tmp_path}` first\n"
    )
