"""`timeline query`: SQL over timeline, requests and rejects; the same answers as DuckDB."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from timeline.analyze.query import run_query

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "fixtures" / "scenarios" / "guardrail_update" / "logs"
SQL = "SELECT failure_reason, count(*) AS n FROM requests GROUP BY failure_reason ORDER BY n DESC"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from timeline.parse.registry import default_registry
    from timeline.pipeline.build import BuildOptions, build

    outdir = tmp_path_factory.mktemp("q")
    build([str(SCENARIO)], default_registry(plugins=False), BuildOptions(outdir=outdir))
    return outdir


def test_table_output(capsys: pytest.CaptureFixture[str], built: Path) -> None:
    result = run_cli(capsys, "query", str(built), SQL)
    assert result.code == 0, result.err
    assert "policy block" in result.out and "261" in result.out and result.out.endswith("2 rows\n")


def test_csv_and_json_output(capsys: pytest.CaptureFixture[str], built: Path) -> None:
    out = run_cli(capsys, "query", str(built), SQL, "--format", "csv").out
    assert list(csv.reader(io.StringIO(out))) == [
        ["failure_reason", "n"],
        ["", "261"],
        ["policy block", "39"],
    ]
    rows = json.loads(run_cli(capsys, "query", str(built), SQL, "--format", "json").out)
    assert rows == [{"failure_reason": None, "n": 261}, {"failure_reason": "policy block", "n": 39}]


def test_nested_columns_and_rejects(capsys: pytest.CaptureFixture[str], built: Path) -> None:
    out = run_cli(
        capsys,
        "query",
        str(built),
        "SELECT event_id, categories FROM timeline WHERE verdict = 'block' LIMIT 1",
        "--format",
        "csv",
    ).out
    assert out.count("\n") == 2
    result = run_cli(capsys, "query", str(built), "SELECT count(*) AS n FROM rejects")
    assert result.code == 0


def test_sql_error_exact_text(capsys: pytest.CaptureFixture[str], built: Path) -> None:
    result = run_cli(capsys, "query", str(built), "SELEC nope")
    assert result.code == 1
    assert result.err == (
        "Error: the query failed: sql parser error: Expected: an SQL statement, found: SELEC "
        "at Line: 1, Column: 1; tables: timeline, requests, rejects\n"
    )


def test_missing_outdir_exact_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run_cli(capsys, "query", str(tmp_path), "SELECT 1")
    assert result.code == 1
    assert result.err == (
        f"Error: {str(tmp_path)!r} has no timeline.parquet; "
        f"run `timeline build INPUTS -o {tmp_path}` first\n"
    )


def test_same_answers_as_duckdb(built: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    ours = run_query(
        built,
        "SELECT model_revision, count(*) AS n FROM requests GROUP BY model_revision "
        "ORDER BY n DESC, model_revision",
    ).rows()
    theirs = duckdb.sql(
        f"SELECT model_revision, count(*) AS n FROM '{built / 'requests.parquet'}' "
        "GROUP BY ALL ORDER BY n DESC, model_revision NULLS FIRST"
    ).fetchall()
    assert ours == theirs
