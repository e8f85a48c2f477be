"""Hypothesis properties of correlation on a generated incident with ground truth."""

from __future__ import annotations

import itertools
import tempfile
from functools import cache
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.correlation.config import CorrelationConfig
from timeline.correlation.ids import id_nodes
from timeline.correlation.run import correlate
from timeline.io.parquet import read_events
from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, build
from timeline.pipeline.config import BuildConfig
from timeline.scenarios.evaluate import with_truth
from timeline.scenarios.generate import SCENARIOS, write_scenario

REGISTRY = default_registry(plugins=False)
SKEWED = "inference/infer-b.jsonl"


@cache
def scenario() -> tuple[Path, pl.DataFrame]:
    """A small skew scenario built once: its directory and its events (with true keys)."""
    root = Path(tempfile.mkdtemp(prefix="tl-prop-"))
    write_scenario("clock_skew_forwarded_ids", root / "sc", 40, seed=3)
    build([str(root / "sc" / "logs")], REGISTRY, BuildOptions(outdir=root / "out", correlate=False))
    events = with_truth(read_events(root / "out" / "events.parquet"), root / "sc")
    return root / "sc", events


def _canon(events: pl.DataFrame) -> pl.DataFrame:
    return events.drop("rel", "key", "method")


def _members(timeline: pl.DataFrame) -> dict[str, list[tuple[object, ...]]]:
    """Each request's events by content, unordered."""
    out: dict[str, list[tuple[object, ...]]] = {}
    for r in timeline.filter(pl.col("correlation_id").is_not_null()).iter_rows(named=True):
        out.setdefault(r["correlation_id"], []).append(
            (r["ts_source"], r["layer"], r["event_type"], r["message"])
        )
    return {k: sorted(v, key=repr) for k, v in out.items()}


def _chains(timeline: pl.DataFrame) -> dict[str, list[tuple[object, ...]]]:
    """Each request's events in order, by content (no file positions)."""
    rows = timeline.filter(pl.col("correlation_id").is_not_null()).sort("correlation_id", "seq")
    out: dict[str, list[tuple[object, ...]]] = {}
    for r in rows.iter_rows(named=True):
        out.setdefault(r["correlation_id"], []).append(
            (r["ts"], r["layer"], r["event_type"], r["status"], r["message"])
        )
    return out


@pytest.mark.slow  # a hypothesis run of many examples: CI's slow step
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_permuting_events_gives_the_same_timeline(seed: int) -> None:
    events = _canon(scenario()[1])
    base, _, _ = correlate(events, CorrelationConfig())
    shuffled, _, _ = correlate(
        events.sample(fraction=1.0, shuffle=True, seed=seed), CorrelationConfig()
    )
    assert shuffled.equals(base)


@pytest.mark.slow  # about 40 s: runs in the slow step of .ci/run
@settings(max_examples=4, deadline=None)
@given(cuts=st.lists(st.integers(1, 200), min_size=1, max_size=4, unique=True))
def test_re_splitting_input_files_gives_the_same_requests(cuts: list[int]) -> None:
    sc, _ = scenario()
    with tempfile.TemporaryDirectory() as tmp:
        split = Path(tmp) / "split"
        for path in sorted(
            p for p in (sc / "logs").rglob("*") if p.is_file() and p.suffix != ".gz"
        ):
            lines = path.read_text().splitlines(keepends=True)
            bounds = sorted({c % max(len(lines), 1) for c in cuts} | {0, len(lines)})
            for i, (a, b) in enumerate(itertools.pairwise(bounds)):
                if a < b:
                    target = split / path.parent.name / f"{path.stem}.part{i}{path.suffix}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text("".join(lines[a:b]))
        for path in sorted((sc / "logs").rglob("*.gz")):
            target = split / path.parent.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
        results = {}
        for clock in ("file", "directory"):
            cfg = BuildConfig(correlation=CorrelationConfig(clock_source=clock))
            for label, inputs in (("whole", sc / "logs"), ("split", split)):
                out = Path(tmp) / f"{label}-{clock}"
                build([str(inputs)], REGISTRY, BuildOptions(outdir=out, config=cfg))
                results[label, clock] = read_events(out / "timeline.parquet")
        # Requests never depend on how files are cut.
        assert _members(results["whole", "file"]) == _members(results["split", "file"])
        # With one clock per directory, the corrected, ordered timeline is identical too; with one
        # clock per file, each part of a cut skewed file gets its own estimate (within its bound).
        assert _chains(results["whole", "directory"]) == _chains(results["split", "directory"])


def test_events_are_conserved_and_aliasing_is_transitive() -> None:
    events = _canon(scenario()[1])
    timeline, _, _ = correlate(events, CorrelationConfig())
    assert sorted(timeline["event_id"].to_list()) == sorted(events["event_id"].to_list())
    nodes = id_nodes(
        timeline.with_row_index("row").select(
            pl.col("row").cast(pl.Int64), pl.col("ts_source").alias("ts"), "ids"
        ),
        (),
        1000,
        3600.0,
    ).edges
    linked = nodes.join(
        timeline.with_row_index("row").select(pl.col("row").cast(pl.Int64), "correlation_id"),
        on="row",
    )
    assert (
        linked.group_by("node").agg(pl.col("correlation_id").n_unique())["correlation_id"].max()
        == 1
    )


