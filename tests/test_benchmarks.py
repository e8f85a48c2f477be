"""The benchmark harness on tiny corpora: every tool writes one event per corpus line (per span
in OTLP files), the baselines agree, and the per-parser files and figures are well formed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from benchmarks import baselines, issue15, measure, run, session
from benchmarks import parsers as parser_bench
from benchmarks import targets as tg
from benchmarks.corpus import FORMATS, MODERN, find, generate
from timeline.parserkit.api import LINE_SCHEMA, Source

REQUESTS = 300


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench") / "corpus"
    generate(root, REQUESTS, jobs=1)
    return root


@pytest.fixture(scope="module")
def modern_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench") / "modern"
    generate(root, 120, jobs=1, stack="modern")
    return root


@pytest.mark.slow
def test_corpus_counts_and_reuse(corpus_dir: Path) -> None:
    corpus = find(corpus_dir, REQUESTS)
    assert corpus is not None
    files = corpus.files()
    assert len(files) == len(FORMATS)
    for rel, info in files.items():
        path = corpus.logs / rel
        assert path.read_bytes().count(b"\n") == info["lines"]
    # about 6 lines per request: a few requests are blocked or fail early
    assert 5.8 * REQUESTS <= corpus.lines <= 6 * REQUESTS
    assert find(corpus_dir, REQUESTS + 1) is None
    assert generate(corpus_dir, REQUESTS, jobs=1).manifest == corpus.manifest


@pytest.mark.slow
def test_gzip_corpus_is_read_by_both_baselines(tmp_path: Path) -> None:
    corpus = generate(tmp_path / "gz", 120, gz=True, jobs=1)
    assert all(corpus.path(fmt).read_bytes()[:2] == b"\x1f\x8b" for fmt in FORMATS)
    for name, runner in baselines.RUNNERS.items():
        assert runner(corpus, tmp_path / f"{name}.parquet") == corpus.lines


@pytest.mark.slow
def test_baselines_agree(corpus_dir: Path, tmp_path: Path) -> None:
    corpus = baselines.load(corpus_dir)
    frames = []
    for name, runner in baselines.RUNNERS.items():
        out = tmp_path / f"{name}.parquet"
        assert runner(corpus, out) == corpus.lines
        frame = pl.read_parquet(out).with_columns(pl.col("ts").dt.cast_time_unit("ms"))
        assert frame.columns == list(baselines.COLUMNS)
        assert frame["ts"].null_count() == 0
        frames.append(frame.sort(baselines.COLUMNS, nulls_last=True))
    assert frames[0].equals(frames[1])


@pytest.mark.slow
def test_runner_measures_every_tool(corpus_dir: Path, tmp_path: Path) -> None:
    corpus = baselines.load(corpus_dir)
    results = [measure.run_tool(tool, corpus, tmp_path / tool) for tool in run.DEFAULT_TOOLS]
    for m in results:
        assert m.ok, (m.tool, m.returncode, m.events, m.detail.get("error"))
        assert m.events == corpus.lines
        assert m.wall_s > 0 and m.peak_rss_mb > 0
        assert m.cpu_s > 0 and m.cpu_util > 0
    text = session.table(results, corpus)
    assert text.count("| ok |") == len(results)
    ratios = session.ratios(results, REQUESTS)
    assert set(ratios) == {"wall_vs_duckdb", "wall_vs_polars"}
    assert ratios["wall_vs_duckdb"]["target"] == "<= 8x"  # issue 15, not issue 7
    assert ratios["wall_vs_polars"]["met"] is None
    json.dumps(ratios)
    (timeline,) = [m for m in results if m.tool == "timeline"]
    assert set(timeline.detail["stages"]) == {"parse", "correlation", "appendix", "exit"}


def test_modern_corpus_counts(modern_dir: Path) -> None:
    corpus = find(modern_dir, 120, stack="modern")
    assert corpus is not None and corpus.stack == "modern"
    assert find(modern_dir, 120) is None  # the current corpus of that size is another one
    files = corpus.files()
    assert len(files) == len(MODERN)
    istio = corpus.path(MODERN[-1])
    assert istio.name.endswith(".gz") and istio.read_bytes()[:2] == b"\x1f\x8b"
    otlp = corpus.path(MODERN[0]).read_text(encoding="utf-8")
    assert files["otel/traces.jsonl"]["events"] == otlp.count('"spanId"') > 4 * 120
    assert corpus.lines == sum(info["events"] for info in files.values())


def test_modern_baselines_agree(modern_dir: Path, tmp_path: Path) -> None:
    corpus = baselines.load(modern_dir)
    frames = []
    for name, runner in baselines.RUNNERS.items():
        out = tmp_path / f"{name}.parquet"
        assert runner(corpus, out) == corpus.lines
        frame = pl.read_parquet(out).with_columns(pl.col("ts").dt.cast_time_unit("ms"))
        assert frame.columns == list(baselines.COLUMNS)
        frames.append(frame.sort(baselines.COLUMNS, nulls_last=True))
    assert frames[0].equals(frames[1])
    # uvicorn access lines print no time: the only rows without one
    untimed = frames[0].filter(pl.col("ts").is_null())
    assert untimed.height > 0
    assert set(untimed["source"]) == {"vllm"} and untimed["status"].null_count() == 0


def test_otlp_vectorized_equals_the_python_walker(
    modern_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from parsers.otel.otlp_json import parser as otlp

    text = (modern_dir / "logs" / MODERN[0].path).read_text(encoding="utf-8").splitlines()[:40]
    lines = pl.DataFrame(
        {"source_line": list(range(1, len(text) + 1)), "line": text}, schema=LINE_SCHEMA
    )
    fast = otlp.OtlpJsonParser().parse(Source("t", lines))
    monkeypatch.setattr(otlp, "odd_documents", lambda _: pl.lit(True))
    walked = otlp.OtlpJsonParser().parse(Source("t", lines))
    assert fast.events.height == walked.events.height > 4 * 40
    assert fast.events.equals(walked.events)


def test_parser_files_repeat_golden_inputs(tmp_path: Path) -> None:
    folders = dict(parser_bench.builtin_folders())
    assert {"otlp_json", "nginx_combined", "vllm"} <= set(folders)
    path = parser_bench.parser_file("nginx_combined", folders["nginx_combined"], tmp_path, 0.05)
    assert path is not None and path.stat().st_size >= 50_000
    inputs = parser_bench.golden_inputs(folders["nginx_combined"])
    assert inputs and not any(p.name.startswith("bad") for p in inputs)
    figure = parser_bench.ParserFigure("x", 20.0, 10, 10, 0, 0.5, 0.5, 1.0, 1.0)
    assert figure.parse_mb_s == 40.0 and figure.build_mb_s == 20.0
    assert "| x | 20.0 |" in parser_bench.table([figure])


# --- issue 15: the targets table, per-stage figures, one command for every row -------------------


def test_targets_verdicts_and_table() -> None:
    wall = tg.target("1m_wall")
    assert tg.verdict(wall, 15.0) == "stretch met"
    assert tg.verdict(wall, 30.0, tg.ONE_M) == "met"
    assert tg.verdict(wall, 41.0) == "MISSED"
    assert tg.verdict(wall, 5.0, 20_000).startswith("n/a (measured at 20k")
    assert tg.verdict(wall, None) == "not run"
    parsers = tg.target("parsers_min_mb_s")
    assert tg.verdict(parsers, 61.0) == "stretch met" and tg.verdict(parsers, 24.9) == "MISSED"
    assert tg.verdict(tg.target("1m_ratio_duckdb"), 7.0, 20_000) == "met (at 20k)"
    assert tg.verdict(tg.target("spark_1m_wall"), 100.0) == "no target"
    assert tg.row(wall, 50.0, tg.ONE_M, failed="timeline killed")["verdict"].startswith("FAILED")
    assert [tg.scale(n) for n in (300, 20_000, tg.ONE_M, 1_500_000)] == ["300", "20k", "1M", "1.5M"]
    rows = [tg.row(t, 1.0, 300, note="a | b") for t in reversed(tg.TARGETS)]
    text = tg.table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + len(tg.TARGETS)
    assert [line.split(" | ")[0].removeprefix("| ") for line in lines[2:]] == [
        t.key for t in tg.TARGETS
    ]  # issue order, whatever the input order
    assert "a \\| b" in text  # a note cannot break the table


def test_stages_from_output_mtimes(tmp_path: Path) -> None:
    started = 1_000_000.0
    for name, at in (
        ("events.parquet", 9.0),
        ("build.json", 10.0),
        ("timeline.parquet", 15.0),
        ("correlation.json", 16.0),
        ("appendix.md", 19.0),
        ("appendix.html", 20.0),
    ):
        (tmp_path / name).write_text("x", encoding="utf-8")
        os.utime(tmp_path / name, (started + at, started + at))
    samples = [(t / 2, t * 0.9, 100.0 + 10 * t) for t in range(43)]  # every 0.5 s, 1.8 cores
    trace = measure.Trace(started_epoch=started, samples=samples)
    figures = measure.stages(tmp_path, trace, wall_s=21.0, cpu_s=40.0)
    assert list(figures) == ["parse", "correlation", "appendix", "exit"]
    assert figures["parse"]["wall_s"] == 10.0 and figures["parse"]["cpu_util"] == 1.8
    assert figures["correlation"]["start_s"] == 10.0 and figures["correlation"]["wall_s"] == 6.0
    assert figures["appendix"]["wall_s"] == 4.0 and figures["exit"]["wall_s"] == 1.0
    assert figures["appendix"]["peak_rss_mb"] == 100.0 + 10 * 40
    assert "parse 10.0 s (1.80 cores" in measure.stage_line(figures)
    # --no-correlate: only the parse stage and the exit
    for name in ("timeline.parquet", "correlation.json", "appendix.md", "appendix.html"):
        (tmp_path / name).unlink()
    assert list(measure.stages(tmp_path, trace, 21.0, 40.0)) == ["parse", "exit"]


def test_parser_row_and_spark_output() -> None:
    def fig(name: str, mb_s: float, events: int = 100, expected: int = 100) -> Any:
        f = parser_bench.ParserFigure(name, mb_s, 100, events, 0, 1.0, 1.0, 2.0, 2.0)
        f.expected_events = expected
        return f

    value, note, failed = issue15.parser_row(
        [fig("a", 30.0), fig("b", 12.0), fig("whole", 1.0, events=2, expected=400)]
    )
    assert value == 12.0 and failed == ""
    assert "slowest b" in note and "whole (2 of 400)" in note
    broken = fig("c", 0.0)
    broken.error = "boom"
    assert issue15.parser_row([fig("a", 30.0), broken])[2] == "errors: c"
    out = issue15.parse_spark_output(
        "corpus: 1 requests\nlocal engine: 12.5 s\nspark engine (local[2]): 40.0 s (session start "
        "not counted)\nratio spark/local: 3.20\ntimelines equal: True\n"
    )
    assert out == {"local_s": 12.5, "master": "local[2]", "spark_s": 40.0, "equal": True}


def _fake_measure(
    tool: str, corpus: Any, outdir: Path, *args: Any, **kwargs: Any
) -> measure.Measure:
    wall = {"duckdb": 1.0, "polars": 2.0}.get(tool, 6.0)
    detail: dict[str, Any] = {"loadavg_before": 0.5, "loadavg_after": 0.6}
    if tool.startswith("timeline"):
        detail["stages"] = {
            "parse": {
                "start_s": 0.0,
                "wall_s": 4.0,
                "cpu_s": 7.2,
                "cpu_util": 1.8,
                "peak_rss_mb": 9,
            }
        }
    cmd = ["taskset", "-c", "0"] if kwargs.get("cpus") else []
    return measure.Measure(tool, cmd, wall, 500.0, 0, corpus.lines, corpus.lines, 2 * wall, detail)


def test_issue15_prints_every_row_and_saves_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The orchestration with the tools faked (the real runs are in the slow test below)."""
    monkeypatch.setattr(session, "run_tool", _fake_measure)
    figures = [parser_bench.ParserFigure("nginx_combined", 1.0, 10, 10, 0, 0.04, 0.04, 0.1, 0.1)]
    monkeypatch.setattr(parser_bench, "run_all", lambda *a, **k: figures)
    spark = {"returncode": 0, "spark_s": 9.0, "local_s": 6.0, "equal": True}
    monkeypatch.setattr(issue15, "spark_run", lambda *a: spark)
    results = tmp_path / "issue15.json"
    argv = ["--issue15", "--requests", "40", "--large-requests", "60", "--gen-jobs", "1"]
    argv += ["--workdir", str(tmp_path / "w"), "--results", str(results), "--spark", "--scaling"]
    assert run.main(argv) == 0
    out = capsys.readouterr().out
    table = out.split("== issue 15: targets ==", 1)[1]
    for t in tg.TARGETS:
        assert f"| {t.key} |" in table
    assert "speed-up from 1 to" in out or len(os.sched_getaffinity(0)) == 1
    payload = json.loads(results.read_text(encoding="utf-8"))
    rows = {r["key"]: r for r in payload["rows"]}
    assert list(rows) == [t.key for t in tg.TARGETS]
    assert rows["1m_wall"]["value"] == 6.0 and rows["1m_wall"]["verdict"].startswith("n/a")
    assert rows["1m_ratio_duckdb"]["value"] == 6.0 and rows["1m_ratio_duckdb"]["verdict"] == (
        "met (at 40)"
    )
    assert rows["modern_ratio_duckdb"]["value"] == 6.0
    assert (
        rows["parsers_min_mb_s"]["value"] == 25.0 and rows["parsers_min_mb_s"]["verdict"] == "met"
    )
    assert rows["10m_wall"]["requests"] == 60 and rows["spark_1m_wall"]["value"] == 9.0
    assert payload["parse_cpu_util"] == 1.8
    assert rows["1m_peak_rss"]["note"] == "highest in parse (9 MB sampled)"
    assert {"1m", "modern", "parsers", "10m", "spark", "scaling"} <= set(payload["runs"])
    assert payload["machine"]["nproc"] and payload["timeline_source"]["path"]
    assert not (tmp_path / "w" / "corpus-40").exists()  # removed without --keep
    # one row again with --merge: the other rows stay, from the earlier run
    argv = ["--issue15", "--rows", "parsers", "--requests", "40", "--large-requests", "60"]
    argv += ["--workdir", str(tmp_path / "w"), "--results", str(results), "--merge"]
    assert run.main(argv) == 0
    merged = {r["key"]: r for r in json.loads(results.read_text(encoding="utf-8"))["rows"]}
    assert merged["1m_wall"]["value"] == 6.0 and merged["spark_1m_wall"]["value"] == 9.0
    assert merged["1m_wall"]["measured"] == payload["started"]


