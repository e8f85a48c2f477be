"""The benchmark harness on a tiny corpus: every tool writes one event per corpus line."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from benchmarks import baselines, run
from benchmarks.corpus import FORMATS, find, generate

REQUESTS = 300
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench") / "corpus"
    generate(root, REQUESTS, jobs=1)
    return root


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


def test_gzip_corpus_is_read_by_both_baselines(tmp_path: Path) -> None:
    corpus = generate(tmp_path / "gz", 120, gz=True, jobs=1)
    assert all(corpus.path(fmt).read_bytes()[:2] == b"\x1f\x8b" for fmt in FORMATS)
    for name, runner in baselines.RUNNERS.items():
        assert runner(corpus, tmp_path / f"{name}.parquet") == corpus.lines


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


def test_runner_measures_every_tool(corpus_dir: Path, tmp_path: Path) -> None:
    corpus = baselines.load(corpus_dir)
    results = [run.run_tool(tool, corpus, tmp_path / tool) for tool in run.DEFAULT_TOOLS]
    for m in results:
        assert m.ok, (m.tool, m.returncode, m.events, m.detail.get("error"))
        assert m.events == corpus.lines
        assert m.wall_s > 0 and m.peak_rss_mb > 0
    text = run.table(results, corpus)
    assert text.count("| ok |") == len(results)
    ratios = run.ratios(results, REQUESTS)
    assert set(ratios) == {"wall_vs_duckdb", "wall_vs_polars"}
    json.dumps(ratios)
