"""Findings: short statements of evidence, each with its citations. Never a verdict.

The wording is fixed here, in one place: "coincides with", "over-represented among failing
requests". No sentence says who or what is at fault.
"""

from __future__ import annotations

from typing import Any

MISSING = "—"


def _pct(x: float | None) -> str:
    return MISSING if x is None else f"{100 * x:.1f}%"


def _hm(minute: str | None) -> str:
    return MISSING if not minute else minute[11:16]


def _num(x: float | None) -> str:
    return MISSING if x is None else f"{x:.2f}"


def _window(scope: dict[str, Any]) -> str:
    if scope["start"] is None:
        return "(no event carries a time)"
    return f"between {scope['start']} and {scope['end']}"


def findings(
    scope: dict[str, Any],
    rise: dict[str, Any] | None,
    nearest: dict[str, Any] | None,
    suspects: list[dict[str, Any]],
    quality: dict[str, Any],
    rise_evidence: list[dict[str, str]],
) -> list[dict[str, Any]]:
    """The statements at the top of the appendix, with evidence."""
    out: list[dict[str, Any]] = [
        {
            "kind": "scope",
            "text": (
                f"{scope['requests']} requests {_window(scope)}; "
                f"{scope['failing_requests']} ({_pct(scope['failing_share'])}) are failing "
                "requests by the definition below."
            ),
            "evidence": [],
        }
    ]
    if rise is not None:
        out.append(
            {
                "kind": "rise",
                "text": (
                    f"The failing share rose at {_hm(rise['minute'])} UTC: "
                    f"{_pct(rise['rate_before'])} of requests before, "
                    f"{_pct(rise['rate_after'])} from then on."
                ),
                "evidence": rise_evidence,
            }
        )
    if nearest is not None and rise is not None:
        out.append(
            {
                "kind": "change",
                "text": (
                    f"The change nearest before the rise: {nearest['field']} = {nearest['value']} "
                    f"({nearest['kind']} at {nearest['at'] or MISSING}); the rise coincides with it."
                ),
                "evidence": nearest["evidence"],
            }
        )
    for s in suspects[:3]:
        text = (
            f"{s['field']} = {s['value']} is over-represented among failing requests: "
            f"{s['failing_with']} of {s['failing_total']} failing requests "
            f"({_pct(s['failing_share'])}) against {s['rest_with']} of {s['rest_total']} others "
            f"({_pct(s['rest_share'])}); lift {_num(s['lift'])} "
            f"(95% interval {_num(s['lift_low'])} to {_num(s['lift_high'])})."
        )
        if s["change"] is not None:
            text += f" It first appeared at {_hm(s['change']['minute'])} UTC."
        out.append({"kind": "suspect", "text": text, "evidence": s["evidence"]})
    for c in quality["clock_corrections"]:
        out.append(
            {
                "kind": "clock",
                "text": (
                    f"Clock of {c['source']} corrected by {c['offset_ms']:+.1f} ms "
                    f"({c['requests_consistent']} of {c['requests']} requests consistent)."
                ),
                "evidence": [],
            }
        )
    return out
