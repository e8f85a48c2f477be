"""The appendix as Markdown that renders on GitHub and GitLab (tables, Mermaid diagrams)."""

from __future__ import annotations

from typing import Any, Final

from timeline.export.mermaid import sequence
from timeline.export.text import (
    NULL_TEXT,
    approximate,
    approximate_bound,
    chain_line,
    cites,
    hm,
    hms,
    md,
    number,
    pairs,
    pct,
    percentile_note,
    plain,
    shown_totals,
    table,
)

NOTICE: Final = (
    "This appendix lays out evidence from the logs; it does not say who or what is at fault. "
    "Every statement cites event ids and `source_file:line`."
)


def _findings(doc: dict[str, Any]) -> list[str]:
    out = ["## Summary of the evidence", ""]
    for f in doc["findings"]:
        out.append(f"- {md(f['text'])}")
        if f["evidence"]:
            out.append(f"  - evidence: {md(cites(f['evidence']))}")
    out += ["", f"Failing requests: {md(doc['failing_definition'])}.", ""]
    return out


def _scope(doc: dict[str, Any]) -> list[str]:
    s = doc["scope"]
    out = ["## Window and scope", ""]
    out += table(
        ["start", "end", "events", "requests", "failing", "failing share"],
        [
            [
                s["start"],
                s["end"],
                s["events"],
                s["requests"],
                s["failing_requests"],
                pct(s["failing_share"]),
            ]
        ],
    )
    out += ["", "Layers and sources:", ""]
    out += table(
        ["source", "parser", "layer", "events"],
        [[r["source_file"], r["parser"], r["layer"], r["events"]] for r in s["sources"]],
    )
    return [*out, ""]


def _changes(doc: dict[str, Any]) -> list[str]:
    ch = doc["changes"]
    out = ["## What changed", "", "### Change points", ""]
    rise = doc["rise"]
    out += [
        "Failing share rose at " + md(hm(rise["minute"])) + " UTC."
        if rise
        else "No rise in the failing share was found.",
        "",
    ]
    if ch["change_points"]:
        out += table(
            ["minute", "kind", "field", "value", "events", "evidence"],
            [
                [
                    hm(p["minute"]),
                    f"{p['kind']} (failure mode)" if p.get("failure_mode") else p["kind"],
                    p["field"],
                    p["value"],
                    p["events"],
                    cites(p["evidence"]),
                ]
                for p in ch["change_points"]
            ],
        )
    else:
        out.append("No version-like field changed and no deploy or startup event was logged.")
    out += ["", "### Versions seen", ""]
    rows = [
        [
            f["field"],
            v["value"],
            v["requests"],
            v["events"],
            v["first_seen"],
            v["last_seen"],
            cites(v["evidence"]),
        ]
        for f in ch["fields"]
        for v in f["values"]
    ]
    out += table(
        ["field", "value", "requests", "events", "first seen", "last seen", "evidence"], rows
    )
    return [*out, ""]


def _outcomes(doc: dict[str, Any]) -> list[str]:
    o = doc["outcomes"]
    out = [f"## Outcomes over time (buckets of {o['bucket_minutes']} min)", ""]
    note = percentile_note(o.get("percentiles"))
    if note is not None:
        out += [md(note), ""]
    bound = approximate_bound(o.get("percentiles"))
    out += ["### Requests", ""]
    out += table(
        ["minute", "requests", "failing", "failing share", "p50 ms", "p95 ms", "p99 ms"],
        [
            [
                hm(r["minute"]),
                r["requests"],
                r["failing"],
                pct(r["failing_share"]),
                *(approximate(r[k], bound, False) for k in ("p50_ms", "p95_ms", "p99_ms")),
            ]
            for r in o["requests"]
        ],
    )
    if o["failure_reasons"]:
        out += ["", "### Failing requests by reason", ""]
        out += table(
            ["minute", "reason", "requests"],
            [[hm(r["minute"]), r["failure_reason"], r["requests"]] for r in o["failure_reasons"]],
        )
    return [*out, ""]


