"""An exemplar request as a waterfall, as Jaeger draws a trace: one row per step, in event order.

A step with a time and a duration is a bar from its start to its end: ``*.response`` and
``*.error`` events (and records logged at their end, ``ts_at_end``) end at their time, the others
begin at it. A step with a time but no duration is a diamond at its time. A step without a time
is a hollow marker left of the axis, with a note. A stamp coarser than a millisecond (its
``ts_precision_ms``, or a time printed to the second) gets a band showing where in that interval
the step may really lie. Nothing here fails on missing values: they become markers and notes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from timeline.export.svg import (
    FONT_PX,
    GLYPH_EM,
    LABEL_GAP,
    Box,
    Tick,
    label_box,
    nice_step,
    text_width,
)

WIDTH: Final = 900
LABEL_W: Final = 250
PAD_RIGHT: Final = 16
ROW_H: Final = 22
BAR_H: Final = 12
AXIS_H: Final = 24
# A bar is drawn at least this wide (its exact width is kept for the tooltip and tests).
MIN_BAR_PX: Final = 1.0
BAD_STATUS: Final = frozenset({"error", "timeout", "blocked"})
# The note drawn in a column right of the plot on a row whose clock was corrected.
CORRECTED_NOTE: Final = "clock corrected"
NOTE_GAP: Final = 8.0
END_STAMPED: Final = (".response", ".error")


@dataclass(frozen=True)
class Step:
    """One row: an event's extent on the time axis, or its marker when it has none."""

    index: int
    y: float
    label: str
    layer: str
    kind: str  # "span", "instant" or "untimed"
    start_ms: float | None
    duration_ms: float | None
    x: float
    width: float
    drawn_width: float
    band: tuple[float, float] | None
    bad: bool
    heuristic: bool
    corrected: bool
    note: str
    title: str
    anchor: str | None


@dataclass(frozen=True)
class Waterfall:
    """Everything the template needs to draw one exemplar's waterfall."""

    width: int
    height: int
    plot: Box
    ticks: list[Tick]
    steps: list[Step]
    origin_ms: float
    span_ms: float
    notes: list[str]
    # Left edge of the column of "clock corrected" notes (None when no step was corrected): a
    # column of its own, so that a note never runs past the picture or over another bar.
    note_x: float | None = None
    note_text: str = CORRECTED_NOTE


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    return "—" if value is None else str(value)


def coarse_precision(event: dict[str, Any]) -> float | None:
    """The stamp's precision in ms when coarser than 1 ms: ``ts_precision_ms`` when the event has
    it, else 1000 for a time printed without a fraction of a second."""
    if "ts_precision_ms" in event:
        p = _number(event.get("ts_precision_ms"))
        return p if p is not None and p > 1 else None
    stamp = event.get("ts_source") or event.get("ts")
    if isinstance(stamp, str) and len(stamp) >= 19 and "." not in stamp[19:]:
        return 1000.0
    return None


def _extent(event: dict[str, Any]) -> tuple[float | None, float | None]:
    """(start, duration) in ms from the request's start; None where the data has no value."""
    offset = _number(event.get("offset_ms"))
    duration = _number((event.get("details") or {}).get("duration_ms"))
    if duration is not None and duration < 0:
        duration = None
    if offset is None or duration is None:
        return offset, duration
    kind = str(event.get("event_type") or "")
    if event.get("ts_at_end") is True or kind.endswith(END_STAMPED):
        return offset - duration, duration
    return offset, duration


def _fit(text: str, width: float) -> str:
    room = max(int(width / (FONT_PX * GLYPH_EM)), 4)
    return text if len(text) <= room else text[: room - 1] + "…"


def _ms(value: float) -> str:
    if abs(value) >= 10000:
        return f"{value / 1000:g} s"
    return f"{value:g} ms"


