"""Geometry of the inline SVG chart: failing share per bucket, with change markers.

Only numbers and labels are produced here; the template writes the SVG and escapes the labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from timeline.export.text import plain

WIDTH: Final = 900
HEIGHT: Final = 220
PAD_LEFT: Final = 40
PAD_BOTTOM: Final = 30
PAD_TOP: Final = 24


@dataclass(frozen=True)
class Bar:
    """One bucket: total requests (light) and failing requests (dark), as rectangles."""

    x: float
    width: float
    y_total: float
    h_total: float
    y_failing: float
    h_failing: float
    label: str


@dataclass(frozen=True)
class Marker:
    """A change point: a vertical line with a label."""

    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw the chart."""

    width: int
    height: int
    bars: list[Bar]
    markers: list[Marker]
    ticks: list[tuple[float, str]]
    y_max: int
    plot_bottom: float


def _marker_label(p: dict[str, Any]) -> str:
    text = f"{str(p['minute'])[11:16]} {plain(p['field'])} {plain(p['kind'])}: {plain(p['value'])}"
    return text[:80]


def chart(series: list[dict[str, Any]], points: list[dict[str, Any]]) -> Chart:
    """Bars of requests and failing requests per bucket; markers at change points."""
    plot_w = WIDTH - PAD_LEFT - 10
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    bottom = float(HEIGHT - PAD_BOTTOM)
    if not series:
        return Chart(WIDTH, HEIGHT, [], [], [], 0, bottom)
    minutes = [r["minute"] for r in series]
    y_max = max(int(r["requests"]) for r in series) or 1
    step = plot_w / len(series)
    bars = []
    for i, r in enumerate(series):
        h_total = plot_h * r["requests"] / y_max
        h_fail = plot_h * r["failing"] / y_max
        bars.append(
            Bar(
                x=round(PAD_LEFT + i * step + 1, 1),
                width=round(max(step - 2, 1.0), 1),
                y_total=round(bottom - h_total, 1),
                h_total=round(h_total, 1),
                y_failing=round(bottom - h_fail, 1),
                h_failing=round(h_fail, 1),
                label=f"{str(r['minute'])[11:16]}: {r['failing']} of {r['requests']} failing",
            )
        )
    index = {m: i for i, m in enumerate(minutes)}
    markers = [
        Marker(
            x=round(PAD_LEFT + index[p["minute"]] * step, 1),
            label=_marker_label(p),
        )
        for p in points
        if p["minute"] in index and p["kind"] != "disappeared"
    ]
    every = max(1, len(series) // 10)
    ticks = [
        (round(PAD_LEFT + i * step + step / 2, 1), str(m)[11:16])
        for i, m in enumerate(minutes)
        if i % every == 0
    ]
    return Chart(WIDTH, HEIGHT, bars, markers, ticks, y_max, bottom)
