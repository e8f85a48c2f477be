"""A postmortem draft: the usual sections, evidence filled in, judgment left to the team."""

from __future__ import annotations

from typing import Any

from timeline.export.text import NULL_TEXT, chain_line, cites, hm, hms, md, number, pct, plain

JUDGMENT = "_For the team to write._"


def _yes_no(value: Any) -> str:
    return (
        {True: "yes", False: "no"}.get(value, "unknown") if isinstance(value, bool) else "unknown"
    )


def _likely(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [x for x in doc["suspects"] if x.get("likely")]


def _effect(x: dict[str, Any]) -> str:
    others = x["failing_total"] + x["rest_total"] - x["carriers"]
    return (
        f"{md(x['field'])} = {md(x['value'])} ({md(x['stage'])} step): failed "
        f"{pct(x['rate_with'])} with it ({x['failing_with']}/{x['carriers']}) against "
        f"{pct(x['rate_without'])} without ({x['failing_total'] - x['failing_with']}/{others}); "
        f"relative risk {number(x['relative_risk'], '.2f')} "
        f"({number(x['relative_risk_low'], '.2f')} to {number(x['relative_risk_high'], '.2f')}); "
        f"about {number(x['excess_failures'], '.0f')} excess failures; covers "
        f"{pct(x['failing_coverage'])} of failing requests; first seen {md(hms(x['first_seen']))}, "
        f"last seen {md(hms(x['last_seen']))}, "
        + ("still present at the window end" if x["present_at_end"] else "gone before the end")
    )


def _questions(doc: dict[str, Any]) -> list[str]:
    qs = []
    for x in _likely(doc)[:3]:
        qs.append(
            f"Candidate {x['causal_rank']}: {md(x['field'])} = {md(x['value'])} "
            f"(relative risk {number(x['relative_risk'], '.2f')}): does a mechanism connect it "
            "to how the requests failed, or does it only coincide with the rise?"
        )
        if x["change"] is None:
            qs.append(f"No change point was logged for {md(x['value'])}: when was it introduced?")
    near = doc["nearest_change_before_rise"]
    if near:
        qs.append(
            f"What review, test or canary preceded {md(near['field'])} = {md(near['value'])} "
            f"at {md(hm(near['minute']))}?"
        )
    if doc["failure_modes"]["logged_on_failures"]:
        qs.append(
            "Some values are logged only on failing events (failure modes): they describe how "
            "requests failed; what upstream of them changed?"
        )
    if doc["data_quality"]["clock_corrections"]:
        qs.append("Clocks were corrected: does the order of events still hold under the bounds?")
    if doc["data_quality"]["events_by_method"].get("heuristic"):
        qs.append("Some links are heuristic: do the exemplar chains hold when checked by hand?")
    return qs or ["Which evidence is missing from these logs to explain the failures?"]


def _impact(doc: dict[str, Any]) -> list[str]:
    s, i, f = doc["scope"], doc["impact"], doc["failure_modes"]
    since = md(i["since"]) if i["since"] else "the window start (no significant rise)"
    modes = "; ".join(f"{md(r['value'])} {r['requests']}" for r in f["reasons"]) or NULL_TEXT
    return [
        "## Impact",
        "",
        f"- window: {md(s['start'])} to {md(s['end'])} (from the first request)",
        f"- since {since}, until {md(i['until'])}: {md(i['duration_minutes'])} minutes; "
        f"ongoing at the window end: {_yes_no(i['ongoing_at_end'])}",
        f"- requests: {i['requests']}; failing: {i['failing_requests']} "
        f"(excess over the rate before: {md(i['excess_failures'])}); "
        f"definition: {md(doc['failing_definition'])}",
        f"- distinct clients affected: {i['clients_affected']} of {i['clients']}",
        f"- silent failures (failing requests answered HTTP 2xx): {i['silent_failures']}; "
        f"failing without any status: {i['failing_without_status']}",
        f"- how requests failed (failure modes, not causes): {modes}",
        "",
        "Who was affected, and how badly? " + JUDGMENT,
        "",
    ]


def _trigger(doc: dict[str, Any]) -> list[str]:
    likely = _likely(doc)
    near = doc["nearest_change_before_rise"]
    out = ["## Trigger", ""]
    if likely:
        x = likely[0]
        out.append(f"Evidence: the leading candidate is {_effect(x)}.")
        if x["change"] is not None:
            out.append(
                f"It appeared at {md(x['change']['at'])} "
                f"(evidence: {md(cites(x['change']['evidence']))})."
            )
        out += [
            "",
            f"Question: did {md(x['field'])} = {md(x['value'])} trigger the rise, or does it only "
            "coincide with it? What else changed at the same time that these logs do not show?",
        ]
    else:
        out.append(
            "Evidence: no logged value passes the tests for a likely candidate; the failures are "
            "not concentrated on any logged version or context value."
        )
        out += ["", "Question: which change, outside these logs, could explain the failures?"]
    if near and (not likely or (near["field"], near["value"]) != (x["field"], x["value"])):
        out += [
            "",
            f"The change logged nearest before the rise: {md(near['field'])} = {md(near['value'])} "
            f"at {md(near['at'])} (evidence: {md(cites(near['evidence']))}).",
        ]
    chain = _leading_chain(doc)
    if chain:
        out += ["", f"Chain of the leading failing exemplar: {md(chain)}"]
    return [*out, "", JUDGMENT, ""]


def _leading_chain(doc: dict[str, Any]) -> str | None:
    for ex in doc["exemplars"]:
        if ex["kind"] == "failing" and ex.get("chain"):
            return f"{ex['correlation_id']}: " + chain_line(ex["chain"])
    return None


def _detection(doc: dict[str, Any]) -> list[str]:
    rise, i = doc["rise"], doc["impact"]
    alert = i["status_alert_would_fire"]
    share = pct(i["status_5xx_share"])
    if alert is None:
        fired = "No request carries a status code: a status-code alert could not have seen it."
    elif alert:
        fired = (
            f"{share} of requests {'since the rise ' if rise else ''}were answered 5xx: an alert "
            f"on a 5xx share of {pct(i['alert_5xx_share'])} would have fired."
        )
    else:
        fired = (
            f"Only {share} of requests {'since the rise ' if rise else ''}were answered 5xx: an "
            f"alert on a 5xx share of {pct(i['alert_5xx_share'])} would not have fired; "
            f"{i['silent_failures']} failing requests were answered 2xx."
        )
    return [
        "## Detection",
        "",
        (
            f"Evidence: the failing share rose at {md(hm(rise['minute']))} UTC "
            f"({pct(rise['rate_before'])} before, {pct(rise['rate_after'])} after)."
            if rise
            else "Evidence: no significant rise in the failing share was found."
        ),
        "",
        md(fired),
        "",
        "How and when was the incident noticed? Which signal would have shown it sooner? "
        + JUDGMENT,
        "",
    ]


def _resolution(doc: dict[str, Any]) -> list[str]:
    likely = _likely(doc)
    out = ["## Resolution", ""]
    if likely:
        x = likely[0]
        where = (
            "is still carried by requests at the window end"
            if x["present_at_end"]
            else f"was last seen at {md(x['last_seen'])}, before the window end"
        )
        out.append(f"Evidence: the leading candidate {md(x['field'])} = {md(x['value'])} {where}.")
        ongoing = doc["impact"]["ongoing_at_end"]
        if ongoing is not None:
            out.append(
                "The failing share was "
                + ("still" if ongoing else "no longer")
                + " elevated at the window end."
            )
        out.append("")
    out += ["What was changed to end the impact, and when? " + JUDGMENT, ""]
    return out


def render_postmortem(doc: dict[str, Any]) -> str:
    """The postmortem draft as Markdown (appendix-postmortem.md)."""
    rise = doc["rise"]
    questions = [f"- {q}" for q in _questions(doc)]
    out = [
        "# Postmortem draft",
        "",
        "> Evidence sections are filled in from the appendix (appendix.md); judgment sections "
        "are left for the team, with the questions the evidence raises.",
        "",
        "## Summary",
        "",
        *[f"- {md(f['text'])}" for f in doc["findings"]],
        "",
        *_impact(doc),
        "## Timeline",
        "",
    ]
    events = [
        (p["at"], f"{plain(p['field'])} {plain(p['value'])} {plain(p['kind'])}", p["evidence"])
        for p in doc["changes"]["change_points"]
    ]
    if rise:
        events.append(
            (
                rise["minute"],
                f"failing share rises from {pct(rise['rate_before'])} to {pct(rise['rate_after'])}",
                [],
            )
        )
    for at, text, ev in sorted(events, key=lambda e: str(e[0])):
        out.append(f"- {md(at)}: {md(text)}" + (f" (evidence: {md(cites(ev))})" if ev else ""))
    likely = _likely(doc)
    out += [
        "",
        *_trigger(doc),
        "## Root causes",
        "",
        "Evidence (likely candidates in causal order):"
        if likely
        else "Evidence: no likely candidate.",
        "",
        *[f"- {_effect(x)}" for x in likely[:5]],
        "",
        "Root cause statement: " + JUDGMENT,
        "",
        "Questions the evidence raises:",
        "",
        *questions,
        "",
        *_detection(doc),
        *_resolution(doc),
        "## Accountability",
        "",
        "This draft names no person or team. " + JUDGMENT,
        "",
        "## Action items",
        "",
        "| action | owner | trade-offs | due |",
        "|---|---|---|---|",
        "| _to be decided_ | _for the team_ | _for the team_ | |",
        "",
        "Remediation trade-offs and action owners: " + JUDGMENT,
        "",
        "## Lessons",
        "",
        JUDGMENT,
        "",
    ]
    return "\n".join(out)