def _axis(lo: float, hi: float, plot: Box) -> list[Tick]:
    widest = max(len(_ms(lo)), len(_ms(hi)), 6) * FONT_PX * GLYPH_EM
    room = max(int(plot.w // (widest + LABEL_GAP)), 1)
    step = nice_step(hi - lo, room)
    first = math.ceil(lo / step) * step
    out: list[Tick] = []
    baseline = plot.y - 8
    value = first
    while value <= hi + 1e-9:
        x = round(plot.x + (value - lo) / (hi - lo) * plot.w, 2)
        text = _ms(round(value, 6))
        box = label_box(x, baseline, text, "middle")
        fits = box.x >= plot.x - LABEL_W / 2 and box.x + box.w <= plot.x + plot.w + PAD_RIGHT
        if fits and (not out or box.x >= out[-1].box.x + out[-1].box.w + LABEL_GAP / 2):
            out.append(Tick(x, baseline, text, "middle", box))
        value += step
    return out


def _title(event: dict[str, Any], start: float | None, duration: float | None) -> str:
    parts = [f"{_text(event.get('layer'))} {_text(event.get('event_type'))}"]
    parts.append(f"status {_text(event.get('status'))}")
    if start is not None:
        parts.append(f"start {start:+.1f} ms")
    if duration is not None:
        parts.append(f"duration {duration:g} ms")
    parts.append(f"{_text(event.get('event_id'))} @ {_text(event.get('source'))}")
    return "; ".join(parts)


def waterfall(
    exemplar: dict[str, Any], anchors: Sequence[str | None] | None = None, width: int = WIDTH
) -> Waterfall:
    """The waterfall of one exemplar (a ``doc["exemplars"]`` item); ``anchors`` are the HTML ids
    of its event rows (the same order), used for links from the bars to the rows."""
    events = [e for e in exemplar.get("events") or [] if isinstance(e, dict)]
    extents = [_extent(e) for e in events]
    precisions = [coarse_precision(e) for e in events]
    times: list[float] = [0.0]
    for (start, duration), p in zip(extents, precisions, strict=True):
        if start is not None:
            times.append(start)
            times.append(start + (duration or 0.0))
            if p is not None:
                times.append(start + p)
    lo, hi = min(times), max(times)
    if hi - lo < 1.0:
        hi = lo + 1.0
    corrected_any = any(_number(e.get("clock_offset_ms")) for e in events)
    note_w = text_width(CORRECTED_NOTE) + NOTE_GAP if corrected_any else 0.0
    plot = Box(LABEL_W, AXIS_H, width - LABEL_W - PAD_RIGHT - note_w, max(len(events), 1) * ROW_H)
    scale = plot.w / (hi - lo)
    steps: list[Step] = []
    notes: list[str] = []
    for i, (event, (start, duration), p) in enumerate(
        zip(events, extents, precisions, strict=True)
    ):
        y = plot.y + i * ROW_H + (ROW_H - BAR_H) / 2
        seq = _text(event.get("seq"))
        note = ""
        band = None
        if start is None:
            kind, x, w = "untimed", plot.x - 10.0, 0.0
            note = "no time: drawn left of the axis"
        elif duration is None:
            kind, x, w = "instant", plot.x + (start - lo) * scale, 0.0
            note = "no duration: a diamond at its time"
        else:
            kind, x, w = "span", plot.x + (start - lo) * scale, duration * scale
        if p is not None and start is not None:
            offset = _number(event.get("offset_ms"))
            at = start if offset is None else offset
            band = (round(plot.x + (at - lo) * scale, 2), round(p * scale, 2))
            coarse = f"stamp precise to {_ms(p)}: it may lie up to that much later"
            note = f"{note}; {coarse}" if note else coarse
        if note:
            notes.append(f"step {seq}: {note}")
        label = _fit(f"{_text(event.get('layer'))} {_text(event.get('event_type'))}", LABEL_W - 14)
        steps.append(
            Step(
                index=i,
                y=round(y, 2),
                label=label,
                layer=_text(event.get("layer")),
                kind=kind,
                start_ms=start,
                duration_ms=duration,
                x=round(x, 2),
                width=round(w, 4),
                drawn_width=round(max(w, MIN_BAR_PX), 2) if kind == "span" else 0.0,
                band=band,
                bad=event.get("status") in BAD_STATUS,
                heuristic=event.get("correlation_method") == "heuristic",
                corrected=bool(_number(event.get("clock_offset_ms"))),
                note=note,
                title=_title(event, start, duration) + (f"; {note}" if note else ""),
                anchor=anchors[i] if anchors is not None and i < len(anchors) else None,
            )
        )
    return Waterfall(
        width=width,
        height=int(plot.y + plot.h + 8),
        plot=plot,
        ticks=_axis(lo, hi, plot),
        steps=steps,
        origin_ms=lo,
        span_ms=hi - lo,
        notes=notes,
        note_x=round(plot.x + plot.w + NOTE_GAP, 2) if corrected_any else None,
    )
