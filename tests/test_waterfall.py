"""An exemplar as a waterfall: one bar per step in event order, widths proportional to
durations, end-stamped events ending at their time, and markers (never a crash) for nulls."""

from __future__ import annotations

from typing import Any

import pytest

from timeline.export.mermaid import sequence
from timeline.export.svg import text_width
from timeline.export.waterfall import MIN_BAR_PX, waterfall


def _event(
    seq: int,
    layer: str,
    kind: str,
    offset: float | None,
    duration: float | None,
    ts: str | None = "2025-03-02T10:00:00.250000Z",
    **extra: Any,
) -> dict[str, Any]:
    details = {} if duration is None else {"duration_ms": duration}
    return {
        "seq": seq,
        "offset_ms": offset,
        "ts": ts,
        "ts_source": ts,
        "layer": layer,
        "event_type": kind,
        "status": "ok",
        "details": details,
        "clock_offset_ms": 0.0,
        "correlation_method": "id",
        "correlation_confidence": 1.0,
        "event_id": f"e:{seq}:0",
        "source": f"f.log:{seq}",
        **extra,
    }


def _exemplar(*events: dict[str, Any]) -> dict[str, Any]:
    return {"correlation_id": "r-1", "kind": "failing", "events": list(events)}


def test_bars_in_event_order_with_widths_proportional_to_durations() -> None:
    w = waterfall(
        _exemplar(
            _event(0, "gateway", "http.request", 0.0, 1000.0),
            _event(1, "policy", "policy.check", 10.0, 50.0),
            _event(2, "retrieval", "retrieval.query", 60.0, 100.0),
            _event(3, "inference", "inference.request", 170.0, 400.0),
        ),
        anchors=["a0", "a1", "a2", "a3"],
    )
    steps = w.steps
    assert [s.label.split()[0] for s in steps] == ["gateway", "policy", "retrieval", "inference"]
    assert [s.y for s in steps] == sorted(s.y for s in steps) and len({s.y for s in steps}) == 4
    assert all(s.kind == "span" for s in steps)
    scale = steps[0].width / 1000.0
    for s, duration in zip(steps, (1000.0, 50.0, 100.0, 400.0), strict=True):
        assert s.width == pytest.approx(duration * scale, rel=1e-3)
    # positions: start offsets on the same scale, from the plot's left edge
    for s, start in zip(steps, (0.0, 10.0, 60.0, 170.0), strict=True):
        assert s.x == pytest.approx(w.plot.x + start * scale, abs=0.01)
    assert steps[0].x + steps[0].width == pytest.approx(w.plot.x + w.plot.w, abs=0.01)
    assert [s.anchor for s in steps] == ["a0", "a1", "a2", "a3"]
    assert w.ticks and all(
        a.box.x + a.box.w <= b.box.x for a, b in zip(w.ticks, w.ticks[1:], strict=False)
    )


def test_end_stamped_events_end_at_their_time() -> None:
    w = waterfall(
        _exemplar(
            _event(0, "gateway", "http.request", 0.0, 500.0),
            _event(1, "inference", "inference.response", 450.0, 400.0),
            _event(2, "retrieval", "retrieval.query", 40.0, 10.0, ts_at_end=True),
        )
    )
    _, response, query = w.steps
    assert response.start_ms == 50.0 and query.start_ms == 30.0
    scale = w.steps[0].width / 500.0
    assert response.x + response.width == pytest.approx(w.plot.x + 450.0 * scale, abs=0.01)


def test_nulls_become_markers_with_notes() -> None:
    w = waterfall(
        _exemplar(
            _event(0, "gateway", "http.request", 0.0, 200.0),
            _event(1, "policy", "policy.check", 20.0, None),
            _event(2, "inference", "inference.response", None, 100.0, ts=None),
            _event(3, "retrieval", "retrieval.query", None, None, ts=None),
            _event(4, "gateway", "http.response", 150.0, -5.0),
            {"seq": None, "offset_ms": None, "details": None},
        )
    )
    kinds = [s.kind for s in w.steps]
    assert kinds == ["span", "instant", "untimed", "untimed", "instant", "untimed"]
    assert all(s.x < w.plot.x for s in w.steps if s.kind == "untimed")
    assert w.steps[1].width == 0 and w.steps[1].drawn_width == 0
    assert len(w.notes) == 5 and "no time" in w.notes[1] and "no duration" in w.notes[0]
    assert all("None" not in s.title and "None" not in s.label for s in w.steps)


def test_an_empty_or_untimed_exemplar_does_not_crash() -> None:
    assert waterfall({}).steps == []
    w = waterfall(_exemplar(_event(0, "gateway", "http.request", None, None, ts=None)))
    assert w.span_ms > 0 and w.steps[0].kind == "untimed"
    w = waterfall(_exemplar(_event(0, "gateway", "http.request", 0.0, 0.0)))
    assert w.steps[0].width == 0 and w.steps[0].drawn_width == MIN_BAR_PX


def test_coarse_stamps_get_an_uncertainty_band() -> None:
    w = waterfall(
        _exemplar(
            _event(0, "gateway", "http.request", 0.0, 1200.0),
            _event(1, "gateway", "http.response", 300.0, None, ts="2025-03-02T10:00:01Z"),
            _event(2, "inference", "inference.response", 900.0, 800.0, ts_precision_ms=1000),
            _event(
                3,
                "policy",
                "policy.check",
                5.0,
                1.0,
                ts="2025-03-02T10:00:01Z",
                ts_precision_ms=None,
            ),
        )
    )
    scale = w.steps[0].width / 1200.0
    band = w.steps[1].band
    assert band is not None and band[1] == pytest.approx(1000.0 * scale, abs=0.01)
    assert w.steps[2].band is not None and w.steps[3].band is None
    assert "whole" not in w.notes[0] and "1000 ms" in w.notes[0]
    assert w.origin_ms + w.span_ms >= 1300.0  # the band fits in the axis


def test_mermaid_sequence_is_null_safe_and_shows_durations() -> None:
    lines = sequence(
        _exemplar(
            _event(0, "gateway", "http.request", 0.0, 1238.0),
            _event(1, "policy", "policy.check", None, None, ts=None),
            _event(2, "gateway", "http.response", 267.0, None, ts="2025-03-02T10:00:01Z"),
            {"layer": None, "details": None, "offset_ms": None},
        )
    )
    text = "\n".join(lines)
    assert lines[0] == "sequenceDiagram" and "None" not in text
    assert "took 1238ms" in text and "stamp to 1000ms" in text and "no time policy" in text
    assert sequence({}) == ["sequenceDiagram"]


def test_clock_corrected_notes_get_a_column_of_their_own() -> None:
    plain = waterfall(_exemplar(_event(0, "gateway", "http.request", 0.0, 1000.0)))
    assert plain.note_x is None
    w = waterfall(
        _exemplar(
            _event(0, "gateway", "http.request", 0.0, 1000.0),
            _event(1, "inference", "inference.response", 1000.0, 900.0, clock_offset_ms=-120.5),
        )
    )
    assert w.plot.w < plain.plot.w and w.note_x is not None
    right = max(s.x + s.drawn_width for s in w.steps)
    assert right <= w.plot.x + w.plot.w + 0.01 < w.note_x  # no bar reaches the note column
    assert w.note_x + text_width(w.note_text) <= w.width  # the note fits in the picture
    assert [s.corrected for s in w.steps] == [False, True]
