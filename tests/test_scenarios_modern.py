"""The second scenario family (issue 14 item 8): Istio JSON, OTLP traces of a RAG app with NeMo
rails, vLLM text logs on several hosts. Ground truth, rejects, correlation and, once the causal
ranking lands, what the appendix leads with."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from timeline.analyze.appendix import AnalysisOptions, analyze
from timeline.analyze.load import load_outdir
from timeline.io.parquet import read_events
from timeline.layout import REJECTS, TIMELINE
from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, build
from timeline.scenarios.evaluate import Evaluation, evaluate, with_truth
from timeline.scenarios.generate import committed_requests, write_scenario
from timeline.scenarios.modern import MODERN_SCENARIOS

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"
NAMES = sorted(MODERN_SCENARIOS)
# Files whose stamps have whole seconds: a skew is found within its reported bound only.
SKEW_TOLERANCE_MS = 5.0


def _truth(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (SCENARIO_DIR / name / "ground_truth.json").read_text(encoding="utf-8")
    )
    return data


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode().splitlines()


def _params(names: list[str]) -> list[Any]:
    return list(names)


# --- ground truth (fast: reads the committed files, builds nothing) -----------------------------


def test_five_new_scenarios_are_committed_small_and_partly_gzipped() -> None:
    assert len(NAMES) >= 5
    sizes = [p.stat().st_size for n in NAMES for p in (SCENARIO_DIR / n).rglob("*") if p.is_file()]
    assert sum(sizes) < 5_000_000
    gz = [p for n in NAMES for p in (SCENARIO_DIR / n / "logs").rglob("*.gz")]
    assert gz and len(gz) < sum(1 for n in NAMES for _ in (SCENARIO_DIR / n / "logs").rglob("*.*"))
    for n in NAMES:
        assert 300 <= _truth(n)["requests"] <= 2000


@pytest.mark.parametrize("name", NAMES)
def test_ground_truth_is_consistent(name: str) -> None:
    truth = _truth(name)
    cause, outcomes, affected = truth["cause"], truth["outcomes"], set(truth["affected"])
    assert truth["requests"] == committed_requests(name) == outcomes["requests"]
    assert len(affected) == cause["affected_requests"] == outcomes["failing_by_cause"]
    assert outcomes["failing"] == outcomes["failing_by_cause"] + outcomes["failing_other"]
    assert outcomes["failing"] == sum(outcomes["failure_reasons"].values())
    assert cause["carriers"] >= len(affected)
    if cause["kind"] == "none":
        assert cause["field"] is None and not affected and cause["failure"] is None
        assert cause["decoys"]
        return
    assert cause["failure"] in outcomes["failure_reasons"]
    assert cause["window"]["start"].startswith(cause["minute"][:16])
    # every affected request has its gateway line, started inside the window
    gateway = next(rel for rel in truth["lines"] if rel.startswith("gateway/"))
    lines = _lines(SCENARIO_DIR / name / "logs" / gateway)
    start_of = {}
    for line_no, key, _ in truth["lines"][gateway]:
        start_of[key] = json.loads(lines[line_no - 1])["start_time"]
    window = cause["window"]
    for key in affected:
        assert start_of[key] >= window["start"].replace("+00:00", "")[:19]
        if window["end"] is not None:
            assert start_of[key][:19] <= window["end"].replace("+00:00", "")[:19]


@pytest.mark.parametrize("name", NAMES)
def test_truth_lines_and_planted_rejects_point_at_real_lines(name: str) -> None:
    truth = _truth(name)
    for rel, items in truth["lines"].items():
        lines = _lines(SCENARIO_DIR / name / "logs" / rel)
        numbers = [item[0] for item in items]
        assert numbers == sorted(set(numbers)) and numbers[-1] <= len(lines)
        assert {item[2] for item in items} <= {"id", "unlinked"}
    for rel, numbers in truth["planted_rejects"].items():
        lines = _lines(SCENARIO_DIR / name / "logs" / rel)
        for n in numbers:
            assert n not in {item[0] for item in truth["lines"][rel]}
            assert lines[n - 1].strip()


def test_skewed_hosts_and_aliases_are_in_the_truth() -> None:
    skewed = [n for n in NAMES if _truth(n)["skews_ms"] or _truth(n)["host_skews_ms"]]
    assert len(skewed) >= 3
    revision = _truth("vllm_revision_one_host")
    vllm_files = [rel for rel in revision["lines"] if rel.startswith("inference/")]
    assert len(vllm_files) == 3
    text = "\n".join(_lines(SCENARIO_DIR / "vllm_revision_one_host" / "logs" / vllm_files[2]))
    assert f"'revision': '{revision['cause']['value']}'" in text
    assert "[rank0]:[W" in text  # the planted NCCL warning


@pytest.mark.slow
def test_committed_modern_scenarios_are_what_the_generator_writes(tmp_path: Path) -> None:
    for name in NAMES:
        write_scenario(name, tmp_path / name, committed_requests(name))
        for path in (tmp_path / name).rglob("*"):
            if path.is_file():
                rel = path.relative_to(tmp_path / name)
                assert path.read_bytes() == (SCENARIO_DIR / name / rel).read_bytes(), (
                    f"{name}/{rel} differs: run python fixtures/generate_scenarios.py"
                )


# --- one small build (fast smoke) ---------------------------------------------------------------


def test_smoke_small_revision_scenario_builds_and_links(tmp_path: Path) -> None:
    truth = write_scenario("vllm_revision_one_host", tmp_path / "s", 40)
    outdir = tmp_path / "out"
    report = build(
        [str(tmp_path / "s" / "logs")], default_registry(plugins=False), BuildOptions(outdir=outdir)
    )
    assert report.totals["lines_rejected"] == sum(len(v) for v in truth["planted_rejects"].values())
    ev = evaluate(tmp_path / "s", outdir)
    assert (ev.id_precision, ev.id_recall, ev.events_without_truth) == (1.0, 1.0, 0)
    assert ev.cross_layer_requests == truth["cross_layer_requests"] and ev.joined_share == 1.0


# --- builds of the committed scenarios (slow) ---------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Evaluation, int]]:
    registry = default_registry(plugins=False)
    out = {}
    for name in NAMES:
        outdir = tmp_path_factory.mktemp(name)
        report = build([str(SCENARIO_DIR / name / "logs")], registry, BuildOptions(outdir=outdir))
        out[name] = (outdir, evaluate(SCENARIO_DIR / name, outdir), report.totals["lines_rejected"])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", _params(NAMES))
def test_rejects_are_exactly_the_planted_ones(
    built: dict[str, tuple[Path, Evaluation, int]], name: str
) -> None:
    outdir, _, rejected = built[name]
    planted = _truth(name)["planted_rejects"]
    assert rejected == sum(len(v) for v in planted.values())
    rejects = pl.read_parquet(outdir / REJECTS)
    found = {
        (str(f).split("/logs/", 1)[1], int(n))
        for f, n in rejects.select("source_file", "source_line").iter_rows()
    }
    assert found == {(rel, n) for rel, numbers in planted.items() for n in numbers}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_ids_link_exactly_and_unlinked_lines_stay_alone(
    built: dict[str, tuple[Path, Evaluation, int]], name: str
) -> None:
    outdir, ev, _ = built[name]
    assert (ev.id_precision, ev.id_recall, ev.events_without_truth) == (1.0, 1.0, 0)
    timeline = with_truth(read_events(outdir / TIMELINE), SCENARIO_DIR / name)
    unlinked = timeline.filter(pl.col("method") == "unlinked")
    assert unlinked.height > 0
    assert unlinked.filter(pl.col("correlation_id").is_not_null()).height == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_request_is_joined_across_layers(
    built: dict[str, tuple[Path, Evaluation, int]], name: str
) -> None:
    _, ev, _ = built[name]
    assert ev.cross_layer_requests == _truth(name)["cross_layer_requests"]
    assert ev.joined_share == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_injected_skews_are_recovered_within_their_bound(
    built: dict[str, tuple[Path, Evaluation, int]], name: str
) -> None:
    _, ev, _ = built[name]
    truth = _truth(name)
    assert len(ev.skews) == len(truth["skews_ms"]) + len(truth["host_skews_ms"])
    for skew in ev.skews:
        assert skew["bound_ms"] is not None, skew
        assert skew["error_ms"] <= max(SKEW_TOLERANCE_MS, skew["bound_ms"]), skew
    assert ev.violations_after == 0


# --- what the appendix leads with (issue 14 item 1) ------------------------------------------------


@pytest.fixture(scope="module")
def appendices(built: dict[str, tuple[Path, Evaluation, int]]) -> dict[str, dict[str, Any]]:
    return {name: analyze(load_outdir(built[name][0]), AnalysisOptions()) for name in NAMES}


def _likely(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Suspects presented as likely: flagged so, or with a lift interval above 1."""
    return [s for s in doc["suspects"] if s.get("likely", (s.get("lift_low") or 0.0) > 1.0)]


