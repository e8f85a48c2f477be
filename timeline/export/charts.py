"""The HTML appendix's charts and links, computed from the appendix document alone.

* the failing share per bucket, the rise shaded, change points numbered (those flagged
  ``failure_mode`` drawn apart: they show how requests failed, not what changed before), and one
  line per leading candidate value (the failing share of the requests carrying it) when the document has
  ``candidate_series``;
* small per-layer charts from ``outcomes``: p95 latency, policy blocks, empty retrievals, errors
  (each only when its layer logged anything);
* links: exemplars carrying each candidate value, anchor ids for cited events.

Buckets sit on a regular time grid (missing buckets are gaps, not squeezed out), labels come from
:mod:`timeline.export.svg` so they never overlap. Every string here is log-derived or built from
log-derived values: the template escapes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from timeline.export.svg import (
    FONT_PX,
    Box,
    Tick,
    bucket_ticks,
    label_box,
    lanes,
    nice_max,
    path,
    scale_ticks,
)
from timeline.export.text import approximate_bound

MAIN_SIZE: Final = (900, 280)
SMALL_SIZE: Final = (440, 170)
PAD_LEFT: Final = 48
PAD_RIGHT: Final = 12
PAD_BOTTOM: Final = 24
# Room above the plot for marker labels: two lanes.
PAD_TOP: Final = 30
MARKER_LANES: Final = 2
MAX_CANDIDATE_LINES: Final = 4
# A regular grid longer than this falls back to the buckets present (the analysis caps at 720).
MAX_GRID: Final = 2000
_ANCHOR_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.:-]")


@dataclass(frozen=True)
class Line:
    """One series: its legend text, CSS class, path and isolated points."""

    name: str
    css: str
    d: str
    dots: list[tuple[float, float]]


@dataclass(frozen=True)
class Hit:
    """A bucket's hover area and the values every series has there."""

    x: float
    width: float
    title: str


@dataclass(frozen=True)
class Marker:
    """A change point: a vertical line, its number above the plot (unless no lane was free)."""

    x: float
    number: str
    text: str
    label_y: float | None
    box: Box | None
    failure_mode: bool = False


@dataclass(frozen=True)
class LineChart:
    """Everything the template needs to draw one line chart."""

    chart_id: str
    title: str
    unit: str
    width: int
    height: int
    plot: Box
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    lines: list[Line]
    hits: list[Hit]
    markers: list[Marker] = field(default_factory=list)
    rise_x: float | None = None
    rise_label: Tick | None = None

    @property
    def empty(self) -> bool:
        """True when no series has a single value."""
        return not any(line.d or line.dots for line in self.lines)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def grid(minutes: Iterable[Any], bucket_minutes: Any) -> list[str]:
    """Every bucket from the first to the last minute seen, ``bucket_minutes`` apart (ISO)."""
    times = sorted({t for t in (_time(m) for m in minutes) if t is not None})
    if not times:
        return []
    width = bucket_minutes if isinstance(bucket_minutes, int) and bucket_minutes > 0 else 1
    step = timedelta(minutes=width)
    count = int((times[-1] - times[0]) / step) + 1
    if count > MAX_GRID:
        return [_iso(t) for t in times]
    return [_iso(times[0] + i * step) for i in range(count)]


def _tick_labels(buckets: Sequence[str]) -> list[str]:
    days = {b[:10] for b in buckets}
    if len(days) > 1:
        return [f"{b[5:10]} {b[11:16]}" for b in buckets]
    return [b[11:16] for b in buckets]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _frame(
    chart_id: str, title: str, unit: str, size: tuple[int, int], buckets: Sequence[str], top: float
) -> tuple[Box, list[Tick], list[Tick]]:
    width, height = size
    plot = Box(PAD_LEFT, PAD_TOP, width - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM)
    x_ticks = bucket_ticks(
        _tick_labels(buckets), plot.x, plot.x + plot.w, plot.y + plot.h + FONT_PX + 6
    )
    y_ticks = scale_ticks(top, plot.y + plot.h, plot.y, plot.x - 6, unit)
    return plot, x_ticks, y_ticks


