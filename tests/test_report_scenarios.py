"""Acceptance: on every incident scenario the top suspect is the injected cause, and the change
log shows the injected change at the right minute (ground_truth.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from timeline.analyze.appendix import AnalysisOptions, analyze
from timeline.analyze.load import load_outdir
from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, build

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"
SCENARIOS = sorted(p.name for p in SCENARIO_DIR.iterdir() if (p / "ground_truth.json").is_file())


@pytest.fixture(scope="module")
def appendices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    registry = default_registry(plugins=False)
    out = {}
    for name in SCENARIOS:
        outdir = tmp_path_factory.mktemp(name)
        build([str(SCENARIO_DIR / name / "logs")], registry, BuildOptions(outdir=outdir))
        out[name] = analyze(load_outdir(outdir), AnalysisOptions())
    return out


def _cause(name: str) -> dict[str, Any]:
    truth = json.loads((SCENARIO_DIR / name / "ground_truth.json").read_text(encoding="utf-8"))
    cause: dict[str, Any] = truth["cause"]
    return cause


def _minute(iso: str) -> str:
    return iso.replace("+00:00", "Z")


def test_every_scenario_is_covered() -> None:
    assert len(SCENARIOS) >= 5


@pytest.mark.parametrize("name", SCENARIOS)
def test_top_suspect_is_the_injected_cause(
    appendices: dict[str, dict[str, Any]], name: str
) -> None:
    cause = _cause(name)
    if cause["failure"] is None:
        pytest.skip("no injected failure: see test_clock_correction_appears_in_data_quality")
    top = appendices[name]["suspects"][0]
    assert (top["field"], top["value"]) == (cause["field"], cause["value"])
    assert top["lift_low"] > 1.0
    assert top["change"] is not None and top["change"]["minute"] == _minute(cause["minute"])


@pytest.mark.parametrize("name", SCENARIOS)
def test_change_log_shows_the_injected_change_at_its_minute(
    appendices: dict[str, dict[str, Any]], name: str
) -> None:
    cause = _cause(name)
    if cause["failure"] is None:
        pytest.skip("no injected change of a version-like field")
    points = {
        (p["kind"], p["field"], p["value"], p["minute"])
        for p in appendices[name]["changes"]["change_points"]
    }
    assert ("appeared", cause["field"], cause["value"], _minute(cause["minute"])) in points


@pytest.mark.parametrize("name", SCENARIOS)
def test_nearest_change_before_the_rise_is_the_injected_change(
    appendices: dict[str, dict[str, Any]], name: str
) -> None:
    cause = _cause(name)
    if cause["failure"] is None:
        pytest.skip("no injected failure")
    nearest = appendices[name]["nearest_change_before_rise"]
    assert (nearest["field"], nearest["value"]) == (cause["field"], cause["value"])


@pytest.mark.parametrize("name", SCENARIOS)
def test_failing_requests_show_the_injected_failure(
    appendices: dict[str, dict[str, Any]], name: str
) -> None:
    cause = _cause(name)
    if cause["failure"] is None:
        pytest.skip("no injected failure")
    reasons = {r["failure_reason"] for r in appendices[name]["outcomes"]["failure_reasons"]}
    assert cause["failure"] in reasons
    failing = [e for e in appendices[name]["exemplars"] if e["kind"] == "failing"]
    assert failing and failing[0]["failure_reason"] == cause["failure"]


def test_clock_correction_appears_in_data_quality(appendices: dict[str, dict[str, Any]]) -> None:
    name = "clock_skew_forwarded_ids"
    cause = _cause(name)
    corrections = appendices[name]["data_quality"]["clock_corrections"]
    assert [c for c in corrections if c["source"].endswith(cause["value"])]
    assert any(f["kind"] == "clock" for f in appendices[name]["findings"])


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_statement_cites_evidence(appendices: dict[str, dict[str, Any]], name: str) -> None:
    doc = appendices[name]
    for finding in doc["findings"]:
        if finding["kind"] in ("rise", "change", "suspect"):
            assert finding["evidence"], finding
    for item in [*doc["suspects"], *doc["changes"]["change_points"]]:
        for cite in item["evidence"]:
            assert cite["event_id"] and ":" in cite["source"]
    for ex in doc["exemplars"]:
        assert all(e["event_id"] and e["source"] for e in ex["events"])


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_sentence_assigns_blame(appendices: dict[str, dict[str, Any]], name: str) -> None:
    text = " ".join(f["text"] for f in appendices[name]["findings"]).lower()
    for word in ("fault", "blame", "caused by", "root cause is", "responsible"):
        assert word not in text


def test_failing_predicate_changes_the_cohort(tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    build(
        [str(SCENARIO_DIR / "prompt_template_change" / "logs")],
        default_registry(plugins=False),
        BuildOptions(outdir=outdir),
    )
    doc = analyze(load_outdir(outdir), AnalysisOptions(failing="status_code >= 500"))
    assert doc["failing_definition"] == "the predicate 'status_code >= 500' over requests"
    assert doc["scope"]["failing_requests"] == 40
    assert doc["suspects"][0]["value"] == "v4"