def _candidates(doc: dict[str, Any]) -> list[str]:
    out = ["## Candidate causes", ""]
    likely = [x for x in doc["suspects"] if x["likely"]]
    if not likely:
        out += [
            "No likely candidate: no logged value passes the tests "
            f"(one-sided Fisher exact test, Holm-corrected over {md(doc['candidates_tested'])} "
            "values, p < 0.05; relative risk at least 1.5 with its 95% interval above 1; at "
            "least 5 excess failures).",
            "",
        ]
    else:
        out += [
            "Likely candidates in causal order: values that appeared by the rise first, then along "
            "a request's chain (prompt, retrieval, model, policy, then upstream, route and host), "
            "then by time. Values logged only on failing events are failure modes, not "
            "candidates. Relative risk = failure rate with the value / without it (95% interval, "
            "Katz log method); excess failures = (rate with - rate without) x requests with it.",
            "",
        ]
        out += table(
            [
                "#",
                "step",
                "field",
                "value",
                "failing with",
                "failing without",
                "relative risk (95%)",
                "excess failures",
                "covers",
                "first / last seen",
                "at end",
                "p (Holm)",
                "evidence",
            ],
            [
                [
                    x["causal_rank"],
                    x["stage"],
                    x["field"],
                    x["value"],
                    f"{pct(x['rate_with'])} ({x['failing_with']}/{x['carriers']})",
                    f"{pct(x['rate_without'])} "
                    f"({x['failing_total'] - x['failing_with']}/"
                    f"{x['failing_total'] + x['rest_total'] - x['carriers']})",
                    f"{number(x['relative_risk'], '.2f')} ({number(x['relative_risk_low'], '.2f')}"
                    f" to {number(x['relative_risk_high'], '.2f')})",
                    number(x["excess_failures"], ".0f"),
                    pct(x["failing_coverage"]),
                    f"{hms(x['first_seen'])} / {hms(x['last_seen'])}",
                    "still present" if x["present_at_end"] else "gone",
                    number(x["p_adjusted"], ".2g"),
                    cites(x["evidence"]),
                ]
                for x in likely
            ],
        )
        out.append("")
    near = doc["nearest_change_before_rise"]
    if near:
        out += [
            f"The change logged nearest before the rise: {md(near['field'])} = "
            f"{md(near['value'])} at {md(near['at'])} (evidence: {md(cites(near['evidence']))}).",
            "",
        ]
    return out


def _suspects(doc: dict[str, Any]) -> list[str]:
    out = ["## Suspects: values over-represented among failing requests", ""]
    if not doc["suspects"]:
        return [*out, "No attribute value is over-represented among failing requests.", ""]
    out += [
        "Lift = share of failing requests carrying the value / share of the other requests "
        "carrying it, with a 95% interval (Katz log method). Likely candidates first, in causal "
        "order; then by the interval's lower bound.",
        "",
    ]
    out += table(
        [
            "field",
            "value",
            "likely",
            "failing with",
            "others with",
            "lift",
            "95% interval",
            "appeared",
            "evidence",
        ],
        [
            [
                s["field"],
                s["value"],
                s["likely"],
                f"{s['failing_with']}/{s['failing_total']}",
                f"{s['rest_with']}/{s['rest_total']}",
                number(s["lift"], ".2f"),
                f"{number(s['lift_low'], '.2f')} to {number(s['lift_high'], '.2f')}",
                hm(s["change"]["minute"]) if s["change"] else NULL_TEXT,
                cites(s["evidence"]),
            ]
            for s in doc["suspects"]
        ],
    )
    return [*out, ""]


def _modes(doc: dict[str, Any]) -> list[str]:
    f = doc["failure_modes"]
    out = ["## Failure modes: how requests failed", ""]
    out.append(
        "Outcomes, not causes: why a request counts as failing, its error type, the policy "
        "that blocked it, the status it was answered with."
    )
    out.append("")
    for title, key in (
        ("reason", "reasons"),
        ("error type", "error_types"),
        ("blocked by", "blocked_by"),
        ("status", "status_classes"),
    ):
        if f[key]:
            out += table(
                [title, "failing requests", "share of failing"],
                [[r["value"], r["requests"], pct(r["share"])] for r in f[key]],
            )
            out.append("")
    if f["logged_on_failures"]:
        out += [
            "Values logged only on failing events (for example a rail that appears only when "
            "it blocks): they show how requests failed and are never ranked as candidates.",
            "",
        ]
        out += table(
            ["field", "value", "failing with", "carriers", "evidence"],
            [
                [m["field"], m["value"], m["failing_with"], m["carriers"], cites(m["evidence"])]
                for m in f["logged_on_failures"]
            ],
        )
        out.append("")
    return out