def _line(
    name: str,
    css: str,
    values: Sequence[float | None],
    plot: Box,
    top: float,
) -> Line:
    n = len(values)
    slot = plot.w / n if n else 0.0
    points = [
        None
        if v is None
        else (plot.x + (i + 0.5) * slot, plot.y + plot.h - plot.h * min(max(v, 0.0), top) / top)
        for i, v in enumerate(values)
    ]
    d, dots = path(points)
    return Line(name, css, d, dots)


def _hits(buckets: Sequence[str], plot: Box, notes: Sequence[Sequence[str]]) -> list[Hit]:
    n = len(buckets)
    slot = plot.w / n if n else 0.0
    out = []
    for i, b in enumerate(buckets):
        parts = [p for p in notes[i] if p]
        if parts:
            title = f"{b[11:16]} UTC: " + "; ".join(parts)
            out.append(Hit(round(plot.x + i * slot, 2), round(slot, 2), title))
    return out


def _bucket_x(buckets: Sequence[str], plot: Box, minute: Any) -> float | None:
    when = _time(minute)
    if when is None or not buckets:
        return None
    key = _iso(when)
    if key not in buckets:
        return None
    return round(plot.x + buckets.index(key) * plot.w / len(buckets), 2)


def _share(failing: Any, requests: Any) -> float | None:
    n, k = _number(requests), _number(failing)
    if n is None or k is None or n <= 0:
        return None
    return k / n


def _pct(x: float | None) -> str:
    return "no requests" if x is None else f"{100 * x:.1f}%"


def failing_share_chart(doc: dict[str, Any], size: tuple[int, int] = MAIN_SIZE) -> LineChart:
    """The failing share per bucket with the rise shaded and change points numbered, and a line
    per leading candidate value found in ``doc["candidate_series"]`` (if the analysis wrote it:
    ``[{"field", "value", "points": [{"minute", "requests", "failing"}]}]``)."""
    outcomes = doc.get("outcomes") or {}
    rows = outcomes.get("requests") or []
    candidates = (doc.get("candidate_series") or [])[:MAX_CANDIDATE_LINES]
    minutes = [r.get("minute") for r in rows]
    minutes += [p.get("minute") for c in candidates for p in c.get("points") or []]
    buckets = grid(minutes, outcomes.get("bucket_minutes"))
    plot, x_ticks, y_ticks = _frame("failing-share", "", "%", size, buckets, 1.0)
    index = {b: i for i, b in enumerate(buckets)}
    notes: list[list[str]] = [[] for _ in buckets]

    def values(points: Iterable[dict[str, Any]], name: str) -> list[float | None]:
        out: list[float | None] = [None] * len(buckets)
        for p in points:
            when = _time(p.get("minute"))
            i = index.get(_iso(when)) if when else None
            if i is None:
                continue
            out[i] = _share(p.get("failing"), p.get("requests"))
            if out[i] is not None:
                notes[i].append(
                    f"{name} {_pct(out[i])} ({_count(p.get('failing'))} of "
                    f"{_count(p.get('requests'))})"
                )
        return out

    lines = [_line("all requests", "s0", values(rows, "all requests"), plot, 1.0)]
    for n, c in enumerate(candidates, start=1):
        name = f"{_text(c.get('field'))} = {_text(c.get('value'))}"
        lines.append(_line(name, f"s{n}", values(c.get("points") or [], name), plot, 1.0))
    rise = doc.get("rise") or {}
    rise_x = _bucket_x(buckets, plot, rise.get("minute"))
    rise_label = None
    labels: list[tuple[float, str]] = []
    if rise_x is not None:
        text = f"rise {str(rise.get('minute'))[11:16]}"
        labels.append((rise_x + 3, text))
    points = [
        p
        for p in (doc.get("changes") or {}).get("change_points") or []
        if p.get("kind") != "disappeared"
    ]
    positions = [(_bucket_x(buckets, plot, p.get("minute")), p) for p in points]
    placed = [(x, p) for x, p in positions if x is not None]
    labels += [(x + 3, str(n)) for n, (x, _) in enumerate(placed, start=1)]
    chosen = lanes([x for x, _ in labels], [t for _, t in labels], MARKER_LANES)
    lane_y = [
        plot.y - 4 - (FONT_PX + 3) * (MARKER_LANES - 1 - lane) for lane in range(MARKER_LANES)
    ]
    if rise_x is not None:
        lane = chosen.pop(0)
        if lane is not None:
            y = lane_y[lane]
            rise_label = Tick(
                rise_x + 3,
                y,
                labels[0][1],
                "start",
                label_box(rise_x + 3, y, labels[0][1], "start"),
            )
    markers = []
    for n, ((x, p), lane) in enumerate(zip(placed, chosen, strict=True), start=1):
        mark_y = None if lane is None else lane_y[lane]
        markers.append(
            Marker(
                x=x,
                number=str(n),
                text=_change_text(p),
                label_y=mark_y,
                box=None if mark_y is None else label_box(x + 3, mark_y, str(n), "start"),
                failure_mode=p.get("failure_mode") is True,
            )
        )
    return LineChart(
        chart_id="failing-share",
        title="Failing share per bucket",
        unit="%",
        width=size[0],
        height=size[1],
        plot=plot,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        lines=lines,
        hits=_hits(buckets, plot, notes),
        markers=markers,
        rise_x=rise_x,
        rise_label=rise_label,
    )


