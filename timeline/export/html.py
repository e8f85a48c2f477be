"""The appendix as one self-contained HTML page.

It says what the Markdown says, laid out for reading: the likely candidates in causal order as
cards with their effect sizes, apart from the values tested and not likely (with the tests each
failed); impact, detection and resolution; how requests failed (failure modes, never candidates);
each exemplar's one-line chain; change points that are failure modes marked as such. The
functions below turn the document into display text (``Candidate``, ``Count``, ``ChainStep``);
the templates only lay it out.

No external resources: inline CSS, inline SVG pictures (failing share over time, per-layer charts,
a waterfall per exemplar), a little vanilla JS (a request-id search, filtering tables, expanding
sections; the page reads fully without it, links and the table of contents need none). Every log-derived string goes through jinja2's autoescape; the embedded JSON escapes
``<``, ``>`` and ``&``; a Content-Security-Policy allows only this page's own style and script
(by hash), so even a string that escaped escaping could not run or load anything.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import jinja2

from timeline.analyze.ranking import MIN_RELATIVE_RISK
from timeline.analyze.rise import ALPHA, MIN_EXCESS_FAILURES
from timeline.export.charts import (
    anchor,
    cited_events,
    exemplar_anchors,
    exemplars_carrying,
    failing_share_chart,
    layer_charts,
    request_anchor,
)
from timeline.export.text import (
    NULL_TEXT,
    PERCENTILE_KEYS,
    approximate,
    approximate_bound,
    hm,
    hms,
    number,
    pct,
    percentile_note,
    plain,
    shown_totals,
)
from timeline.export.waterfall import BAD_STATUS, waterfall

CSS: Final = """
body{box-sizing:border-box;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
a{color:#0969da}.notice{background:#f6f8fa;border-left:4px solid #8c959f;padding:.5rem .8rem}
nav.toc{background:#f6f8fa;border:1px solid #d0d7de;padding:.4rem .9rem;margin:1rem 0}nav.toc ol{margin:.2rem 0;padding-left:1.4rem}nav.toc ol ol{padding-left:1.1rem}
table{border-collapse:collapse;margin:.6rem 0;width:100%}th,td{border:1px solid #d0d7de;padding:.25rem .45rem;text-align:left;vertical-align:top;overflow-wrap:normal;word-break:normal}
th{background:#f6f8fa}.cite{font-family:ui-monospace,monospace;font-size:12px;color:#57606a;overflow-wrap:anywhere;word-break:break-all;min-width:16rem}
.controls{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}.controls[hidden]{display:none}
#request-search{width:18rem}
svg text{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif}
svg .axis{stroke:#57606a}svg .grid{stroke:#eaeef2}svg .tick,svg .mlabel,svg .rise-label{font-size:11px;fill:#57606a}
svg .marker{stroke:#0969da;stroke-dasharray:4 3}svg .mlabel{fill:#0969da}
svg .rise{stroke:#cf222e;stroke-width:1.5}svg .rise-label{fill:#cf222e}svg .rise-band{fill:#cf222e;fill-opacity:.07}
svg .series{fill:none;stroke-width:1.6}svg .dot{stroke:none}svg .hit{fill:transparent}svg .hit:hover{fill:#0969da;fill-opacity:.08}
.s0{stroke:#1b1f24;fill:#1b1f24}svg .series.s0{stroke-width:2.4}
.s1{stroke:#0072b2;fill:#0072b2}.s2{stroke:#d55e00;fill:#d55e00}.s3{stroke:#009e73;fill:#009e73}
.s4{stroke:#cc79a7;fill:#cc79a7}.s5{stroke:#e69f00;fill:#e69f00}.s6{stroke:#56b4e9;fill:#56b4e9}
svg .series.s2,svg .series.s4,svg .series.s6{stroke-dasharray:6 3}
svg .series.dot{fill:none}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.2rem 1rem;padding:0;margin:.2rem 0;font-size:12px}ul.legend svg{vertical-align:middle;margin-right:.3rem}
ol.markers{font-size:12px;color:#57606a;margin:.2rem 0}
figure{margin:.6rem 0}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:.5rem 1rem}
.chart-title{font-weight:600;font-size:13px}
svg.waterfall .wlabel{font-size:12px;fill:#1b1f24}svg.waterfall a .wlabel{fill:#0969da}svg .stripe{fill:#f6f8fa}
svg .bar{stroke:none}svg .bad .bar{stroke:#cf222e;stroke-width:2}svg .heuristic .bar{stroke:#9a6700;stroke-width:1.5;stroke-dasharray:3 2}
svg .layer-gateway{fill:#0969da}svg .layer-policy{fill:#8250df}svg .layer-retrieval{fill:#1a7f37}svg .layer-inference{fill:#bc4c00}svg .layer-other{fill:#57606a}
svg .band{fill:#57606a;fill-opacity:.16}svg .untimed{fill:#fff;stroke:#57606a;stroke-width:1.5}
.exemplar{border-top:1px solid #d0d7de;margin-top:1rem}td.details{overflow-wrap:anywhere;min-width:14rem}.wnotes{font-size:12px;color:#57606a}
tr.heuristic td{background:#fff8c5}tr.corrected td:nth-child(2){font-weight:bold}tr:target td{background:#ddf4ff}
.hidden,tr.hidden{display:none}
.state{padding:.5rem .8rem;border-left:4px solid #8c959f;background:#f6f8fa}.state-rise{border-left-color:#cf222e;background:#fff5f5}
.verdict{border-left:4px solid #8c959f;background:#f6f8fa;padding:.5rem .8rem}
ol.cands{list-style:none;padding:0;margin:.6rem 0}li.cand{border:1px solid #d0d7de;border-left:4px solid #cf222e;border-radius:6px;padding:.6rem .9rem;margin:.7rem 0}
.cand-head{display:flex;flex-wrap:wrap;align-items:baseline;gap:.3rem .6rem;font-size:15px}.fv{font-weight:600;overflow-wrap:anywhere}
.rank{min-width:1.1rem;text-align:center;background:#cf222e;color:#fff;border-radius:1rem;font-weight:700;padding:0 .4rem}
.tag{font-size:12px;background:#eaeef2;border-radius:1rem;padding:.05rem .5rem;color:#424a53;white-space:nowrap}.tag.fmode{background:#fff1c2;color:#7d4e00}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.6rem 1.2rem;margin:.7rem 0 .4rem}
.fig{display:flex;flex-direction:column;gap:.15rem}.fig .k,.fig .n,.small{font-size:12px;color:#57606a}.fig .v{font-size:18px;font-weight:600;line-height:1.2}
svg.sbar .track{fill:#eaeef2}svg.sbar .fill{fill:#57606a}svg.sbar .with{fill:#cf222e}svg.sbar .without{fill:#57606a}svg.sbar .cover{fill:#0969da}svg.sbar .mode{fill:#8c959f}
.cand-links{margin:.3rem 0 0;font-size:13px}table.tested td{font-size:13px}
.kvs{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:.2rem 1.5rem;align-items:start}.kvs table{width:100%}.kvs td{overflow-wrap:anywhere}
.nw{white-space:nowrap}table.tested td.cite{min-width:10rem}table.tested td.why{min-width:12rem}
caption{text-align:left;font-weight:600;padding:.2rem 0}table.kv th{font-weight:normal;width:50%}
tr.fmode td{background:#fffbea}p.chain{font-size:13px;background:#f6f8fa;padding:.35rem .6rem;border-radius:4px}.chain .k{font-weight:600}.chain .bad,.chain .bad a{color:#cf222e}.chain .arrow{color:#8c959f}
svg .marker.fmode{stroke:#9a6700;stroke-dasharray:1 3}svg .mlabel.fmode{fill:#9a6700}ol.markers li.fmode{color:#9a6700}
@media print{.noprint{display:none}details{display:block}details>summary{list-style:none}body{margin:0;max-width:none}}
"""

JS: Final = """
(function () {
  "use strict";
  document.querySelectorAll(".controls").forEach(function (c) { c.hidden = false; });
  var input = document.getElementById("filter");
  input.addEventListener("input", function () {
    var needle = input.value.toLowerCase();
    document.querySelectorAll("table.filterable tr").forEach(function (row) {
      if (row.querySelector("th")) { return; }
      var text = row.textContent.toLowerCase();
      row.classList.toggle("hidden", needle !== "" && text.indexOf(needle) === -1);
    });
  });
  var search = document.getElementById("request-search");
  var count = document.getElementById("request-count");
  function applySearch() {
    var needle = search.value.trim().toLowerCase();
    var shown = 0;
    var total = 0;
    document.querySelectorAll("[data-request]").forEach(function (el) {
      var hit = needle === "" || el.getAttribute("data-request").toLowerCase().indexOf(needle) !== -1;
      el.classList.toggle("hidden", !hit);
      if (el.classList.contains("exemplar")) {
        total += 1;
        if (hit) { shown += 1; }
      }
    });
    count.textContent = needle === "" ? "" : shown + " of " + total + " exemplar requests match";
  }
  search.addEventListener("input", applySearch);
  var wanted = new URLSearchParams(window.location.search).get("request");
  if (wanted) {
    search.value = wanted;
    search.dispatchEvent(new Event("input"));
  }
  function setAll(open) {
    document.querySelectorAll("details").forEach(function (d) { d.open = open; });
  }
  document.getElementById("expand").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { setAll(false); });
  window.addEventListener("beforeprint", function () { setAll(true); });
})();
"""


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def _json_value(value: Any) -> Any:
    """A value JSON has no type for: a time as ISO 8601 (``Z`` for UTC), anything else as text."""
    return _iso(value) if isinstance(value, datetime | date) else str(value)


def _iso(value: datetime | date) -> str:
    return value.isoformat().replace("+00:00", "Z")


def script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</``, no ``<!--``."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=False, default=_json_value)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def shown(value: Any) -> Any:
    """What every ``{{ ... }}`` of the template prints: never a Python repr.

    A missing value is ``—``, a boolean ``yes`` / ``no``, a list its items joined by ``, ``, a
    mapping ``key=value`` pairs; numbers and strings as they are (then escaped).
    """
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return _iso(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(shown(v)) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{shown(k)}={shown(v)}" for k, v in value.items())
    return value


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _share(value: Any) -> float | None:
    """A share clamped to 0..1 for a bar, or None."""
    number = _num(value)
    return None if number is None else min(max(number, 0.0), 1.0)


def _counts(k: int | None, n: int | None) -> str:
    return "" if k is None or n is None else f"{k} of {n}"


def _interval(low: Any, high: Any) -> str:
    if _num(low) is None and _num(high) is None:
        return ""
    return f"95% {number(_num(low), '.2f')} to {number(_num(high), '.2f')}"


def p_text(value: Any) -> str:
    """A p-value as people read it: ``< 0.0001`` for tiny ones, two significant digits else."""
    p = _num(value)
    if p is None:
        return NULL_TEXT
    return "< 0.0001" if p < 0.0001 else f"{p:.2g}"


@dataclass(frozen=True)
class Candidate:
    """One over-represented value as the page shows it: every figure already text."""

    anchor: str
    rank: str
    field: str
    value: str
    stage: str
    likely: bool
    rate_with: str
    with_counts: str
    bar_with: float | None
    rate_without: str
    without_counts: str
    bar_without: float | None
    bar_coverage: float | None
    relative_risk: str
    relative_risk_ci: str
    excess: str
    coverage: str
    first_seen: str
    last_seen: str
    at_end: str
    p_adjusted: str
    lift: str
    lift_ci: str
    appeared: str
    why_not: list[str]
    exemplars: list[str]
    evidence: list[Any]


def why_not_likely(s: dict[str, Any]) -> list[str]:
    """The tests a value failed (``analyze.ranking``), in words; empty for a likely one or a
    document without the causal ranking."""
    if s.get("likely") is not False:
        return []
    out = []
    p = _num(s.get("p_adjusted"))
    if p is None:
        out.append(
            f"not tested (fewer than {MIN_EXCESS_FAILURES} failing carriers, "
            "relative risk at most 1, or past the tested values)"
        )
    elif p >= ALPHA:
        out.append(f"p (Holm) {p_text(p)}, not below {ALPHA:g}")
    rr, low = _num(s.get("relative_risk")), _num(s.get("relative_risk_low"))
    if rr is not None and rr < MIN_RELATIVE_RISK:
        out.append(f"relative risk {rr:.2f}, below {MIN_RELATIVE_RISK:g}")
    if low is not None and low <= 1.0:
        out.append(f"95% interval reaches 1 ({low:.2f})")
    excess = _num(s.get("excess_failures"))
    if excess is not None and excess < MIN_EXCESS_FAILURES:
        out.append(f"{excess:.1f} excess failures, fewer than {MIN_EXCESS_FAILURES}")
    return out


def _appeared(s: dict[str, Any]) -> str:
    change = s.get("change")
    if not isinstance(change, dict) or not change.get("minute"):
        return ""
    text = f"appeared {hm(change.get('minute'))} UTC"
    return text + (", at or before the rise" if s.get("coincides_with_rise") else "")


def candidate(
    s: dict[str, Any], anchor_id: str, rank: str, carrying: dict[tuple[str, str], list[str]]
) -> Candidate:
    """``s`` (a suspect of the document) as display text; a missing figure is ``—``."""
    k, carriers = _int(s.get("failing_with")), _int(s.get("carriers"))
    failing_total, rest_total = _int(s.get("failing_total")), _int(s.get("rest_total"))
    k_without = n_without = None
    if None not in (k, carriers, failing_total, rest_total):
        k_without = int(failing_total or 0) - int(k or 0)
        n_without = int(failing_total or 0) + int(rest_total or 0) - int(carriers or 0)
    at_end = _yes_no(
        s.get("present_at_end"), "still present at the window end", "gone before the window end"
    )
    field, value = plain(s.get("field")), plain(s.get("value"))
    return Candidate(
        anchor=anchor_id,
        rank=rank,
        field=field,
        value=value,
        stage=plain(s.get("stage")),
        likely=s.get("likely") is True,
        rate_with=pct(_num(s.get("rate_with"))),
        with_counts=_counts(k, carriers),
        bar_with=_share(s.get("rate_with")),
        rate_without=pct(_num(s.get("rate_without"))),
        without_counts=_counts(k_without, n_without),
        bar_without=_share(s.get("rate_without")),
        bar_coverage=_share(s.get("failing_coverage")),
        relative_risk=number(_num(s.get("relative_risk")), ".2f"),
        relative_risk_ci=_interval(s.get("relative_risk_low"), s.get("relative_risk_high")),
        excess=number(_num(s.get("excess_failures")), ".0f"),
        coverage=pct(_num(s.get("failing_coverage"))),
        first_seen=hms(s.get("first_seen")),
        last_seen=hms(s.get("last_seen")),
        at_end=at_end,
        p_adjusted=p_text(s.get("p_adjusted")),
        lift=number(_num(s.get("lift")), ".2f"),
        lift_ci=_interval(s.get("lift_low"), s.get("lift_high")),
        appeared=_appeared(s),
        why_not=why_not_likely(s),
        exemplars=carrying.get((field, value), []),
        evidence=list(s.get("evidence") or []),
    )


@dataclass(frozen=True)
class Ranking:
    """The candidates section: likely ones in causal order, then the others tested."""

    likely: list[Candidate]
    tested: list[Candidate]
    candidates_tested: int | None
    criteria: str
    rise_state: str
    rise_text: str


def _rise(doc: dict[str, Any]) -> tuple[str, str]:
    """(``rise`` / ``no-rise`` / ``untested``, one plain sentence)."""
    rise, test = doc.get("rise"), doc.get("rise_test")
    if isinstance(rise, dict) and rise.get("minute"):
        text = (
            f"The failing share rose at {hm(rise.get('minute'))} UTC: "
            f"{pct(_num(rise.get('rate_before')))} of requests before, "
            f"{pct(_num(rise.get('rate_after')))} from then on "
            f"(log-likelihood ratio {number(_num(rise.get('log_likelihood_ratio')), '.2f')}"
        )
        if isinstance(test, dict):
            text += f", threshold {number(_num(test.get('threshold')), '.2f')}"
        return "rise", text + "). Candidates are ranked against the requests before it."
    if isinstance(test, dict):
        return "no-rise", (
            "No rise: the failing share did not rise significantly. The best split, at "
            f"{hm(test.get('minute'))} UTC ({pct(_num(test.get('rate_before')))} before, "
            f"{pct(_num(test.get('rate_after')))} after), has a log-likelihood ratio of "
            f"{number(_num(test.get('log_likelihood_ratio')), '.2f')}, below the "
            f"{number(_num(test.get('threshold')), '.2f')} needed over "
            f"{plain(test.get('splits'))} splits. Noise is not a rise; values are tested over "
            "the whole window."
        )
    return "untested", "No rise: too few requests over time to test for one."


def criteria(tested: int | None) -> str:
    """The tests a likely candidate passes, as one sentence."""
    over = "every value tested" if tested is None else f"{tested} values"
    return (
        f"one-sided Fisher exact test, Holm-corrected over {over}, p < {ALPHA:g}; relative risk "
        f"at least {MIN_RELATIVE_RISK:g} with its 95% interval above 1; at least "
        f"{MIN_EXCESS_FAILURES} excess failures"
    )


def ranking(doc: dict[str, Any], carrying: dict[tuple[str, str], list[str]]) -> Ranking:
    """The document's suspects split into likely candidates (by ``causal_rank``) and the rest."""
    suspects = [s for s in doc.get("suspects") or [] if isinstance(s, dict)]
    likely = sorted(
        (s for s in suspects if s.get("likely") is True),
        key=lambda s: (_num(s.get("causal_rank")) is None, _num(s.get("causal_rank")) or 0.0),
    )
    rest = [s for s in suspects if s.get("likely") is not True]
    state, text = _rise(doc)
    return Ranking(
        likely=[
            candidate(s, f"candidate-{i}", plain(s.get("causal_rank") or i), carrying)
            for i, s in enumerate(likely, start=1)
        ],
        tested=[candidate(s, f"tested-{i}", "", carrying) for i, s in enumerate(rest, start=1)],
        candidates_tested=_int(doc.get("candidates_tested")),
        criteria=criteria(_int(doc.get("candidates_tested"))),
        rise_state=state,
        rise_text=text,
    )


@dataclass(frozen=True)
class Count:
    """One row of a failure-mode table."""

    value: str
    requests: str
    share: str
    bar: float | None


FAILURE_MODE_TABLES: Final = (
    ("reasons", "Why they count as failing"),
    ("error_types", "Error type"),
    ("blocked_by", "Blocked by"),
    ("status_classes", "Answered with status"),
)


def failure_modes(doc: dict[str, Any]) -> list[tuple[str, list[Count]]]:
    """The non-empty failure-mode tables: (title, rows)."""
    modes = doc.get("failure_modes") or {}
    out = []
    for key, title in FAILURE_MODE_TABLES:
        rows = [
            Count(
                plain(r.get("value")),
                plain(r.get("requests")),
                pct(_num(r.get("share"))),
                _share(r.get("share")),
            )
            for r in modes.get(key) or []
            if isinstance(r, dict)
        ]
        if rows:
            out.append((title, rows))
    return out


def logged_on_failures(
    doc: dict[str, Any], carrying: dict[tuple[str, str], list[str]]
) -> list[Candidate]:
    """Values logged only on failing events: symptoms, shown beside the failure modes."""
    modes = doc.get("failure_modes") or {}
    rows = [m for m in modes.get("logged_on_failures") or [] if isinstance(m, dict)]
    return [candidate(m, f"mode-{i}", "", carrying) for i, m in enumerate(rows, start=1)]


def when(value: Any) -> str:
    """An ISO time as ``2025-03-02 10:12:08 UTC`` (to the second); ``—`` when missing."""
    if not isinstance(value, str) or len(value) < 19:
        return plain(value)
    return f"{value[:10]} {value[11:19]} UTC"


def _yes_no(value: Any, yes: str = "yes", no: str = "no") -> str:
    return {True: yes, False: no}.get(value, NULL_TEXT) if isinstance(value, bool) else NULL_TEXT


def impact(doc: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Impact, detection and resolution as (group title, [(measure, value)]); empty when the
    document has no ``impact``."""
    i = doc.get("impact")
    if not isinstance(i, dict):
        return []
    since = i.get("since")
    requests, failing = _int(i.get("requests")), _int(i.get("failing_requests"))
    share = None if not requests or failing is None else failing / requests
    excess = _num(i.get("excess_failures"))
    impact_rows = [
        ("counted from", f"the rise, {when(since)}" if since else "the window start (no rise)"),
        ("requests", plain(requests)),
        ("failing requests", f"{plain(failing)} ({pct(share)})"),
        (
            "excess failures over the rate before",
            NULL_TEXT if excess is None else f"{excess:.0f}",
        ),
        (
            "distinct clients affected",
            f"{plain(_int(i.get('clients_affected')))} of {plain(_int(i.get('clients')))}",
        ),
    ]
    alert = _num(i.get("alert_5xx_share"))
    detection_rows = [
        ("first failing request", when(i.get("first_failing"))),
        ("share answered 5xx", pct(_num(i.get("status_5xx_share")))),
        (f"a 5xx alert at {pct(alert)} would fire", _yes_no(i.get("status_alert_would_fire"))),
        ("silent failures (failing, answered 2xx)", plain(_int(i.get("silent_failures")))),
        ("failing without a status", plain(_int(i.get("failing_without_status")))),
    ]
    ongoing = i.get("ongoing_at_end")
    state = _yes_no(ongoing, "still failing when the logs end", "ended before the logs end")
    minutes = _num(i.get("duration_minutes"))
    resolution_rows = [
        ("ongoing at window end", state),
        ("until", when(i.get("until"))),
        ("duration", NULL_TEXT if minutes is None else f"{minutes:g} min"),
        ("last failing request", when(i.get("last_failing"))),
    ]
    return [
        ("Impact", impact_rows),
        ("Detection", detection_rows),
        ("Resolution", resolution_rows),
    ]


@dataclass(frozen=True)
class ChainStep:
    """One step of an exemplar's causal chain."""

    stage: str
    text: str
    status: str
    bad: bool
    anchor: str | None


def chain(exemplar: dict[str, Any], anchors: set[str]) -> list[ChainStep]:
    """An exemplar's one-line chain (prompt, retrieval, model, policy), each step linking to its
    event row when the page has it."""
    out = []
    for step in exemplar.get("chain") or []:
        if not isinstance(step, dict):
            continue
        target = anchor(step.get("event_id"))
        status = step.get("status")
        out.append(
            ChainStep(
                stage=plain(step.get("stage")),
                text=plain(step.get("text")),
                status="" if status is None else plain(status),
                bad=status in BAD_STATUS,
                anchor=target if target in anchors else None,
            )
        )
    return out


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("timeline.export", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        finalize=shown,
    )


def render_html(doc: dict[str, Any]) -> str:
    """The whole appendix as one HTML page."""
    template = _environment().get_template("appendix.html.j2")
    exemplars = doc.get("exemplars") or []
    pictures = [
        waterfall(ex, [anchor(e.get("event_id")) for e in ex.get("events") or []])
        for ex in exemplars
    ]
    carrying = exemplars_carrying(doc)
    cited = cited_events(doc)
    anchors = exemplar_anchors(doc) | {c.anchor for c in cited}
    note = (doc.get("outcomes") or {}).get("percentiles")
    return template.render(
        doc=doc,
        chart=failing_share_chart(doc),
        layer_charts=layer_charts(doc),
        waterfalls=pictures,
        ranking=ranking(doc, carrying),
        failure_modes=failure_modes(doc),
        logged_on_failures=logged_on_failures(doc, carrying),
        impact=impact(doc),
        chains=[chain(ex, anchors) for ex in exemplars],
        fmode_changes=any(
            isinstance(c, dict) and c.get("failure_mode") is True
            for c in (doc.get("changes") or {}).get("change_points") or []
        ),
        cited=cited,
        anchors=anchors,
        anchor=anchor,
        request_anchor=request_anchor,
        css=CSS,
        js=JS,
        style_hash=_hash(CSS),
        script_hash=_hash(JS),
        data_json=script_json(doc),
        hm=hm,
        pct=pct,
        number=number,
        pbound=approximate_bound(note),
        pnote=percentile_note(note),
        pkeys=PERCENTILE_KEYS,
        approx=approximate,
        shown_totals=shown_totals,
    )