def _impact(doc: dict[str, Any]) -> list[str]:
    i = doc["impact"]
    ongoing = {True: "yes", False: "no", None: NULL_TEXT}[i["ongoing_at_end"]]
    alert = {True: "yes", False: "no", None: NULL_TEXT}[i["status_alert_would_fire"]]
    out = ["## Impact", ""]
    out += table(
        ["measure", "value"],
        [
            ["since", i["since"] or "the window start (no rise)"],
            ["until", i["until"]],
            ["duration (min)", i["duration_minutes"]],
            ["ongoing at window end", ongoing],
            ["requests", i["requests"]],
            ["failing requests", i["failing_requests"]],
            ["excess failures over the rate before", i["excess_failures"]],
            ["distinct clients affected", f"{i['clients_affected']} of {i['clients']}"],
            ["silent failures (failing, answered 2xx)", i["silent_failures"]],
            ["failing without a status", i["failing_without_status"]],
            ["share answered 5xx", pct(i["status_5xx_share"])],
            [f"5xx alert at {pct(i['alert_5xx_share'])} would fire", alert],
        ],
    )
    return [*out, ""]


def _slices(doc: dict[str, Any]) -> list[str]:
    out = ["## Slices", ""]
    for s in doc["slices"]:
        out += [f"### {md(s['name'].capitalize())} ({md(s['layer'])} layer)", ""]
        totals = pairs(shown_totals(s["totals"]), between=": ")
        out += [f"Totals: {md(totals)}", ""]
        if s["change_points"]:
            out += [
                "Changes: "
                + md(
                    "; ".join(
                        f"{plain(p['field'])} {plain(p['value'])} {plain(p['kind'])} at {hm(p['minute'])}"
                        for p in s["change_points"]
                    )
                ),
                "",
            ]
        if s["values"]:
            out += table(
                ["field", "value", "failing with", "others with", "lift"],
                [
                    [
                        v["field"],
                        v["value"],
                        v["failing_with"],
                        v["rest_with"],
                        number(v["lift"], ".2f"),
                    ]
                    for v in s["values"]
                ],
            )
            out.append("")
        else:
            out += ["No values logged for this slice.", ""]
    return out


def _exemplars(doc: dict[str, Any]) -> list[str]:
    out = [
        "## Exemplar requests",
        "",
        "Dashed arrows are heuristic links; `clock` marks a corrected clock.",
        "",
    ]
    for ex in doc["exemplars"]:
        out += [f"### {md(ex['kind'])} request {md(ex['correlation_id'])}", ""]
        out += [
            f"Start {md(ex['start'])}, status {md(ex['status'])} "
            f"{md(ex['status_code'])}, reason {md(ex['failure_reason'])}; "
            f"{md(ex['events_total'])} events, {md(ex['clock_corrected_events'])} clock-corrected, "
            f"{md(ex['heuristic_events'])} heuristic.",
            "",
        ]
        if ex.get("chain"):
            out += ["Chain: " + md(chain_line(ex["chain"])), ""]
        out += ["```mermaid", *sequence(ex), "```", ""]
        out += table(
            ["seq", "+ms", "layer", "event", "status", "details", "link", "evidence"],
            [
                [
                    e["seq"],
                    e["offset_ms"],
                    e["layer"],
                    e["event_type"],
                    e["status"],
                    pairs(e["details"], between="=")
                    + (f" message={e['message']}" if e.get("message") else ""),
                    _link(e),
                    f"{plain(e['event_id'])} @ {plain(e['source'])}",
                ]
                for e in ex["events"]
            ],
        )
        out.append("")
    return out


