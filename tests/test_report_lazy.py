"""The report reads the timeline through lazy scans: it never materializes the whole timeline,
and counting values per request over spilled hash partitions gives the same appendix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from timeline.analyze import features
from timeline.analyze.appendix import AnalysisOptions, analyze
from timeline.analyze.exemplars import MAX_EVENTS
from timeline.analyze.load import load_outdir
from timeline.io.parquet import read_events
from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, build
from timeline.schema import POLARS_SCHEMA

SCENARIO = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lazy")
    build(
        [str(SCENARIO / "model_revision_rollout" / "logs")],
        default_registry(plugins=False),
        BuildOptions(outdir=out),
    )
    return out


@pytest.fixture
def collected(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """(rows, columns) of every frame any lazy query (or eager operation) materializes."""
    shapes: list[tuple[int, int]] = []
    original = pl.LazyFrame.collect

    def recording(self: pl.LazyFrame, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if isinstance(result, pl.DataFrame):
            shapes.append(result.shape)
        return result

    monkeypatch.setattr(pl.LazyFrame, "collect", recording)
    yield shapes


def test_load_outdir_opens_the_large_tables_lazily(outdir: Path) -> None:
    data = load_outdir(outdir)
    assert isinstance(data.timeline, pl.LazyFrame)
    assert isinstance(data.requests, pl.LazyFrame)
    assert data.timeline.collect_schema() == POLARS_SCHEMA


def test_analysis_never_materializes_the_timeline(
    outdir: Path, collected: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    events = read_events(outdir / "timeline.parquet").height
    requests = pl.read_parquet(outdir / "requests.parquet").height
    assert events > 4 * requests  # so that a per-event frame stands out

    read_parquet = pl.read_parquet

    def no_read(source: Any, *args: Any, **kwargs: Any) -> Any:
        assert Path(source).name not in ("timeline.parquet", "requests.parquet"), source
        return read_parquet(source, *args, **kwargs)

    monkeypatch.setattr(pl, "read_parquet", no_read)
    doc = analyze(load_outdir(outdir), AnalysisOptions())
    assert doc["exemplars"] and doc["suspects"]
    assert collected
    # Only the exemplar requests are read as whole events; aggregates are small.
    wide = [(rows, cols) for rows, cols in collected if cols >= 20]
    assert all(rows <= 4 * MAX_EVENTS * 2 for rows, _ in wide), wide
    assert max(rows for rows, _ in collected) < events


def test_value_counts_match_the_per_request_definition(outdir: Path) -> None:
    """Counts from the scan equal (request, field, value) made unique, joined to the flags."""
    timeline = read_events(outdir / "timeline.parquet")
    flags = pl.read_parquet(outdir / "requests.parquet").select(
        "correlation_id", pl.col("failed").fill_null(False).alias("failing")
    )
    linked = timeline.filter(pl.col("correlation_id").is_not_null())
    long = pl.concat(
        linked.filter(pl.col(name).is_not_null()).select(
            "correlation_id",
            pl.lit(name).alias("field"),
            pl.col(name).cast(pl.String).alias("value"),
        )
        for name in features.SUSPECT_FIELDS
    ).unique()
    expected = (
        long.join(flags, on="correlation_id")
        .group_by("field", "value")
        .agg(
            pl.col("failing").sum().cast(pl.Int64).alias("failing_with"),
            (~pl.col("failing")).sum().cast(pl.Int64).alias("rest_with"),
        )
        .sort("field", "value")
    )
    for parts in (1, 3):
        got = features.feature_counts(
            timeline.lazy(), flags.lazy(), flags.height, parts=parts, spill_dir=outdir
        )
        assert got.select(expected.columns).sort("field", "value").equals(expected), parts
    assert not list(outdir.glob(".features-*"))


def test_spilled_partitions_give_the_same_appendix(
    outdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = analyze(load_outdir(outdir), AnalysisOptions())
    monkeypatch.setattr(features, "PARTITION_REQUESTS", 10)
    monkeypatch.setattr(features, "SPILL_PARTITION_REQUESTS", 40)
    monkeypatch.setattr(features, "SPILL_BATCH_ROWS", 100)
    assert features.partitions(300) == 8
    assert analyze(load_outdir(outdir), AnalysisOptions()) == whole
    assert not list(outdir.glob(".features-*"))


def test_custom_failing_predicate_reads_lazily(
    outdir: Path, collected: list[tuple[int, int]]
) -> None:
    doc = analyze(load_outdir(outdir), AnalysisOptions(failing="status_code >= 500"))
    assert doc["scope"]["failing_requests"] >= 0
    assert all(cols < 20 or rows <= 4 * MAX_EVENTS * 2 for rows, cols in collected)
