"""Incident scenarios with ground truth: assignment, clock recovery, causal order (issue acceptance)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, build
from timeline.scenarios.evaluate import Evaluation, evaluate
from timeline.scenarios.generate import SCENARIOS, write_scenario

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"
SKEW_TOLERANCE_MS = 5.0


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[Evaluation, int]]:
    out: dict[str, tuple[Evaluation, int]] = {}
    registry = default_registry(plugins=False)
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(SCENARIOS):
            outdir = Path(tmp) / name
            report = build(
                [str(SCENARIO_DIR / name / "logs")], registry, BuildOptions(outdir=outdir)
            )
            out[name] = (evaluate(SCENARIO_DIR / name, outdir), report.totals["lines_rejected"])
    return out


@pytest.mark.slow
def test_committed_scenarios_are_what_the_generator_writes(tmp_path: Path) -> None:
    for name in sorted(SCENARIOS):
        write_scenario(name, tmp_path / name, 300)
        _assert_same_tree(tmp_path / name, SCENARIO_DIR / name)


def _assert_same_tree(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), (
            f"{rel} differs: run python fixtures/generate_scenarios.py"
        )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_line_parses(results: dict[str, tuple[Evaluation, int]], name: str) -> None:
    assert results[name][1] == 0


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_events_with_ids_are_assigned_exactly(
    results: dict[str, tuple[Evaluation, int]], name: str
) -> None:
    ev = results[name][0]
    assert (ev.id_precision, ev.id_recall) == (1.0, 1.0)
    assert ev.events_without_truth == 0


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_heuristic_links_are_right_at_least_95_percent(
    results: dict[str, tuple[Evaluation, int]], name: str
) -> None:
    ev = results[name][0]
    assert ev.heuristic_events > 0
    assert ev.heuristic_precision >= 0.95
    assert ev.heuristic_recall >= 0.95


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_injected_skews_are_recovered_and_order_is_causal(
    results: dict[str, tuple[Evaluation, int]], name: str
) -> None:
    ev = results[name][0]
    for skew in ev.skews:
        assert skew["error_ms"] <= SKEW_TOLERANCE_MS, skew
    assert ev.violations_after == 0


def test_the_skew_scenario_has_a_skew() -> None:
    truth = (SCENARIO_DIR / "clock_skew_forwarded_ids" / "ground_truth.json").read_text()
    assert '"inference/infer-b.jsonl": -2500.0' in truth
