"""Escaping and formatting shared by the Markdown exports."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

_MD_SPECIAL: Final = re.compile(r"([\\`*_\[\]{}()#+!|~])")
# How a missing value (null in the data, None in the document) is shown in every export.
NULL_TEXT: Final = "—"


def plain(value: Any) -> str:
    """A value as text, unescaped: None is :data:`NULL_TEXT`, a float is shortest (``g``)."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


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


def number(value: Any, spec: str) -> str:
    """``value`` formatted with ``spec`` (e.g. ``.2f``, ``+.1f``); None is :data:`NULL_TEXT`."""
    return NULL_TEXT if value is None else format(value, spec)


def pairs(values: dict[Any, Any], sep: str = ", ", between: str = " ") -> str:
    """``key value, key value`` (not escaped); None is :data:`NULL_TEXT`."""
    return sep.join(f"{_str(k)}{between}{_str(v)}" for k, v in values.items())


def _str(value: Any) -> str:
    return NULL_TEXT if value is None else str(value)