def _link(e: dict[str, Any]) -> str:
    text = plain(e["correlation_method"])
    if e["correlation_method"] == "heuristic":
        text += f" {number(e['correlation_confidence'], '.2f')}"
    if e["clock_offset_ms"]:
        text += f", clock {number(e['clock_offset_ms'], '+.1f')} ms"
    return text


def _timestamps(t: dict[str, Any] | None) -> list[str]:
    t = t or {"inherited": 0, "untimed": 0, "sources": []}
    out = [
        f"Timestamps: {md(t['inherited'])} events without a time of their own inherited the time "
        "of the nearest earlier timed line of their file (`ts_inherited`: they happened then or "
        f"later); {md(t['untimed'])} events have no time.",
    ]
    if t["sources"]:
        out += [
            "",
            *table(
                ["source", "parser", "events", "inherited", "untimed"],
                [
                    [s["source_file"], s["parser"], s["events"], s["inherited"], s["untimed"]]
                    for s in t["sources"]
                ],
            ),
        ]
    return out


def _quality(doc: dict[str, Any]) -> list[str]:
    q = doc["data_quality"]
    out = ["## Data quality", ""]
    out += table(
        ["source", "parser", "read", "parsed", "rejected", "skipped", "events"],
        [
            [
                s["source_file"],
                s["parser"],
                s["lines_read"],
                s["lines_parsed"],
                s["lines_rejected"],
                s["lines_skipped"],
                s["events"],
            ]
            for s in q["sources"]
        ],
    )
    out += ["", *_timestamps(q.get("timestamps"))]
    if q["reject_reasons"]:
        out += ["", "Rejected lines by reason:", ""]
        out += table(
            ["source", "reason", "lines", "evidence"],
            [
                [r["source_file"], r["reason"], r["lines"], cites(r["evidence"])]
                for r in q["reject_reasons"]
            ],
        )
    out += ["", "Clock corrections:", ""]
    if q["clock_corrections"]:
        out += table(
            ["source", "offset ms", "requests consistent", "bound ms", "note"],
            [
                [
                    c["source"],
                    c["offset_ms"],
                    f"{plain(c.get('requests_consistent'))}/{plain(c.get('requests'))}",
                    c.get("bound_ms"),
                    c.get("note"),
                ]
                for c in q["clock_corrections"]
            ],
        )
    else:
        out.append("No clock correction was applied.")
    linked = pairs(q["events_by_method"])
    orphans = pairs(q["orphans_by_layer"]) or "none"
    heur = (
        "; ".join(
            f"{plain(h.get('rule'))}: {plain(h.get('attached'))} attached, "
            f"{plain(h.get('ambiguous'))} ambiguous"
            for h in q["heuristics"]
        )
        or "none"
    )
    out += [
        "",
        f"- events by correlation method: {md(linked)}",
        f"- orphans by layer: {md(orphans)}; global events: {md(q['global_events'])}",
        f"- degenerate ids: {len(q['degenerate_ids'])}",
        f"- heuristic links: {md(heur)}",
        f"- causal violations: {md(q['causal_violations_before'])} before clock correction, "
        f"{md(q['causal_violations_after'])} after",
        "",
    ]
    return out


def _reproduce(doc: dict[str, Any]) -> list[str]:
    r = doc["reproduce"]
    out = [
        "## Reproduce",
        "",
        f"- build: {md(r['build_command'] or '(not recorded)')}",
        f"- report: {md(r['report_command'])}",
        f"- tool version: build {md(r['tool_version_build'])}, report {md(r['tool_version_report'])}",
        "",
    ]
    out += table(
        ["input", "size", "sha256"], [[i["path"], i["size"], i["sha256"]] for i in r["inputs"]]
    )
    return [*out, ""]


def render_markdown(doc: dict[str, Any]) -> str:
    """The whole appendix as Markdown."""
    out = ["# Postmortem appendix", "", f"> {NOTICE}", ""]
    for section in (
        _findings,
        _candidates,
        _impact,
        _modes,
        _scope,
        _changes,
        _suspects,
        _outcomes,
        _slices,
        _exemplars,
        _quality,
        _reproduce,
    ):
        out += section(doc)
    return "\n".join(out).rstrip() + "\n"
