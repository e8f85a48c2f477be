"""A postmortem draft: the usual sections, evidence filled in, judgment left to the team."""

from __future__ import annotations

from typing import Any

from timeline.export.text import cites, hm, md, number, pct, plain

JUDGMENT = "_For the team to write._"


def _questions(doc: dict[str, Any]) -> list[str]:
    qs = []
    for s in doc["suspects"][:3]:
        qs.append(
            f"{md(s['field'])} = {md(s['value'])} is over-represented among failing requests "
            f"(lift {number(s['lift'], '.2f')}): does the mechanism explain the failure reason, or is it "
            "a coincidence of timing?"
        )
        if s["change"] is None:
            qs.append(f"No change point was logged for {md(s['value'])}: when was it introduced?")
    near = doc["nearest_change_before_rise"]
    if near:
        qs.append(
            f"What review, test or canary preceded {md(near['field'])} = {md(near['value'])} "
            f"at {md(hm(near['minute']))}?"
        )
    if doc["data_quality"]["clock_corrections"]:
        qs.append("Clocks were corrected: does the order of events still hold under the bounds?")
    if doc["data_quality"]["events_by_method"].get("heuristic"):
        qs.append("Some links are heuristic: do the exemplar chains hold when checked by hand?")
    return qs or ["Which evidence is missing from these logs to explain the failures?"]


def render_postmortem(doc: dict[str, Any]) -> str:
    """The postmortem draft as Markdown (appendix-postmortem.md)."""
    s = doc["scope"]
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
        "## Impact",
        "",
        f"- window: {md(s['start'])} to {md(s['end'])}",
        f"- requests: {s['requests']}; failing: {s['failing_requests']} ({pct(s['failing_share'])}); "
        f"definition: {md(doc['failing_definition'])}",
        "",
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
    near = doc["nearest_change_before_rise"]
    out += [
        "",
        "## Trigger",
        "",
        (
            f"Evidence: the change nearest before the rise is {md(near['field'])} = "
            f"{md(near['value'])} at {md(near['at'])} (evidence: {md(cites(near['evidence']))})."
            if near
            else "Evidence: no change point was logged before the rise."
        ),
        "",
        JUDGMENT,
        "",
        "## Root causes",
        "",
        "Evidence (values over-represented among failing requests):",
        "",
        *[
            f"- {md(x['field'])} = {md(x['value'])}: {x['failing_with']}/{x['failing_total']} failing "
            f"vs {x['rest_with']}/{x['rest_total']} others, lift {number(x['lift'], '.2f')} "
            f"({number(x['lift_low'], '.2f')} to {number(x['lift_high'], '.2f')})"
            for x in doc["suspects"][:5]
        ],
        "",
        "Root cause statement: " + JUDGMENT,
        "",
        "Questions the evidence raises:",
        "",
        *questions,
        "",
        "## Detection",
        "",
        f"Evidence: failing share per minute in appendix.md; the rise is at {md(hm(rise['minute']))} UTC."
        if rise
        else "Evidence: no rise in the failing share was found.",
        "",
        "How and when was the incident noticed? " + JUDGMENT,
        "",
        "## Resolution",
        "",
        "What was changed to end the impact, and when? " + JUDGMENT,
        "",
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
