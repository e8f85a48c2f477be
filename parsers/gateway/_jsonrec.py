"""JSON objects that span lines (pretty-printed rows, arrays, multi-line TEXT templates).

The vectorized path of a JSON parser handles one complete object per line. Records that span
lines are genuinely multi-line, so they are grouped here in Python: a record starts on a line
whose first character is ``{`` (after an optional ``[`` or ``,``) and ends on the line where
the braces, counted outside strings, balance again. Lines outside records are array
punctuation (``[``, ``]``, ``,``: skipped) or stray text (rejected).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

# Envoy TEXT templates print `-` for a missing value, so `"bytes": %BYTES%` becomes `"bytes": -`.
_BARE_DASH: Final = re.compile(r"(:\s*)-(\s*[,}\]])")
_PUNCTUATION: Final = re.compile(r"^[\s\[\],]*$")


@dataclass
class Grouped:
    """Records found in a run of lines, with the lines that were not part of one."""

    records: list[tuple[list[int], dict[str, Any]]] = field(default_factory=list)
    rejects: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    merged: int = 0  # lines inside records other than their first line


def _balance(text: str, depth: int, in_string: bool) -> tuple[int, bool]:
    """Brace depth and string state after ``text`` (escapes inside strings respected)."""
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
    return depth, in_string


def loads_object(text: str, repair_dashes: bool = False) -> dict[str, Any] | None:
    """The JSON object in ``text`` (array punctuation around it allowed), or None."""
    body = text.strip().lstrip("[,").strip().rstrip(",]").strip()
    for candidate in (body, _BARE_DASH.sub(r"\1null\2", body) if repair_dashes else None):
        if candidate is None:
            continue
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def group(
    lines: Sequence[tuple[int, str]], repair_dashes: bool = False, max_lines: int = 10_000
) -> Grouped:
    """Group ``(source_line, text)`` pairs (in order) into JSON object records."""
    out = Grouped()
    current: list[tuple[int, str]] = []
    depth, in_string = 0, False

    def close(reason: str | None) -> None:
        nonlocal current
        obj = None if reason else loads_object("\n".join(t for _, t in current), repair_dashes)
        if obj is not None:
            out.records.append(([n for n, _ in current], obj))
            out.merged += len(current) - 1
        else:
            why = reason or "not a valid JSON object"
            out.rejects.extend((n, why) for n, _ in current)
        current = []

    for number, text in lines:
        if not current:
            head = text.lstrip().lstrip("[,").lstrip()
            if not head.startswith("{"):
                if _PUNCTUATION.match(text):
                    out.skipped.append((number, "JSON array punctuation"))
                else:
                    out.rejects.append((number, "not part of a JSON object"))
                continue
            depth, in_string = 0, False
        current.append((number, text))
        depth, in_string = _balance(text, depth, in_string)
        if depth <= 0:
            close(None)
        elif len(current) >= max_lines:
            close("JSON object too long")
    if current:
        close("unterminated JSON object")
    return out


def value_text(value: Any) -> str | None:
    """A JSON value as the text ``str.json_path_match`` would give (objects as compact JSON)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def records_frame(
    records: Sequence[tuple[list[int], dict[str, Any]]], keys: Sequence[str]
) -> pl.DataFrame:
    """``source_line``, ``_members`` (every line of the record) and one String column per key."""
    data: dict[str, list[Any]] = {
        "source_line": [r[0][0] for r in records],
        "_members": [r[0] for r in records],
    }
    for key in keys:
        data[key] = [value_text(r[1].get(key)) for r in records]
    schema: dict[str, pl.DataType] = {"source_line": pl.Int64(), "_members": pl.List(pl.Int64)}
    schema.update({k: pl.String() for k in keys})
    return pl.DataFrame(data, schema=schema)


def sniff_objects(lines: Sequence[str], limit: int = 16) -> list[dict[str, Any]]:
    """Up to ``limit`` JSON objects found in sample lines (single-line or spanning lines)."""
    grouped = group(list(enumerate(lines, start=1)), repair_dashes=True, max_lines=len(lines))
    return [r[1] for r in grouped.records[:limit]]
