"""Python reprs in logs (``SamplingParams(n=1, temperature=0.7)``, ``{'type': 'x'}``, ``'a\\nb'``).

Python-level helpers for the few rows that carry a repr: values are read with
:func:`ast.literal_eval` (never ``eval``), argument lists are split outside brackets and quotes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any, Final

MAX_LITERAL_CHARS: Final = 1 << 20


def literal(text: str | None, max_chars: int = MAX_LITERAL_CHARS) -> Any:
    """The value of a Python literal (``{'a': [1, 'x']}``); None when ``text`` is not one (or
    is longer than ``max_chars``)."""
    if text is None or len(text) > max_chars:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def python_string(text: str | None) -> str | None:
    """The value of a Python string literal (``'a\\nb'``); None when it is not one."""
    if text is None or len(text) < 2 or text[0] not in "'\"":
        return None
    value = literal(text)
    return value if isinstance(value, str) else None


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` on ``sep`` outside brackets and quotes (for Python / Rust reprs)."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    escaped = False
    current: list[str] = []
    for ch in text:
        if quote is not None:
            current.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return parts


def keyword_pairs(
    text: str | None, sep: str = "=", skip: Iterable[str] = ("None", "")
) -> list[tuple[str, str]]:
    """``a=1, b='x'`` (or ``a: 1`` with ``sep=':'``) as ordered pairs; values kept as text
    (one pair of surrounding quotes removed); values in ``skip`` left out."""
    if not text:
        return []
    skipped = set(skip)
    out: list[tuple[str, str]] = []
    for part in split_top_level(text):
        key, found, value = part.partition(sep)
        key = key.strip()
        value = value.strip()
        if not found or not key.isidentifier() or value in skipped:
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out.append((key, value))
    return out
