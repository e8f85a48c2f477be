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


def _num(x: float | None, digits: int = 2) -> str:
    return MISSING if x is None else f"{x:.{digits}f}"


def _window(scope: dict[str, Any]) -> str:
    if scope["start"] is None:
        return "(no event carries a time)"
    return f"between {scope['start']} and {scope['end']}"


def _hms(at: str | None) -> str:
    return MISSING if not at else at[11:19]


def _count_of(k: Any, n: Any) -> str:
    return f"{k} of {n}"


def _rise(tested: dict[str, Any] | None, evidence: list[dict[str, str]]) -> dict[str, Any]:
    if tested is None:
        return {
            "kind": "no_rise",
            "text": "The failing share did not rise: there is no split of the window with a "
            "higher failing rate after it.",
            "evidence": [],
        }
    if not tested["significant"]:
        weak = tested["log_likelihood_ratio"] < tested["threshold"]
        why = (
            f"a log-likelihood ratio of {_num(tested['log_likelihood_ratio'])}, below the "
            f"{_num(tested['threshold'])} needed over {tested['splits']} splits"
            if weak
            else f"only {_num(tested['excess_failures'], 0)} excess failures, fewer than 5"
        )
        return {
            "kind": "no_rise",
            "text": (
                f"The failing share did not rise significantly: the best split, at "
                f"{_hm(tested['minute'])} UTC ({_pct(tested['rate_before'])} of requests before, "
                f"{_pct(tested['rate_after'])} after), has {why}. Noise is not a rise."
            ),
            "evidence": [],
        }
    return {
        "kind": "rise",
        "text": (
            f"The failing share rose at {_hm(tested['minute'])} UTC: "
            f"{_pct(tested['rate_before'])} of requests before, "
            f"{_pct(tested['rate_after'])} from then on "
            f"(log-likelihood ratio {_num(tested['log_likelihood_ratio'])}, "
            f"threshold {_num(tested['threshold'])})."
        ),
        "evidence": evidence,
    }


def candidate_text(s: dict[str, Any]) -> str:
    """The evidence for one candidate in a sentence or three: rates, relative risk, excess
    failures, coverage, first and last seen."""
    carriers = s["carriers"]
    others = s["failing_total"] + s["rest_total"] - carriers
    text = (
        f"{s['field']} = {s['value']} ({s['stage']} step): requests carrying it failed "
        f"{_pct(s['rate_with'])} ({_count_of(s['failing_with'], carriers)}), the others "
        f"{_pct(s['rate_without'])} ({_count_of(s['failing_total'] - s['failing_with'], others)}); "
        f"relative risk {_num(s['relative_risk'])} (95% interval {_num(s['relative_risk_low'])} "
        f"to {_num(s['relative_risk_high'])}), about {_num(s['excess_failures'], 0)} excess "
        f"failures, {_pct(s['failing_coverage'])} of failing requests carry it. "
        f"First seen {_hms(s['first_seen'])}, last seen {_hms(s['last_seen'])} UTC"
    )
    text += (
        ", still present at the window end."
        if s["present_at_end"]
        else ", gone before the window end."
    )
    if s["change"] is not None:
        text += f" It appeared at {_hm(s['change']['minute'])} UTC"
        text += ", at or before the rise." if s["coincides_with_rise"] else "."
    return text


def _no_candidate(tests: int) -> str:
    return (
        "No likely candidate: no logged value passes the tests (one-sided Fisher exact test, "
        f"Holm-corrected over {tests} values, p < 0.05; relative risk at least 1.5 with its 95% "
        "interval above 1; at least 5 excess failures). The failing requests are not "
        "concentrated on any logged version or context value."
    )


def _failure_modes(failures: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    reasons = "; ".join(
        f"{r['value']} {r['requests']} ({_pct(r['share'])})" for r in failures["reasons"]
    )
    if reasons:
        classes = "; ".join(f"{r['value']} {r['requests']}" for r in failures["status_classes"])
        out.append(
            {
                "kind": "failure_mode",
                "text": (
                    f"How requests failed (outcomes, not causes): {reasons}. "
                    f"Answered with status {classes or MISSING}."
                ),
                "evidence": [],
            }
        )
    for m in failures["logged_on_failures"][:3]:
        out.append(
            {
                "kind": "failure_mode",
                "text": (
                    f"{m['field']} = {m['value']} is logged only on failing events "
                    f"({m['failing_with']} of {m['carriers']} requests carrying it fail, no "
                    "successful request before the rise carries it): it shows how requests "
                    "failed, not why, and is not a candidate cause."
                ),
                "evidence": m["evidence"],
            }
        )
    return out


def findings(
    scope: dict[str, Any],
    tested: dict[str, Any] | None,
    nearest: dict[str, Any] | None,
    suspects: list[dict[str, Any]],
    quality: dict[str, Any],
    rise_evidence: list[dict[str, str]],
    failures: dict[str, Any] | None = None,
    tests: int = 0,
) -> list[dict[str, Any]]:
    """The statements at the top of the appendix, with evidence: scope, the rise (or why there
    is none), the likely candidates in causal order, the change nearest before the rise, how
    requests failed, clock corrections."""
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
    if scope["failing_requests"]:
        out.append(_rise(tested, rise_evidence))
    candidates = [s for s in suspects if s.get("likely")]
    for i, s in enumerate(candidates[:3], start=1):
        out.append(
            {
                "kind": "candidate",
                "text": f"Candidate {i} in causal order: " + candidate_text(s),
                "evidence": s["evidence"],
            }
        )
    if scope["failing_requests"] and not candidates:
        out.append({"kind": "no_candidate", "text": _no_candidate(tests), "evidence": []})
    rise = tested if tested is not None and tested["significant"] else None
    if nearest is not None and rise is not None:
        out.append(
            {
                "kind": "change",
                "text": (
                    f"The change logged nearest before the rise: {nearest['field']} = "
                    f"{nearest['value']} ({nearest['kind']} at {nearest['at'] or MISSING}); "
                    "the rise coincides with it."
                ),
                "evidence": nearest["evidence"],
            }
        )
    if failures is not None:
        out += _failure_modes(failures)
    for c in quality["clock_corrections"]:
        out.append(
            {
                "kind": "clock",
                "text": (
                    f"Clock of {c['source']} corrected by {_signed(c['offset_ms'])} ms "
                    f"({c['requests_consistent']} of {c['requests']} requests consistent)."
                ),
                "evidence": [],
            }
        )
    return out


def _signed(x: float | None) -> str:
    return MISSING if x is None else f"{x:+.1f}"
