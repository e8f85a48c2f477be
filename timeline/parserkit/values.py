"""Decoded values (``json.loads`` / ``ast.literal_eval`` results) as column text, for the parsers
that walk documents in Python.

:func:`json_text` writes strings as they are, booleans lowercase, numbers in Python's shortest
round-trip form and objects and arrays as ``json.dumps`` does (``["a", "b"]``, keys in order).
"""

from __future__ import annotations

import json
import math
from typing import Any


def json_text(value: Any) -> str | None:
    """``value`` as text; None for None and for non-finite floats (JSON has no NaN)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def dig(value: Any, *keys: str | int) -> Any:
    """The value at a path of keys (objects) and indexes (arrays); None where it is absent."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(value, list) or not -len(value) <= key < len(value):
                return None
            value = value[key]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
    return value
