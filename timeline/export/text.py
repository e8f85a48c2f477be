"""Escaping and formatting shared by the Markdown exports."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

_MD_SPECIAL: Final = re.compile(r"([\\`*_\[\]{}()#+!|~])")


def md(value: Any) -> str:
    """Log-derived text made inert in Markdown: HTML entities for ``<>&``, backslash escapes
    for Markdown punctuation, newlines folded; None is ``-``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:g}"
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
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
            parts.append(f"{e.get('event_id')} @ {e.get('source')}")
        else:
            parts.append(str(e))
    return "; ".join(parts) if parts else "-"


def pct(x: Any) -> str:
    """A share as a percentage."""
    return "-" if x is None else f"{100 * float(x):.1f}%"


def hm(iso: Any) -> str:
    """``HH:MM`` of an ISO timestamp."""
    return "-" if not iso else str(iso)[11:16]