@settings(max_examples=10, deadline=None)
@given(
    fraction=st.floats(0.06, 0.9),
    value=st.sampled_from(["-", "0", "null", "shared-id-123"]),
    seed=st.integers(0, 2**31),
)
def test_a_degenerate_id_never_merges_two_requests(fraction: float, value: str, seed: int) -> None:
    _, events = scenario()
    picked = events.select(
        pl.int_range(pl.len()).shuffle(seed).lt(int(events.height * fraction)).alias("p")
    )["p"]
    extra = (
        pl.when(picked)
        .then(
            pl.col("ids").list.concat(
                pl.lit([{"kind": "x_request_id", "value": value}], dtype=events.schema["ids"])
            )
        )
        .otherwise(pl.col("ids"))
    )
    marked = events.with_columns(extra.alias("ids"))
    # A request has at most ~10 events here: 20 is already implausibly many for one id.
    config = CorrelationConfig(max_events_per_id=20)
    timeline, _, report = correlate(_canon(marked), config)
    joined = timeline.join(marked.select("event_id", "key"), on="event_id")
    per_request = joined.filter(
        pl.col("correlation_id").is_not_null() & pl.col("key").is_not_null()
    )
    assert per_request.group_by("correlation_id").agg(pl.col("key").n_unique())["key"].max() == 1
    assert report.degenerate_ids


@settings(max_examples=10, deadline=None)
@given(offset=st.floats(-20_000, 20_000).filter(lambda x: abs(x) > 50))
def test_a_random_skew_within_the_bound_is_recovered(offset: float) -> None:
    _, events = scenario()
    skewed_file = pl.col("source_file").str.ends_with(SKEWED)
    shift = pl.duration(microseconds=int(offset * 1000))
    moved = _canon(events).with_columns(
        pl.when(skewed_file)
        .then(pl.col("ts_source") + shift)
        .otherwise(pl.col("ts_source"))
        .alias("ts_source")
    )
    _, _, report = correlate(moved, CorrelationConfig())
    fix = next(c for c in report.corrections if c.source.endswith(SKEWED))
    assert fix.applied
    # the scenario itself is 2.5 s behind; the estimate undoes both
    assert abs(fix.offset_ms - (2500.0 - offset)) <= 5.0
    assert report.violations_after == 0


@cache
def _scenario_events(name: str) -> pl.DataFrame:
    root = Path(tempfile.mkdtemp(prefix="tl-parts-"))
    write_scenario(name, root / "sc", 25, seed=5)
    build([str(root / "sc" / "logs")], REGISTRY, BuildOptions(outdir=root / "out", correlate=False))
    return read_events(root / "out" / "events.parquet")


# Budgets: 1 byte (out of core, partitions of the smallest size), 64 KiB (out of core), 8 GiB
# (in memory).
BUDGETS = (1, 64 << 10, 8 << 30)


@pytest.mark.slow  # about 40 s: runs in the slow step of .ci/run
@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from(sorted(SCENARIOS)),
    parts=st.integers(min_value=0, max_value=40),
    budget=st.sampled_from(BUDGETS),
    workers=st.integers(min_value=1, max_value=4),
)
def test_the_number_of_partitions_never_changes_the_result(
    name: str, parts: int, budget: int, workers: int
) -> None:
    """Correlation cut into any number of partitions (id parts, row ranges, request buckets, time
    slices and ranges all follow it; 0: as the budget chooses), held in memory or spilled to
    files under any budget, worked on by any number of threads, gives the one-partition,
    one-thread, in-memory result exactly."""
    events = _scenario_events(name)
    one_t, one_r, one_rep = correlate(
        events, CorrelationConfig(), buckets=1, memory_budget=8 << 30, workers=1
    )
    many_t, many_r, many_rep = correlate(
        events, CorrelationConfig(), buckets=parts, memory_budget=budget, workers=workers
    )
    assert one_t.equals(many_t)
    assert one_r.equals(many_r)
    assert one_rep.to_dict() == many_rep.to_dict()


def test_skew_is_estimated_from_a_deterministic_sample_of_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above SKEW_REQUESTS requests the evidence is a sample by request hash: the skew is still
    recovered, fewer requests are used, and the partition count still changes nothing."""
    import timeline.correlation.pipeline as pipeline

    _, events = scenario()
    _, _, full = correlate(_canon(events), CorrelationConfig())
    monkeypatch.setattr(pipeline, "SKEW_REQUESTS", 15)
    one_t, _, one = correlate(_canon(events), CorrelationConfig(), buckets=1)
    many_t, _, many = correlate(_canon(events), CorrelationConfig(), buckets=6)
    assert one.to_dict() == many.to_dict()
    assert one_t.equals(many_t)
    fix = next(c for c in one.corrections if c.source.endswith(SKEWED))
    whole = next(c for c in full.corrections if c.source.endswith(SKEWED))
    assert fix.applied
    assert 0 < fix.requests < whole.requests
    assert abs(fix.offset_ms - 2500.0) <= 5.0
    assert one.violations_after == 0
