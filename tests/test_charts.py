"""The HTML appendix's charts and links: labels never overlap, nulls never crash, every link has a
target, the page has a table of contents, anchors and a search box, and no Python repr."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from timeline.export.charts import (
    anchor,
    cited_events,
    exemplars_carrying,
    failing_share_chart,
    grid,
    layer_charts,
)
from timeline.export.html import render_html, shown
from timeline.export.svg import Box, Tick, bucket_ticks, lanes, path, scale_ticks

T0 = datetime(2025, 3, 2, 10, 0, tzinfo=UTC)


def _minute(i: int, width: int = 1) -> str:
    return (T0 + timedelta(minutes=i * width)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _disjoint(boxes: list[Box]) -> bool:
    return all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def _adjacent_disjoint(ticks: list[Tick]) -> bool:
    ordered = sorted(ticks, key=lambda t: t.box.x)
    return all(a.box.x + a.box.w <= b.box.x for a, b in itertools.pairwise(ordered))


@pytest.mark.parametrize("width", [440, 900])
@pytest.mark.parametrize("days", [1, 3])
def test_bucket_labels_never_overlap_for_2_to_720_buckets(width: int, days: int) -> None:
    base = [f"{i // 60 % 24:02d}:{i % 60:02d}" for i in range(720)]
    if days > 1:
        base = [f"03-{2 + i // 240:02d} {label}" for i, label in enumerate(base)]
    for n in [*range(2, 501), 720]:
        labels = base[:n]
        ticks = bucket_ticks(labels, 48, width - 12, 200)
        assert ticks, (n, width)
        assert _adjacent_disjoint(ticks), (n, width)
        area = Box(0, 0, width, 220)
        assert all(t.box.inside(area) for t in ticks), (n, width)


def test_bucket_labels_are_checked_pairwise_on_a_sample() -> None:
    for n in (2, 7, 61, 499):
        ticks = bucket_ticks([f"{i % 24:02d}:{i % 60:02d}" for i in range(n)], 48, 888, 200)
        assert _disjoint([t.box for t in ticks])


def test_the_chart_uses_the_same_labels_as_the_check() -> None:
    rows = [{"minute": _minute(i), "requests": 10, "failing": i % 3} for i in range(300)]
    chart = failing_share_chart({"outcomes": {"bucket_minutes": 1, "requests": rows}})
    assert _adjacent_disjoint(chart.x_ticks)
    assert _disjoint([t.box for t in chart.y_ticks])
    assert len(chart.x_ticks) >= 5


@pytest.mark.parametrize("height", [40, 90, 200])
def test_value_ticks_never_overlap(height: int) -> None:
    ticks = scale_ticks(2500.0, 10 + height, 10, 40)
    assert len(ticks) >= 2 and _disjoint([t.box for t in ticks])


def test_marker_labels_never_overlap_in_a_lane() -> None:
    xs = [100 + (i % 7) * 3.0 for i in range(40)] + [700.0, 40.0]
    texts = [str(i + 1) for i in range(len(xs))]
    chosen = lanes(xs, texts, 2)
    by_lane: dict[int, list[Box]] = {}
    for x, text, lane in zip(xs, texts, chosen, strict=True):
        if lane is not None:
            by_lane.setdefault(lane, []).append(Box(x, lane * 20, len(text) * 6.82, 13))
    assert all(_disjoint(boxes) for boxes in by_lane.values())
    assert chosen[-1] is not None and chosen[-2] is not None  # room far from the crowd
    assert None in chosen  # the crowd does not fit: those labels go to the legend only


def test_marker_and_rise_labels_in_the_chart_never_overlap() -> None:
    rows = [{"minute": _minute(i), "requests": 5, "failing": 1} for i in range(60)]
    points = [
        {"kind": "appeared", "field": "model_revision", "value": f"v{i}", "minute": _minute(30)}
        for i in range(12)
    ]
    doc = {
        "outcomes": {"bucket_minutes": 1, "requests": rows},
        "rise": {"minute": _minute(30)},
        "changes": {"change_points": points},
    }
    chart = failing_share_chart(doc)
    boxes = [m.box for m in chart.markers if m.box is not None]
    assert chart.rise_label is not None
    assert _disjoint([*boxes, chart.rise_label.box])
    assert len(chart.markers) == 12  # every change point keeps its line and legend entry


def test_failing_share_has_a_line_per_candidate_and_gaps_for_missing_buckets() -> None:
    rows = [{"minute": _minute(i), "requests": 10, "failing": i} for i in (0, 1, 2, 5, 6)]
    doc = {
        "outcomes": {"bucket_minutes": 1, "requests": rows},
        "rise": {"minute": _minute(5)},
        "candidate_series": [
            {
                "field": "model_revision",
                "value": "rev-b",
                "points": [
                    {"minute": _minute(5), "requests": 4, "failing": 4},
                    {"minute": _minute(6), "requests": 0, "failing": 0},
                ],
            }
        ],
    }
    chart = failing_share_chart(doc)
    assert [line.name for line in chart.lines] == ["all requests", "model_revision = rev-b"]
    assert chart.lines[0].d.count("M") == 2  # buckets 3 and 4 had no requests: a gap
    assert chart.lines[1].d == "" and len(chart.lines[1].dots) == 1  # 0 requests is no value
    assert chart.rise_x is not None and chart.plot.x < chart.rise_x < chart.plot.x + chart.plot.w
    assert any("rev-b 100.0% (4 of 4)" in h.title for h in chart.hits)


def test_charts_cope_with_nulls_and_an_empty_document() -> None:
    assert failing_share_chart({}).empty
    assert layer_charts({}) == []
    rows: list[dict[str, Any]] = [
        {"minute": None, "requests": None, "failing": None},
        {"minute": "not a time", "requests": 3, "failing": 1},
        {"minute": _minute(1), "requests": 4, "failing": None},
        {"minute": _minute(2), "requests": 4, "failing": 2, "p95_ms": None},
    ]
    doc = {
        "outcomes": {
            "bucket_minutes": None,
            "requests": rows,
            "policy": [{"minute": _minute(1), "stage": None, "blocks": 2, "p95_ms": None}],
            "gateway": [],
        },
        "rise": None,
        "changes": {"change_points": [{"kind": None, "minute": None}]},
        "candidate_series": [{"field": None, "value": None, "points": None}],
    }
    chart = failing_share_chart(doc)
    assert not chart.empty and chart.rise_x is None and chart.markers == []
    ids = [c.chart_id for c in layer_charts(doc)]
    assert ids == ["blocks"]  # no latency, retrieval or error values were logged


def test_layer_charts_one_line_per_layer_or_stage() -> None:
    doc = {
        "outcomes": {
            "bucket_minutes": 1,
            "requests": [{"minute": _minute(i), "p95_ms": 100.0 + i} for i in range(5)],
            "policy": [
                {"minute": _minute(i), "stage": s, "blocks": i, "p95_ms": 5.0}
                for i in range(5)
                for s in ("input", "output")
            ],
            "retrieval": [{"minute": _minute(i), "empty": 0, "p95_ms": 9.0} for i in range(5)],
            "inference": [{"minute": _minute(i), "errors": 1, "p95_ms": 80.0} for i in range(5)],
        }
    }
    charts = {c.chart_id: c for c in layer_charts(doc)}
    assert list(charts) == ["p95-latency", "blocks", "empty-retrievals", "errors"]
    latency = [line.name for line in charts["p95-latency"].lines]
    assert latency == ["requests", "policy input", "policy output", "retrieval", "inference"]
    assert [line.name for line in charts["blocks"].lines] == ["blocks input", "blocks output"]


def test_grid_fills_missing_buckets() -> None:
    assert grid([_minute(0, 5), _minute(3, 5)], 5) == [_minute(i, 5) for i in range(4)]
    assert grid([None, "x"], 1) == []


def test_path_breaks_at_missing_values() -> None:
    d, dots = path([(0, 0), (1, 1), None, (3, 3), None, (5, 5), (6, 6)])
    assert d == "M0 0 L1 1 M5 5 L6 6" and dots == [(3, 3)]


def test_shown_never_prints_a_repr() -> None:
    assert shown(None) == "—"
    assert shown(True) == "yes"
    assert shown(["S1", None, 2]) == "S1, —, 2"
    assert shown({"stop": 2000, "length": None}) == "stop=2000, length=—"
    assert shown(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2025-01-02T03:04:05Z"


# A small but complete appendix document, with the values that used to leak as reprs.
def _doc() -> dict[str, Any]:
    cite = {"event_id": "aaaa:1:0", "source": "g.log:1"}
    exemplar_event = {
        "seq": 0,
        "offset_ms": 0.0,
        "ts": "2025-03-02T10:05:00.100000Z",
        "ts_source": "2025-03-02T10:05:00.100000Z",
        "layer": "inference",
        "event_type": "inference.response",
        "status": "error",
        "details": {"model_revision": "rev-b", "categories": ["S1", "S2"], "duration_ms": 30.0},
        "clock_offset_ms": 0.0,
        "correlation_method": "id",
        "correlation_confidence": 1.0,
        "event_id": "bbbb:7:0",
        "source": "infer.log:7",
        "message": "<script>alert(1)</script>",
    }
    untimed = {**exemplar_event, "seq": 1, "offset_ms": None, "ts": None, "event_id": "bbbb:8:0"}
    untimed["details"] = {"finish_reason": {"stop": 2000}}
    rows = [
        {
            "minute": _minute(i),
            "requests": 10,
            "failing": i,
            "failing_share": i / 10,
            "p50_ms": None,
            "p95_ms": 10.0,
            "p99_ms": None,
        }
        for i in range(6)
    ]
    return {
        "findings": [{"kind": "rise", "text": "rose", "evidence": [cite]}],
        "failing_definition": "requests.failed",
        "scope": {
            "start": None,
            "end": None,
            "events": 3,
            "requests": 2,
            "failing_requests": 1,
            "failing_share": None,
            "sources": [],
        },
        "rise": {"minute": _minute(3)},
        "nearest_change_before_rise": None,
        "changes": {
            "change_points": [
                {
                    "kind": "appeared",
                    "field": "model_revision",
                    "value": "rev-b",
                    "minute": _minute(3),
                    "at": _minute(3),
                    "events": 4,
                    "evidence": [cite, {"event_id": "bbbb:7:0", "source": "infer.log:7"}],
                }
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
        "suspects": [
            {
                "field": "model_revision",
                "value": "rev-b",
                "failing_with": 1,
                "failing_total": 1,
                "rest_with": 0,
                "rest_total": 1,
                "lift": None,
                "lift_low": None,
                "lift_high": None,
                "change": None,
                "coincides_with_rise": True,
                "evidence": [cite],
            }
        ],
        "exemplars": [
            {
                "kind": "failing",
                "correlation_id": "r-<b>1</b>",
                "start": None,
                "duration_ms": None,
                "status": "error",
                "status_code": None,
                "failure_reason": None,
                "layers": ["inference"],
                "events_total": 2,
                "clock_corrected_events": 0,
                "heuristic_events": 0,
                "events": [exemplar_event, untimed],
            }
        ],
        "slices": [
            {
                "name": "model",
                "layer": "inference",
                "totals": {"finish": {"stop": 1}},
                "change_points": [],
                "values": [],
            }
        ],
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
            "causal_violations_after": None,
        },
        "reproduce": {
            "build_command": None,
            "report_command": "timeline report out",
            "tool_version_build": None,
            "tool_version_report": "0",
            "inputs": [],
        },
    }


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(str(values["id"]))
        if tag == "a":
            self.hrefs.append(str(values.get("href")))
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


def test_html_has_toc_anchors_search_box_and_resolving_links() -> None:
    html = render_html(_doc())
    page = _parse(html)
    assert 'nav class="toc"' in html and 'id="request-search"' in html
    assert len(page.ids) == len(set(page.ids)), "ids are unique"
    targets = set(page.ids)
    local = [h for h in page.hrefs if h.startswith("#")]
    assert local and all(h[1:] in targets for h in local)
    assert all(h.startswith("#") for h in page.hrefs), "no link leaves the page"
    assert "ev-bbbb:7:0" in targets  # the exemplar row, the target of the change's citation
    assert "ev-aaaa:1:0" in targets  # a cited event no exemplar shows: the cited-events index
    assert 'href="#ev-bbbb:7:0"' in html and 'href="#req-r-_b_1__b_"' in html
    assert 'data-request="r-&lt;b&gt;1&lt;/b&gt;"' in html  # log text escaped, even in attributes
    assert "<script>alert(1)</script>" not in html and "<b>1</b>" not in html
    assert html.count("<svg") >= 3  # the chart, its legend, the waterfall


def test_html_shows_no_python_repr() -> None:
    page = _parse(render_html(_doc()))
    text = " ".join(page.text)
    assert not re.search(r"\bNone\b|\{'|\['|\bTrue\b|\bFalse\b", text), text
    assert "categories=S1, S2" in text and "finish_reason=stop=2000" in text


def test_candidate_links_point_at_exemplars_carrying_the_value() -> None:
    doc = _doc()
    assert exemplars_carrying(doc)[("model_revision", "rev-b")] == ["r-<b>1</b>"]
    assert exemplars_carrying(doc)[("categories", "S2")] == ["r-<b>1</b>"]
    cited = cited_events(doc)
    assert [c.event_id for c in cited] == ["aaaa:1:0"]
    assert cited[0].cited_in == ["summary", "what changed", "candidates"]
    assert anchor(None) is None and anchor("—") is None and anchor("a b") == "ev-a_b"
