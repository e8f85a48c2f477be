"""Effect sizes in the JSON appendix equal a hand computation on a small synthetic timeline."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import pytest

from tests.test_ranking import START, _request, outdir
from timeline.analyze.appendix import AnalysisOptions, analyze
from timeline.analyze.stats import fisher_greater, holm
from timeline.export.jsonout import render_json
from timeline.export.markdown import render_markdown

Z = 1.959963984540054


def _doc() -> dict[str, Any]:
    """40 requests, one every 30 s; rev-b serves the odd ones. 12 of the 20 rev-b requests and 2
    of the 20 rev-a ones get no documents (failing: empty retrieval)."""
    rows: list[dict[str, Any]] = []
    for rid in range(40):
        at = START + timedelta(seconds=30 * rid)
        rev = "rev-b" if rid % 2 else "rev-a"
        k = rid // 2
        bad = k < 12 if rev == "rev-b" else k in (3, 15)
        rows += _request(rid, at, "kb-v7", 0 if bad else 5, False, "h0", rev)
    doc = analyze(outdir(rows), AnalysisOptions())
    parsed: dict[str, Any] = json.loads(render_json(doc))
    return parsed


def test_effect_sizes_match_a_hand_computation() -> None:
    doc = _doc()
    (b,) = [s for s in doc["suspects"] if s["value"] == "rev-b"]
    a, n_with, f_without, n_without = 12, 20, 2, 20
    n_failing, n_total = 14, 40
    assert (b["failing_with"], b["carriers"], b["failing_total"]) == (a, n_with, n_failing)
    assert b["rate_with"] == pytest.approx(0.6)
    assert b["rate_without"] == pytest.approx(0.1)
    rr = (a / n_with) / (f_without / n_without)
    se = math.sqrt(1 / a - 1 / n_with + 1 / f_without - 1 / n_without)
    assert b["relative_risk"] == pytest.approx(rr, abs=1e-4)
    assert b["relative_risk_low"] == pytest.approx(math.exp(math.log(rr) - Z * se), abs=1e-4)
    assert b["relative_risk_high"] == pytest.approx(math.exp(math.log(rr) + Z * se), abs=1e-4)
    assert b["excess_failures"] == pytest.approx((0.6 - 0.1) * 20)
    assert b["failing_coverage"] == pytest.approx(round(12 / 14, 4))
    # One-sided Fisher exact: P(X >= 12), X ~ Hypergeometric(40 requests, 14 failing, 20 drawn).
    p = sum(
        math.comb(n_failing, x) * math.comb(n_total - n_failing, n_with - x)
        for x in range(a, n_failing + 1)
    ) / math.comb(n_total, n_with)
    assert b["p_value"] == pytest.approx(p, rel=1e-3)
    assert b["p_adjusted"] == pytest.approx(min(1.0, doc["candidates_tested"] * p), rel=1e-3)
    lift = (a / n_failing) / (8 / 26)
    assert b["lift"] == pytest.approx(lift, abs=1e-4)
    assert b["first_seen"] == "2025-03-02T10:00:30Z"
    assert b["last_seen"] == "2025-03-02T10:19:30Z"
    assert b["present_at_end"] is True
    assert b["likely"] and b["causal_rank"] == 1
    text = render_markdown(doc)
    low, high = b["relative_risk_low"], b["relative_risk_high"]
    assert f"{rr:.2f} \\({low:.2f} to {high:.2f}\\)" in text  # Markdown escapes parentheses


def test_fisher_and_holm_by_hand() -> None:
    assert fisher_greater(3, 3, 3, 10) == pytest.approx(1 / math.comb(10, 3))
    assert fisher_greater(0, 5, 2, 10) == 1.0
    assert fisher_greater(3, 2, 2, 10) == 0.0
    assert holm([0.01, 0.04, None, 0.03], 10) == pytest.approx([0.1, 0.32, None, 0.27])
