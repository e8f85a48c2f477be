"""The benchmark harness on tiny corpora: every tool writes one event per corpus line (per span
in OTLP files), the baselines agree, and the per-parser files and figures are well formed."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from benchmarks import baselines, run
from benchmarks import parsers as parser_bench
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
    results = [run.run_tool(tool, corpus, tmp_path / tool) for tool in run.DEFAULT_TOOLS]
    for m in results:
        assert m.ok, (m.tool, m.returncode, m.events, m.detail.get("error"))
        assert m.events == corpus.lines
        assert m.wall_s > 0 and m.peak_rss_mb > 0
        assert m.cpu_s > 0 and m.cpu_util > 0
    text = run.table(results, corpus)
    assert text.count("| ok |") == len(results)
    ratios = run.ratios(results, REQUESTS)
    assert set(ratios) == {"wall_vs_duckdb", "wall_vs_polars"}
    json.dumps(ratios)


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
