"""Geometry shared by the inline SVG pictures: label boxes, ticks that never overlap, paths.

Only numbers and label strings are produced here; the templates write the SVG and escape every
label. Text widths are estimated from the font size (a generous average glyph width), so that a
label placed here keeps clear of its neighbours in any sans-serif font.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# Font size of tick and marker labels (px); the CSS sets the same size.
FONT_PX: Final = 11
# Average advance of a glyph as a share of the font size, rounded up for wide digits and capitals.
GLYPH_EM: Final = 0.62
# Clear space between two neighbouring labels (px).
LABEL_GAP: Final = 8.0
# Candidate tick strides (buckets or units), so that ticks land on round values.
_STRIDES: Final = (1, 2, 3, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440)


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle: a label's extent or a plot area."""

    x: float
    y: float
    w: float
    h: float

    def overlaps(self, other: Box) -> bool:
        """True when the two boxes share any area."""
        return (
            self.x < other.x + other.w
            and other.x < self.x + self.w
            and self.y < other.y + other.h
            and other.y < self.y + self.h
        )

    def inside(self, other: Box) -> bool:
        """True when this box lies within ``other`` (edges may touch)."""
        return (
            self.x >= other.x
            and self.y >= other.y
            and self.x + self.w <= other.x + other.w
            and self.y + self.h <= other.y + other.h
        )


@dataclass(frozen=True)
class Tick:
    """A labelled tick: the label is centred on ``x`` (``anchor`` middle) or starts/ends there."""

    x: float
    y: float
    label: str
    anchor: str
    box: Box


def text_width(text: str, font_px: float = FONT_PX) -> float:
    """Estimated width of ``text`` in px (generous: real glyphs are narrower)."""
    return len(text) * font_px * GLYPH_EM


def label_box(x: float, y: float, text: str, anchor: str, font_px: float = FONT_PX) -> Box:
    """The box of ``text`` drawn at (``x``, baseline ``y``) with an SVG ``text-anchor``."""
    w = text_width(text, font_px)
    left = x - w / 2 if anchor == "middle" else (x - w if anchor == "end" else x)
    return Box(round(left, 2), round(y - font_px, 2), round(w, 2), float(font_px + 2))


def stride(slot_px: float, label_px: float, strides: Sequence[int] = _STRIDES) -> int:
    """The smallest round stride ``k`` such that labels ``k`` slots apart keep ``LABEL_GAP``."""
    if slot_px <= 0:
        return strides[-1]
    need = (label_px + LABEL_GAP) / slot_px
    for k in strides:
        if k >= need:
            return k
    return max(strides[-1], math.ceil(need))


def bucket_ticks(labels: Sequence[str], left: float, right: float, baseline: float) -> list[Tick]:
    """Ticks under ``len(labels)`` equal slots spanning ``left``..``right``, centred on their slot.

    The stride grows with the number of slots and the label width, so labels never overlap, and
    a label that would stick out of ``left``..``right`` is left out.
    """
    n = len(labels)
    if n == 0 or right <= left:
        return []
    slot = (right - left) / n
    widest = text_width(max(labels, key=len))
    k = stride(slot, widest)
    area = Box(left, baseline - FONT_PX - 1, right - left, FONT_PX + 4)
    out: list[Tick] = []
    for i in range(0, n, k):
        x = round(left + (i + 0.5) * slot, 2)
        box = label_box(x, baseline, labels[i], "middle")
        if box.inside(area):
            out.append(Tick(x, baseline, labels[i], "middle", box))
    return out


def nice_step(span: float, max_ticks: int) -> float:
    """A step of 1, 2 or 5 times a power of ten giving at most ``max_ticks`` steps over ``span``."""
    if span <= 0 or max_ticks < 1:
        return 1.0
    raw = span / max_ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * power >= raw:
            return m * power
    return 10.0 * power


def nice_max(value: float) -> float:
    """A round upper bound at or above ``value`` (1, 2, 2.5, 5 times a power of ten); 1 for 0."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * power >= value - 1e-12:
            return m * power
    return 10.0 * power


def fmt_value(value: float, unit: str = "") -> str:
    """A tick value: ``%`` for shares (0..1), ``k`` for thousands, else the shortest form."""
    if unit == "%":
        return f"{value * 100:.0f}%"
    if abs(value) >= 10000:
        return f"{value / 1000:.0f}k"
    if value == int(value):
        return str(int(value))
    return f"{value:g}"


def scale_ticks(
    top: float, y0: float, y1: float, x: float, unit: str = "", count: int = 4
) -> list[Tick]:
    """Value ticks 0..``top`` on a vertical axis drawn from ``y0`` (0) up to ``y1`` (``top``),
    labels right-aligned at ``x``; the count shrinks until labels are a label height apart."""
    height = y0 - y1
    while count > 1 and height / count < FONT_PX + 4:
        count -= 1
    out = []
    for i in range(count + 1):
        value = top * i / count
        y = round(y0 - height * i / count, 2)
        label = fmt_value(value, unit)
        base = y + FONT_PX / 2 - 1
        out.append(Tick(y, base, label, "end", label_box(x, base, label, "end")))
    return out


def lanes(positions: Sequence[float], labels: Sequence[str], count: int) -> list[int | None]:
    """A lane (row) for each label starting at x ``positions[i]``, such that labels sharing a lane
    never overlap; ``None`` when every lane is taken there (the label is then shown only in a
    legend). Labels are placed from left to right whatever their order in the input."""
    ends: list[float] = [-math.inf] * count
    out: list[int | None] = [None] * len(positions)
    order = sorted(range(len(positions)), key=lambda i: (positions[i], i))
    for i in order:
        for lane in range(count):
            if positions[i] >= ends[lane] + LABEL_GAP / 2:
                out[i] = lane
                ends[lane] = positions[i] + text_width(labels[i])
                break
    return out


def path(points: Sequence[tuple[float, float] | None]) -> tuple[str, list[tuple[float, float]]]:
    """An SVG path through ``points``, broken at ``None`` (a missing value), and the isolated
    points (no neighbour to join), which are drawn as dots."""
    parts: list[str] = []
    dots: list[tuple[float, float]] = []
    run: list[tuple[float, float]] = []

    def flush() -> None:
        if len(run) == 1:
            dots.append(run[0])
        elif run:
            parts.append("M" + " L".join(f"{x:g} {y:g}" for x, y in run))
        run.clear()

    for p in points:
        if p is None:
            flush()
        else:
            run.append((round(p[0], 2), round(p[1], 2)))
    flush()
    return " ".join(parts), dots
