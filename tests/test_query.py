"""`timeline query`: SQL over events, timeline, requests and rejects; readable output; the
attributes map per engine; DuckDB; read-only; every example in docs/querying.md runs."""

from __future__ import annotations

import csv
import io
import json
import shlex
import sys
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
        "Error: the query failed: a statement starts with DESCRIBE, EXPLAIN, FROM, SELECT, SHOW, "
        "SUMMARIZE, TABLE, VALUES, WITH, not 'SELEC'\n"
    )
    result = run_cli(capsys, "query", str(built), "SELECT nope FROM requests")
    assert result.code == 1
    assert result.err.startswith("Error: the query failed: ")
    assert result.err.endswith("; tables: events, timeline, requests, rejects\n")


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


DOCS = ROOT / "docs" / "querying.md"


def test_every_table_the_build_writes(capsys: pytest.CaptureFixture[str], built: Path) -> None:
    sql = (
        "SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM timeline) AS tl, "
        "(SELECT count(*) FROM requests) AS requests, (SELECT count(*) FROM rejects) AS rejects"
    )
    rows = json.loads(run_cli(capsys, "query", str(built), sql, "--format", "json").out)
    assert rows[0]["events"] == rows[0]["tl"] > rows[0]["requests"] == 300


def test_attributes_read_one_key(capsys: pytest.CaptureFixture[str], built: Path) -> None:
    sql = (
        "SELECT attributes.user_agent AS ua, count(*) AS n FROM timeline "
        "WHERE attributes.user_agent IS NOT NULL GROUP BY 1 ORDER BY n DESC"
    )
    r = run_cli(capsys, "query", str(built), sql, "--format", "json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert rows and all(row["ua"] and row["n"] > 0 for row in rows)
    same = run_cli(
        capsys,
        "query",
        str(built),
        sql.replace("SELECT attributes.user_agent", "SELECT attributes->>'user_agent'"),
        "--format",
        "json",
    )
    assert same.code == 0 and json.loads(same.out) == rows


def test_select_star_is_one_line_per_row_with_cut_cells(
    capsys: pytest.CaptureFixture[str], built: Path
) -> None:
    r = run_cli(capsys, "query", str(built), "SELECT * FROM timeline LIMIT 3")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 2 + 3 + 1 and lines[-1] == "3 rows"
    header = lines[0].split()
    assert header[0] == "event_id" and "attributes" in header and "correlation_id" in header
    widths = [len(cell) for cell in lines[1].split()]
    assert max(widths) <= 40
    assert "…" in r.out  # the attributes of a gateway event are wider than a cell


def test_parquet_output(capsys: pytest.CaptureFixture[str], built: Path, tmp_path: Path) -> None:
    import polars as pl

    target = tmp_path / "r.parquet"
    r = run_cli(capsys, "query", str(built), SQL, "--format", "parquet", "--output", str(target))
    assert (r.code, r.out, r.err) == (0, "", f"wrote 2 rows to {target}\n")
    assert pl.read_parquet(target).rows() == [(None, 261), ("policy block", 39)]
    r = run_cli(capsys, "query", str(built), SQL, "--format", "parquet")
    assert r.code == 2 and "--format parquet writes a file: add --output FILE.parquet" in r.err
    text = tmp_path / "r.csv"
    r = run_cli(capsys, "query", str(built), SQL, "--format", "csv", "-o", str(text))
    assert r.code == 0 and text.read_text().splitlines()[0] == "failure_reason,n"


@pytest.mark.parametrize(
    "sql",
    [
        "COPY requests TO '/tmp/stolen.csv'",
        "ATTACH 'x.db' AS x",
        "INSTALL httpfs",
        "SELECT 1; DROP TABLE requests",
        "/* hi */ PRAGMA version",
        "SET threads = 1",
    ],
)
@pytest.mark.parametrize("engine", [[], ["--duckdb"]])
def test_only_one_read_only_statement(
    capsys: pytest.CaptureFixture[str], built: Path, sql: str, engine: list[str]
) -> None:
    r = run_cli(capsys, "query", *engine, str(built), sql)
    assert r.code == 1
    assert "refused" in r.err or "several statements" in r.err


def test_semicolons_and_keywords_inside_literals_are_fine(
    capsys: pytest.CaptureFixture[str], built: Path
) -> None:
    r = run_cli(
        capsys, "query", str(built), "SELECT 'a;COPY' AS x -- ; ATTACH\n;", "-o", "/dev/null"
    )
    assert r.code == 0, r.err


def test_duckdb_engine(capsys: pytest.CaptureFixture[str], built: Path) -> None:
    pytest.importorskip("duckdb")
    sql = "SELECT failure_reason, count(*) AS n FROM requests GROUP BY ALL ORDER BY n DESC"
    rows = json.loads(run_cli(capsys, "query", "--duckdb", str(built), sql, "--format", "json").out)
    assert rows == [{"failure_reason": None, "n": 261}, {"failure_reason": "policy block", "n": 39}]
    r = run_cli(
        capsys, "query", "--duckdb", str(built), f"SELECT * FROM read_csv('{SCENARIO}/x.csv')"
    )
    assert r.code == 1 and r.err.startswith("Error: the query failed: ")


def test_duckdb_missing_says_how_to_install(
    capsys: pytest.CaptureFixture[str], built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb now raises ImportError
    r = run_cli(capsys, "query", "--duckdb", str(built), "SELECT 1")
    assert (r.code, r.err) == (
        1,
        "Error: --duckdb needs DuckDB: pip install duckdb (or run the query with polars SQL, "
        "without --duckdb)\n",
    )


def _blocks(lang: str) -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    return [part.split("```", 1)[0] for part in text.split(f"```{lang}\n")[1:]]


def test_documented_commands_run(
    capsys: pytest.CaptureFixture[str], built: Path, tmp_path: Path
) -> None:
    commands = [
        line
        for block in _blocks("sh")
        for line in block.splitlines()
        if line.startswith("timeline")
    ]
    assert len(commands) >= 8
    for command in commands:
        args = [str(built) if a == "out" else a for a in shlex.split(command)[1:]]
        args = [str(tmp_path / a) if a.endswith(".parquet") else a for a in args]
        if args[args.index(str(built)) - 1] == "--duckdb":
            pytest.importorskip("duckdb")
        r = run_cli(capsys, *args)
        assert r.code == 0, f"{command}: {r.err}"
        assert r.out or "--output" in args, command


def test_documented_python_runs(capsys: pytest.CaptureFixture[str], built: Path) -> None:
    namespace: dict[str, object] = {}
    for block in _blocks("python"):
        exec(block.replace('"out/', f'"{built}/'), namespace)  # our own documentation, not input
    out = capsys.readouterr().out
    assert "user_agent" in out and "failing_share" in out


def test_documented_duckdb_sql_runs(built: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    blocks = _blocks("sql")
    assert len(blocks) >= 6
    for block in blocks:
        rows = duckdb.sql(block.replace("'out/", f"'{built}/")).fetchall()
        assert rows or "rejects" in block, block  # this incident has no rejected line


def test_duckdb_reads_attributes_as_documented(built: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    path = built / "timeline.parquet"
    sql = (
        "SELECT element_at(attributes, 'user_agent')[1] AS a, attributes['user_agent'] AS b "
        f"FROM '{path}' WHERE element_at(attributes, 'user_agent')[1] IS NOT NULL LIMIT 5"
    )
    rows = duckdb.sql(sql).fetchall()
    assert rows
    # the subscript is the value in current DuckDB, a one-element list in older releases
    assert all(b in (a, [a]) for a, b in rows)
