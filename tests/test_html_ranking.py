"""The HTML appendix shows the causal ranking as the Markdown does: likely candidates in causal
order with their effect sizes, apart from the values tested and not likely; how requests failed
(never as candidates); impact, detection and resolution; each exemplar's chain; failure-mode
change points as such; plain sentences (no empty tables) without a rise or a likely candidate."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest

from timeline.export.html import p_text, ranking, render_html, why_not_likely

CITE = {"event_id": "aaaa:1:0", "source": "gateway.log:1"}
SECTIONS = [
    "summary",
    "candidates",
    "impact",
    "failure-modes",
    "scope",
    "changes",
    "outcomes",
    "slices",
    "exemplars",
    "quality",
    "cited",
    "reproduce",
]


def _suspect(field: str, value: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "field": field,
        "value": value,
        "failing_with": 38,
        "rest_with": 39,
        "failing_total": 42,
        "rest_total": 258,
        "failing_share": 0.9048,
        "rest_share": 0.1512,
        "lift": 5.99,
        "lift_low": 4.41,
        "lift_high": 8.12,
        "change": {"minute": "2025-03-02T10:12:00Z", "at": "2025-03-02T10:12:03Z", "evidence": []},
        "coincides_with_rise": True,
        "evidence": [CITE],
        "stage": "model",
        "likely": True,
        "causal_rank": 1,
        "carriers": 77,
        "rate_with": 0.4935,
        "rate_without": 0.0179,
        "relative_risk": 27.513,
        "relative_risk_low": 10.15,
        "relative_risk_high": 74.58,
        "excess_failures": 36.6188,
        "failing_coverage": 0.9048,
        "p_value": 1e-12,
        "p_adjusted": 2e-11,
        "first_seen": "2025-03-02T10:12:02.337000Z",
        "last_seen": "2025-03-02T10:29:49.616000Z",
        "present_at_end": True,
    }
    out.update(extra)
    return out


def _event(seq: int, layer: str, kind: str, status: str, **details: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "offset_ms": float(seq * 10),
        "ts": f"2025-03-02T10:20:00.{seq:03d}000Z",
        "ts_source": f"2025-03-02T10:20:00.{seq:03d}000Z",
        "layer": layer,
        "event_type": kind,
        "status": status,
        "details": details,
        "clock_offset_ms": 0.0,
        "correlation_method": "id",
        "correlation_confidence": 1.0,
        "event_id": f"bbbb:{seq}:0",
        "source": f"app.log:{seq}",
    }


def _doc() -> dict[str, Any]:
    """An appendix with a rise, two likely candidates, one value tested and not likely, a
    failure mode (also a change point), impact and a failing exemplar with its chain."""
    rows = [
        {
            "minute": f"2025-03-02T10:{m:02d}:00Z",
            "requests": 10,
            "failing": 0 if m < 12 else 3,
            "failing_share": 0.0 if m < 12 else 0.3,
            "p50_ms": 100.0,
            "p95_ms": 200.0,
            "p99_ms": 300.0,
        }
        for m in range(30)
    ]
    first = _suspect("model_revision", "fp_<b>new</b>", stage="model", causal_rank=1)
    second = _suspect(
        "policy_name",
        "guard-v2",
        stage="policy",
        causal_rank=2,
        rate_with=0.31,
        excess_failures=9.0,
    )
    tested = _suspect(
        "upstream",
        "10.0.0.1:8080",
        stage="context",
        likely=False,
        causal_rank=None,
        change=None,
        coincides_with_rise=False,
        relative_risk=1.08,
        relative_risk_low=0.7,
        relative_risk_high=1.6,
        excess_failures=2.5,
        p_adjusted=1.0,
        present_at_end=False,
    )
    symptom = _suspect(
        "rail", "self check facts", likely=False, causal_rank=None, failing_with=14, carriers=14
    )
    failing = {
        "kind": "failing",
        "correlation_id": "r-0001",
        "start": "2025-03-02T10:20:00Z",
        "duration_ms": 40.0,
        "status": "blocked",
        "status_code": 200,
        "failure_reason": "policy block",
        "layers": ["gateway", "inference", "policy"],
        "events_total": 3,
        "clock_corrected_events": 0,
        "heuristic_events": 0,
        "events": [
            _event(0, "gateway", "http.request", "ok"),
            _event(1, "inference", "inference.response", "ok", model_revision="fp_<b>new</b>"),
            _event(2, "policy", "policy.check", "blocked", rail="self check facts"),
        ],
        "chain": [
            {"stage": "prompt", "text": "input tokens 380", "status": "ok", "event_id": None},
            {
                "stage": "model",
                "text": "llama, revision fp_<b>new</b>",
                "status": "ok",
                "event_id": "bbbb:1:0",
            },
            {
                "stage": "policy",
                "text": "self check facts, output, block",
                "status": "blocked",
                "event_id": "bbbb:2:0",
            },
        ],
    }
    return {
        "schema": "ai-timeline-appendix/1",
        "findings": [{"kind": "rise", "text": "The failing share rose.", "evidence": [CITE]}],
        "failing_definition": "requests.failed",
        "scope": {
            "start": "2025-03-02T10:00:00Z",
            "end": "2025-03-02T10:29:59Z",
            "events": 900,
            "requests": 300,
            "failing_requests": 42,
            "failing_share": 0.14,
            "sources": [{"source_file": "app.log", "parser": "p", "layer": "gateway", "events": 9}],
        },
        "rise": {
            "minute": "2025-03-02T10:12:00Z",
            "rate_before": 0.025,
            "rate_after": 0.2167,
            "log_likelihood_ratio": 13.38,
        },
        "rise_test": {
            "minute": "2025-03-02T10:12:00Z",
            "rate_before": 0.025,
            "rate_after": 0.2167,
            "log_likelihood_ratio": 13.38,
            "threshold": 4.91,
            "splits": 29,
            "excess_failures": 34.5,
            "significant": True,
        },
        "nearest_change_before_rise": None,
        "changes": {
            "change_points": [
                {
                    "kind": "appeared",
                    "field": "model_revision",
                    "value": "fp_<b>new</b>",
                    "minute": "2025-03-02T10:12:00Z",
                    "at": "2025-03-02T10:12:03Z",
                    "events": 77,
                    "evidence": [CITE],
                    "failure_mode": False,
                },
                {
                    "kind": "appeared",
                    "field": "rail",
                    "value": "self check facts",
                    "minute": "2025-03-02T10:14:00Z",
                    "at": "2025-03-02T10:14:03Z",
                    "events": 14,
                    "evidence": [CITE],
                    "failure_mode": True,
                },
            ],
            "fields": [],
        },
        "outcomes": {
            "bucket_minutes": 1,
            "requests": rows,
            "failure_reasons": [],
            "gateway": [],
            "policy": [],
            "policy_block_categories": [],
            "retrieval": [],
            "inference": [],
            "inference_error_types": [],
            "finish_reasons": [],
        },
        "candidates_tested": 9,
        "likely_candidates": 2,
        # deliberately out of causal order: the page orders by causal_rank
        "suspects": [second, first, tested],
        "candidate_series": [],
        "failure_modes": {
            "failing_requests": 42,
            "reasons": [{"value": "policy block", "requests": 42, "share": 1.0}],
            "error_types": [],
            "blocked_by": [{"value": "guard-<i>v2</i>", "requests": 40, "share": 0.9524}],
            "status_classes": [{"value": "2xx", "requests": 42, "share": 1.0}],
            "logged_on_failures": [symptom],
        },
        "impact": {
            "since": "2025-03-02T10:12:00Z",
            "until": "2025-03-02T10:29:57.148000Z",
            "duration_minutes": 18.0,
            "ongoing_at_end": True,
            "requests": 180,
            "failing_requests": 39,
            "excess_failures": 34.5,
            "clients": 180,
            "clients_affected": 39,
            "silent_failures": 39,
            "failing_without_status": 0,
            "status_5xx_share": 0.0,
            "alert_5xx_share": 0.01,
            "status_alert_would_fire": False,
            "first_failing": "2025-03-02T10:12:08.414000Z",
            "last_failing": "2025-03-02T10:29:43.227000Z",
        },
        "exemplars": [failing],
        "slices": [],
        "data_quality": {
            "sources": [],
            "timestamps": None,
            "reject_reasons": [],
            "clock_corrections": [],
            "events_by_method": {"id": 3},
            "orphans_by_layer": {},
            "global_events": 0,
            "degenerate_ids": [],
            "heuristics": [],
            "causal_violations_before": 0,
            "causal_violations_after": 0,
        },
        "reproduce": {
            "build_command": None,
            "report_command": "timeline report out",
            "tool_version_build": "0",
            "tool_version_report": "0",
            "inputs": [],
        },
    }


def _no_likely(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["suspects"] = [s for s in doc["suspects"] if not s["likely"]]
    doc["likely_candidates"] = 0
    return doc


def _no_rise(doc: dict[str, Any]) -> dict[str, Any]:
    doc = _no_likely(doc)
    doc["rise"] = None
    doc["rise_test"] = {**doc["rise_test"], "log_likelihood_ratio": 1.41, "significant": False}
    doc["suspects"] = []
    doc["candidates_tested"] = 15
    doc["impact"].update(
        since=None, duration_minutes=None, ongoing_at_end=None, excess_failures=None
    )
    return doc


class _Page(HTMLParser):
    """Ids in document order, links, tables (rows of cells), text outside script and style."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.sections: list[str] = []
        self.hrefs: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self.classes: list[tuple[str, str]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(str(values["id"]))
            if tag == "section" and "exemplar" not in str(values.get("class")):
                self.sections.append(str(values["id"]))
        if values.get("class"):
            self.classes.append((tag, str(values["class"])))
        if tag == "a":
            self.hrefs.append(str(values.get("href")))
        if tag == "table":
            self.tables.append([])
        if tag == "tr" and self.tables:
            self.tables[-1].append([])
        if tag in ("td", "th") and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(tag)
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _section(html: str, name: str) -> str:
    start = html.index(f'<section id="{name}"')
    return html[start : html.index("</section>", start)]


def _text(fragment: str) -> str:
    return " ".join(" ".join(_parse(fragment).text).split())


VARIANTS: dict[str, Callable[[], dict[str, Any]]] = {
    "likely": _doc,
    "no-likely": lambda: _no_likely(_doc()),
    "no-rise": lambda: _no_rise(_doc()),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_sections_in_order_links_resolve_no_empty_table_no_repr(variant: str) -> None:
    html = render_html(VARIANTS[variant]())
    page = _parse(html)
    assert page.sections == SECTIONS
    assert len(page.ids) == len(set(page.ids))
    assert all(h.startswith("#") and h[1:] in page.ids for h in page.hrefs)
    for table in page.tables:
        assert any("td" in row for row in table), "a table without a data row"
    text = " ".join(page.text)
    assert not re.search(r"\bNone\b|\{'|\['|\bTrue\b|\bFalse\b|\bnan\b", text)
    assert "<b>new</b>" not in html and "<i>v2</i>" not in html  # log text escaped


def test_likely_candidates_in_causal_order_then_tested_not_likely() -> None:
    html = render_html(_doc())
    section = _section(html, "candidates")
    first, second = section.index('id="candidate-1"'), section.index('id="candidate-2"')
    tested = section.index('id="tested"')
    assert first < second < tested < section.index('id="tested-1"')
    assert section.index("model_revision") < section.index("policy_name")  # by causal_rank
    assert 'class="state state-rise"' in section
    text = _text(section)
    for figure in (
        "failed with the value 49.4% 38 of 77",
        "failed without it 1.8% 4 of 223",  # (42 - 38) of (42 + 258 - 77)
        "relative risk 27.51 95% 10.15 to 74.58",
        "excess failures 37 p (Holm) < 0.0001",
        "failing requests covered 90.5%",
        "first seen (UTC) 10:12:02 last 10:29:49; still present at the window end",
        "appeared 10:12 UTC, at or before the rise",
    ):
        assert figure in text, figure
    assert 'href="#req-r-0001"' in section  # the exemplar carrying the value
    assert "fp_&lt;b&gt;new&lt;/b&gt;" in section
    # tested, not likely: its figures and the tests it failed, never a numbered card
    assert "relative risk 1.08, below 1.5" in text and "95% interval reaches 1 (0.70)" in text
    assert "2.5 excess failures, fewer than 5" in text and "gone before the window end" in text
    assert "No likely candidate" not in text
    # the failure mode is not among the candidates
    assert "self check facts" not in section


def test_how_requests_failed_holds_failure_modes_not_candidates() -> None:
    html = render_html(_doc())
    section = _section(html, "failure-modes")
    text = _text(section)
    assert "outcomes, not causes" in text
    assert (
        "Why they count as failing value requests share of failing policy block 42 100.0%" in text
    )
    assert "guard-&lt;i&gt;v2&lt;/i&gt;" in section
    assert "Values logged only on failing events" in text and "rail = self check facts" in text
    assert 'id="candidate-' not in section


def test_impact_detection_and_resolution() -> None:
    text = _text(_section(render_html(_doc()), "impact"))
    assert "counted from the rise, 2025-03-02 10:12:00 UTC" in text
    assert "failing requests 39 (21.7%)" in text
    assert "distinct clients affected 39 of 180" in text
    assert "a 5xx alert at 1.0% would fire no" in text
    assert "silent failures (failing, answered 2xx) 39" in text
    assert "ongoing at window end still failing when the logs end" in text
    assert "duration 18 min" in text
    assert text.index("Impact") < text.index("Detection") < text.index("Resolution")


def test_no_likely_candidate_is_a_plain_sentence() -> None:
    html = render_html(_no_likely(_doc()))
    section = _section(html, "candidates")
    text = _text(section)
    assert "No likely candidate. No logged value passes the tests" in text
    assert "Holm-corrected over 9 values" in text
    assert '<ol class="cands">' not in section and 'id="tested-1"' in section
    assert "context, not candidates" in text and "candidates above" not in text


def test_no_rise_and_no_suspect_render_plainly() -> None:
    html = render_html(_no_rise(_doc()))
    section = _section(html, "candidates")
    text = _text(section)
    assert 'class="state state-no-rise"' in section
    assert "No rise: the failing share did not rise significantly" in text
    assert "1.41, below the 4.91 needed over 29 splits" in text
    assert "No likely candidate" in text
    assert "No logged value is over-represented among failing requests." in text
    assert "<table" not in section
    assert "counted from the window start (no rise)" in _text(_section(html, "impact"))
    assert "No rise in the failing share was found." in _text(_section(html, "changes"))


def test_untested_rise_and_a_document_without_the_new_fields() -> None:
    doc = _no_rise(_doc())
    doc["rise_test"] = None
    for key in ("failure_modes", "impact", "candidates_tested", "likely_candidates"):
        del doc[key]
    html = render_html(doc)
    assert "No rise: too few requests over time to test for one." in html
    assert "Impact was not computed for this appendix." in html
    assert "over every value tested" in html


def test_failure_mode_change_points_are_shown_as_such() -> None:
    doc = _doc()
    doc["nearest_change_before_rise"] = {**doc["changes"]["change_points"][1]}
    html = render_html(doc)
    changes = _section(html, "changes")
    assert changes.count('class="fmode"') == 1
    assert "failure mode</span></td><td>rail</td>" in changes
    assert "not a change before the rise" in _text(changes)
    # never "the change before the rise", even if the document named it so
    assert "The change logged nearest before the rise" not in html
    summary = _section(html, "summary")
    assert 'class="marker fmode"' in summary
    assert "a failure mode: logged only on failing events, not a cause" in summary


def test_exemplar_chain_links_its_steps() -> None:
    html = render_html(_doc())
    exemplar = html[html.index('<section class="exemplar"') :]
    exemplar = exemplar[: exemplar.index("</section>")]
    chain = exemplar[exemplar.index('<p class="chain">') :]
    chain = chain[: chain.index("</p>")]
    assert _text(chain).startswith("Chain: prompt input tokens 380 → model")
    assert 'href="#ev-bbbb:1:0"' in chain and 'class="step bad"' in chain
    assert "(blocked)" in chain and "fp_&lt;b&gt;new&lt;/b&gt;" in chain
    assert 'href="#candidate-1">candidate 1</a>' in exemplar  # carries the value


def test_ranking_view_helpers() -> None:
    view = ranking(_doc(), {})
    assert [c.rank for c in view.likely] == ["1", "2"]
    assert [c.anchor for c in view.tested] == ["tested-1"]
    assert why_not_likely({"likely": True}) == [] and why_not_likely({}) == []
    assert why_not_likely({"likely": False, "p_adjusted": None})[0].startswith("not tested")
    assert p_text(None) == "—" and p_text(0.0) == "< 0.0001" and p_text(0.0312) == "0.031"
    nulls = ranking({"suspects": [{"likely": True, "causal_rank": None}], "rise": None}, {})
    card = nulls.likely[0]
    assert (card.rate_with, card.with_counts, card.relative_risk_ci) == ("—", "", "")
    assert nulls.rise_state == "untested"