@pytest.mark.slow
def test_issue15_smoke_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real command on tiny corpora: every tool runs, every row is printed and saved."""
    results = tmp_path / "issue15.json"
    argv = ["--issue15", "--requests", "300", "--large-requests", "400", "--gen-jobs", "1"]
    argv += ["--parser-only", "nginx_combined", "--parser-mb", "0.02", "--scaling"]
    argv += ["--workdir", str(tmp_path / "w"), "--results", str(results)]
    assert run.main(argv) == 0
    table = capsys.readouterr().out.split("== issue 15: targets ==", 1)[1]
    payload = json.loads(results.read_text(encoding="utf-8"))
    for t in tg.TARGETS:
        assert f"| {t.key} |" in table
    rows = {r["key"]: r for r in payload["rows"]}
    assert all(rows[k]["value"] for k in rows if k != "spark_1m_wall")
    (tl,) = [r for r in payload["runs"]["1m"]["results"] if r["tool"] == "timeline"]
    assert set(tl["detail"]["stages"]) == {"parse", "correlation", "appendix", "exit"}
    assert tl["detail"]["loadavg_before"] >= 0 and "loadavg_after" in tl["detail"]
    assert payload["runs"]["scaling"]["runs"][0]["cores"] == 1


def test_otlp_baselines_agree_on_nested_documents(tmp_path: Path) -> None:
    """The OTLP branches (polars decodes lines as text) agree where the corpus never goes:
    several resources and scopes per document, key order, escapes, a status without code."""
    import duckdb

    def span(trace: str, name: str, start: int, status: dict[str, int]) -> dict[str, Any]:
        return {
            "name": name,
            "endTimeUnixNano": str(start + 1_234_567),
            "traceId": trace,
            "attributes": [{"key": "k", "value": {"stringValue": "v"}}],
            "startTimeUnixNano": str(start),
            "status": status,
        }

    t0 = 1_740_909_600_208_993_024
    tricky = 'say "hi", ok\u001f\t\u00e9'
    docs = [
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": []},
                    "scopeSpans": [
                        {"spans": [span("a" * 32, "one", t0, {"code": 2})]},
                        {"scope": {"name": "s"}, "spans": []},
                        {
                            "spans": [
                                span("b" * 32, tricky, t0 + 5, {}),
                                span("a" * 32, "x", t0, {}),
                            ]
                        },
                    ],
                },
                {"scopeSpans": [{"spans": [span("c" * 32, "three", t0 + 9, {"code": 1})]}]},
            ]
        },
        {"resourceSpans": [{"scopeSpans": [{"spans": [span("d" * 32, "d", t0, {"code": 0})]}]}]},
    ]
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    (fmt,) = [f for f in MODERN if f.parser == "otlp_json"]
    frames = [baselines._polars_frame(fmt, path).collect()]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    frames.append(con.sql(baselines._duckdb_select(fmt, path)).pl())
    con.close()
    frames = [
        f.with_columns(pl.col("ts").dt.cast_time_unit("ms")).sort(
            baselines.COLUMNS, nulls_last=True
        )
        for f in frames
    ]
    assert frames[0].height == 5 and frames[0].equals(frames[1])
    assert frames[0]["detail"].to_list().count(tricky) == 1
    assert frames[0]["status"].null_count() == 2


@pytest.mark.slow
@pytest.mark.parametrize("scratch", [False, True])
def test_correlation_stages_times_every_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scratch: bool
) -> None:
    from benchmarks import correlation_stages
    from timeline.pipeline import api

    logs = (
        Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "clock_skew_forwarded_ids"
    )
    out = tmp_path / "out"
    api.build([logs / "logs"], out, correlate=False, report=False)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir())
    results = tmp_path / "stages.json"
    argv = [str(out / "events.parquet"), "--budget", "1M", "--results", str(results)]
    assert correlation_stages.main(argv + (["--scratch"] if scratch else [])) == 0
    figures = json.loads(results.read_text(encoding="utf-8"))
    names = [s["name"] for s in figures["stages"]]
    assert names[0] == "1 ids exploded" and names[-1] == "9b requests summarised and written"
    assert len(names) == 9 and all(s["wall_s"] >= 0 for s in figures["stages"])
    assert figures["rows"] == pl.read_parquet(out / "events.parquet").height
    printed = capsys.readouterr().out
    assert "| 8 full events scattered by time |" in printed and "| total |" in printed
    # the copy is correlated beside the table and removed: the folder is as it was
    assert sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir()) == before