def _count(value: Any) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:g}"


def _text(value: Any) -> str:
    return "—" if value is None else str(value)


def _change_text(p: dict[str, Any]) -> str:
    text = (
        f"{str(p.get('minute') or '')[11:16] or '—'} {_text(p.get('field'))} "
        f"{_text(p.get('kind'))}: {_text(p.get('value'))}"
    )
    if p.get("failure_mode") is True:
        text += " (a failure mode: logged only on failing events, not a cause)"
    return text


# (chart id, title, unit, [(outcomes list, column, series name, group column or None)])
_LAYER_CHARTS: Final[
    tuple[tuple[str, str, str, tuple[tuple[str, str, str, str | None], ...]], ...]
] = (
    (
        "p95-latency",
        "p95 latency (ms)",
        "ms",
        (
            ("requests", "p95_ms", "requests", None),
            ("gateway", "p95_ms", "gateway", None),
            ("policy", "p95_ms", "policy", "stage"),
            ("retrieval", "p95_ms", "retrieval", None),
            ("inference", "p95_ms", "inference", None),
        ),
    ),
    ("blocks", "Policy blocks", "", (("policy", "blocks", "blocks", "stage"),)),
    ("empty-retrievals", "Empty retrievals", "", (("retrieval", "empty", "empty results", None),)),
    (
        "errors",
        "Errors",
        "",
        (
            ("gateway", "status_5xx", "gateway 5xx", None),
            ("gateway", "status_4xx", "gateway 4xx", None),
            ("inference", "errors", "model errors", None),
        ),
    ),
)


def _grouped(
    rows: Sequence[dict[str, Any]], column: str, name: str, group: str | None
) -> list[tuple[str, list[dict[str, Any]]]]:
    if group is None:
        return [(name, list(rows))]
    keys = sorted({_text(r.get(group)) for r in rows})
    return [(f"{name} {k}", [r for r in rows if _text(r.get(group)) == k]) for k in keys]