def _is_cause(suspect: dict[str, Any], cause: dict[str, Any]) -> bool:
    accepted = [(cause["field"], cause["value"])]
    accepted += [(e["field"], e["value"]) for e in cause["equivalent"]]
    return (suspect["field"], suspect["value"]) in accepted


CAUSED = [n for n in NAMES if n != "noise_no_cause"]


@pytest.mark.slow
@pytest.mark.parametrize("name", CAUSED)
def test_leading_candidate_is_the_injected_cause(
    appendices: dict[str, dict[str, Any]], name: str
) -> None:
    cause = _truth(name)["cause"]
    likely = _likely(appendices[name])
    assert likely and _is_cause(likely[0], cause), [(s["field"], s["value"]) for s in likely]


@pytest.mark.slow
@pytest.mark.parametrize("name", CAUSED)
def test_no_symptom_ranks_above_the_cause(appendices: dict[str, dict[str, Any]], name: str) -> None:
    cause = _truth(name)["cause"]
    ranked = [(s["field"], s["value"]) for s in appendices[name]["suspects"]]
    position = next(i for i, s in enumerate(appendices[name]["suspects"]) if _is_cause(s, cause))
    for symptom in cause["symptoms"]:
        key = (symptom["field"], symptom["value"])
        assert key not in ranked[:position], (key, ranked)
    nearest = appendices[name]["nearest_change_before_rise"]
    assert nearest is not None and _is_cause(nearest, cause)


@pytest.mark.slow
@pytest.mark.parametrize("name", CAUSED)
def test_failing_requests_counted_as_the_truth_has_them(
    appendices: dict[str, dict[str, Any]], name: str
) -> None:
    assert appendices[name]["scope"]["failing_requests"] == _truth(name)["outcomes"]["failing"]


@pytest.mark.slow
def test_the_no_cause_incident_names_no_likely_candidate(
    appendices: dict[str, dict[str, Any]],
) -> None:
    doc = appendices["noise_no_cause"]
    assert _likely(doc) == []
    decoys = {(d["field"], d["value"]) for d in _truth("noise_no_cause")["cause"]["decoys"]}
    nearest = doc["nearest_change_before_rise"]
    assert nearest is None or (nearest["field"], nearest["value"]) not in decoys
