"""Escaping and formatting shared by the Markdown exports."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Final

_MD_SPECIAL: Final = re.compile(r"([\\`*_\[\]{}()#+!|~])")
# How a missing value (null in the data, None in the document) is shown in every export.
NULL_TEXT: Final = "—"


def plain(value: Any) -> str:
    """A value as text, unescaped and never a Python repr: None is :data:`NULL_TEXT`, a boolean
    ``yes`` / ``no``, a float in plain decimals (at most 4 places, no exponent), a mapping
    ``key value, key value``, a list ``a, b``."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _decimal(value)
    if isinstance(value, dict):
        return ", ".join(f"{plain(k)} {plain(v)}" for k, v in value.items()) or NULL_TEXT
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ", ".join(plain(v) for v in items) or NULL_TEXT
    return str(value)


def _decimal(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value.is_integer():
        return f"{value:.0f}"
    return f"{value:.4f}".rstrip("0").rstrip(".")


def md(value: Any) -> str:
    """Log-derived text made inert in Markdown: HTML entities for ``<>&``, backslash escapes
    for Markdown punctuation, newlines folded; None is ``—``."""
    text = plain(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return " ".join(text.split())


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A GitHub / GitLab table; every cell escaped."""
    out = ["| " + " | ".join(md(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return out


def cites(evidence: Sequence[Any]) -> str:
    """Citations as ``event_id @ file:line; ...`` (not escaped: pass through :func:`md`)."""
    parts = []
    for e in evidence:
        if isinstance(e, dict):
            parts.append(f"{plain(e.get('event_id'))} @ {plain(e.get('source'))}")
        else:
            parts.append(plain(e))
    return "; ".join(parts) if parts else NULL_TEXT


def pct(x: Any) -> str:
    """A share as a percentage."""
    return NULL_TEXT if x is None else f"{100 * float(x):.1f}%"


def hm(iso: Any) -> str:
    """``HH:MM`` of an ISO timestamp."""
    return NULL_TEXT if not iso else str(iso)[11:16]


def pairs(values: dict[Any, Any], sep: str = ", ", between: str = " ") -> str:
    """``key value, key value`` (not escaped); values through :func:`plain` (a nested mapping
    or list as text, never a Python repr; None is :data:`NULL_TEXT`)."""
    return sep.join(
        f"{plain(k)}{between}{f'({plain(v)})' if isinstance(v, dict) and v else plain(v)}"
        for k, v in values.items()
    )


def hms(iso: Any) -> str:
    """``HH:MM:SS`` of an ISO timestamp."""
    return NULL_TEXT if not iso else str(iso)[11:19]


def chain_line(chain: Sequence[dict[str, Any]]) -> str:
    """A request's causal chain on one line: ``prompt: ... → retrieval: ... → ...``."""
    return " → ".join(f"{plain(step.get('stage'))}: {plain(step.get('text'))}" for step in chain)


def number(value: Any, spec: str) -> str:
    """``value`` formatted with ``spec`` (e.g. ``.2f``, ``+.1f``); None is :data:`NULL_TEXT`."""
    return NULL_TEXT if value is None else format(value, spec)


# The appendix's percentile figures: their keys in outcome rows and in slice totals.
PERCENTILE_KEYS: Final = frozenset(
    {"p50_ms", "p95_ms", "p99_ms", "ttft_p50_ms", "ttft_p95_ms", "latency_p95_ms"}
)


def approximate_bound(note: Any) -> float | None:
    """The relative error bound of approximate percentiles, from a ``percentiles`` note of the
    appendix (outcomes or slice totals); None when the percentiles are exact (no note)."""
    if not isinstance(note, dict) or note.get("method") != "sketch":
        return None
    bound = note.get("relative_error")
    return float(bound) if isinstance(bound, int | float) and not isinstance(bound, bool) else None


def _bound_text(bound: float) -> str:
    return f"±{100 * bound:g} %"


def approximate(value: Any, bound: float | None, with_bound: bool = True) -> str:
    """A percentile as shown: ``≈ 812.3 (±1 %)`` when approximate within ``bound`` (``≈ 812.3``
    without ``with_bound``), else the value as :func:`plain` text."""
    if bound is None or value is None:
        return plain(value)
    return f"≈ {plain(value)}" + (f" ({_bound_text(bound)})" if with_bound else "")


def percentile_note(note: Any) -> str | None:
    """The sentence saying that the percentiles are approximate and how close, else None."""
    bound = approximate_bound(note)
    if bound is None:
        return None
    assert isinstance(note, dict)
    threshold = note.get("threshold_events")
    above = f" (used above {threshold:,} events)" if isinstance(threshold, int) else ""
    return (
        f"Percentiles (≈) are approximate: each is within {_bound_text(bound)} of the exact"
        f" value before rounding to 0.1 ms, from a log-bucketed histogram{above}."
    )


def shown_totals(totals: dict[str, Any]) -> dict[str, Any]:
    """A slice's totals as rendered: without the ``percentiles`` note, approximate percentiles
    as ``≈ value (±bound)`` text."""
    bound = approximate_bound(totals.get("percentiles"))
    return {
        k: approximate(v, bound) if k in PERCENTILE_KEYS and bound is not None else v
        for k, v in totals.items()
        if k != "percentiles"
    }