def layer_charts(doc: dict[str, Any], size: tuple[int, int] = SMALL_SIZE) -> list[LineChart]:
    """Small charts per measure, one line per layer (or policy stage), sharing the time grid of
    the failing share chart; a chart whose layers logged nothing is left out."""
    outcomes = doc.get("outcomes") or {}
    everything = [
        r.get("minute")
        for key in ("requests", "gateway", "policy", "retrieval", "inference")
        for r in outcomes.get(key) or []
    ]
    buckets = grid(everything, outcomes.get("bucket_minutes"))
    index = {b: i for i, b in enumerate(buckets)}
    rise_minute = (doc.get("rise") or {}).get("minute")
    bound = approximate_bound(outcomes.get("percentiles"))
    charts = []
    for chart_id, title, unit, specs in _LAYER_CHARTS:
        if bound is not None and chart_id == "p95-latency":
            title = f"p95 latency (ms, approximate ±{100 * bound:g} %)"
        series: list[tuple[str, list[float | None]]] = []
        for source, column, name, group in specs:
            for label, rows in _grouped(outcomes.get(source) or [], column, name, group):
                values: list[float | None] = [None] * len(buckets)
                for r in rows:
                    when = _time(r.get("minute"))
                    i = index.get(_iso(when)) if when else None
                    if i is not None:
                        v = _number(r.get(column))
                        if v is not None:
                            values[i] = v
                if any(v is not None for v in values):
                    series.append((label, values))
        if not series:
            continue
        peak = max((v for _, vs in series for v in vs if v is not None), default=0.0)
        top = nice_max(peak)
        plot, x_ticks, y_ticks = _frame(chart_id, title, unit, size, buckets, top)
        notes: list[list[str]] = [[] for _ in buckets]
        for label, vs in series:
            for i, v in enumerate(vs):
                if v is not None:
                    notes[i].append(f"{label} {v:g}{' ' + unit if unit else ''}")
        lines = [_line(label, f"s{n}", vs, plot, top) for n, (label, vs) in enumerate(series)]
        charts.append(
            LineChart(
                chart_id=chart_id,
                title=title,
                unit=unit,
                width=size[0],
                height=size[1],
                plot=plot,
                x_ticks=x_ticks,
                y_ticks=y_ticks,
                lines=lines,
                hits=_hits(buckets, plot, notes),
                rise_x=_bucket_x(buckets, plot, rise_minute),
            )
        )
    return charts


def anchor(event_id: Any) -> str | None:
    """The HTML id of an event's row (``ev-`` and the id, unusual characters replaced); None for
    a missing id."""
    if not isinstance(event_id, str) or not event_id or event_id == "—":
        return None
    return "ev-" + _ANCHOR_UNSAFE.sub("_", event_id)


def request_anchor(correlation_id: Any) -> str:
    """The HTML id of an exemplar request."""
    return "req-" + _ANCHOR_UNSAFE.sub("_", _text(correlation_id))


def _values(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    return [] if value is None else [str(value)]


def exemplars_carrying(doc: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    """For each (field, value) logged on an exemplar's events, the exemplars' correlation ids."""
    out: dict[tuple[str, str], list[str]] = {}
    for ex in doc.get("exemplars") or []:
        cid = _text(ex.get("correlation_id"))
        for event in ex.get("events") or []:
            for key, value in (event.get("details") or {}).items():
                for v in _values(value):
                    ids = out.setdefault((str(key), v), [])
                    if cid not in ids:
                        ids.append(cid)
    return out


@dataclass(frozen=True)
class CitedEvent:
    """An event cited as evidence that no exemplar shows: its row in the cited-events index."""

    anchor: str
    event_id: str
    source: str
    cited_in: list[str]


def _citations(value: Any, section: str) -> Iterable[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        if "event_id" in value and "source" in value and len(value) <= 3:
            yield section, value
            return
        for v in value.values():
            yield from _citations(v, section)
    elif isinstance(value, list):
        for v in value:
            yield from _citations(v, section)


SECTION_TITLES: Final = {
    "findings": "summary",
    "changes": "what changed",
    "nearest_change_before_rise": "what changed",
    "suspects": "candidates",
    "failure_modes": "how requests failed",
    "slices": "slices",
    "outcomes": "outcomes",
    "data_quality": "data quality",
}


def exemplar_anchors(doc: dict[str, Any]) -> set[str]:
    """Anchor ids of every exemplar event row."""
    out = set()
    for ex in doc.get("exemplars") or []:
        for event in ex.get("events") or []:
            a = anchor(event.get("event_id"))
            if a:
                out.add(a)
    return out


def cited_events(doc: dict[str, Any]) -> list[CitedEvent]:
    """Every event cited anywhere in the document that is not an exemplar row, in first-cited
    order, with the sections citing it: every evidence link then has a target in the page."""
    shown = exemplar_anchors(doc)
    found: dict[str, CitedEvent] = {}
    for key, value in doc.items():
        if key == "exemplars":
            continue
        section = SECTION_TITLES.get(key, key.replace("_", " "))
        for sec, c in _citations(value, section):
            a = anchor(c.get("event_id"))
            if a is None or a in shown:
                continue
            item = found.get(a)
            if item is None:
                found[a] = CitedEvent(a, str(c.get("event_id")), _text(c.get("source")), [sec])
            elif sec not in item.cited_in:
                item.cited_in.append(sec)
    return list(found.values())
