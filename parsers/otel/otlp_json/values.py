"""OTLP/JSON value decoding: AnyValue, key/value lists, ids, nanosecond times, status codes.

Values become text with :func:`timeline.parserkit.values.json_text`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any, Final

_HEX: Final = re.compile(r"^[0-9a-fA-F]+$")
_MAX_NS: Final = 2**63 - 1


def any_value(value: Any) -> Any:
    """The plain Python value of an OTLP ``AnyValue`` (``{"stringValue": "x"}`` -> ``"x"``)."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return _int(value["intValue"])
    if "doubleValue" in value:
        return _float(value["doubleValue"])
    if "arrayValue" in value:
        items = (
            value["arrayValue"].get("values", []) if isinstance(value["arrayValue"], dict) else []
        )
        return [any_value(v) for v in items] if isinstance(items, list) else []
    if "kvlistValue" in value:
        kv = value["kvlistValue"]
        return key_values(kv.get("values", []) if isinstance(kv, dict) else [])
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def key_values(items: Any) -> dict[str, Any]:
    """An OTLP ``KeyValue`` list as a dict (later duplicates win)."""
    out: dict[str, Any] = {}
    if not isinstance(items, list):
        return out
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = any_value(item.get("value"))
    return out


def as_int(value: Any) -> int | None:
    """An integer from an int, a float without fraction, or numeric text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return _int(value)
    return None


def as_float(value: Any) -> float | None:
    """A float from a number or numeric text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, str):
        return _float(value)
    return None


def as_bool(value: Any) -> bool | None:
    """A boolean from a bool or ``true`` / ``false`` text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def hex_id(value: Any, size: int) -> str | None:
    """A trace (16 bytes) or span (8 bytes) id as lowercase hex; empty or all-zero means none.

    OTLP/JSON writes ids as hex; some older exporters wrote the protobuf default base64.
    """
    if not isinstance(value, str) or not value:
        return None
    raw = value.strip()
    if len(raw) == 2 * size and _HEX.match(raw):
        out = raw.lower()
    else:
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(decoded) != size:
            return None
        out = decoded.hex()
    return None if set(out) == {"0"} else out


def nanos(value: Any) -> int | None:
    """``*TimeUnixNano`` (decimal text or number) as an int; 0 or missing means none."""
    number = as_int(value)
    if number is None or number <= 0 or number > _MAX_NS:
        return None
    return number


def status_code(value: Any) -> str:
    """``unset`` | ``ok`` | ``error`` from a numeric or ``STATUS_CODE_*`` status code."""
    if isinstance(value, str):
        upper = value.upper()
        if upper.endswith("ERROR") or upper == "2":
            return "error"
        if upper.endswith("OK") or upper == "1":
            return "ok"
        return "unset"
    number = as_int(value)
    return {1: "ok", 2: "error"}.get(number or 0, "unset")


def span_kind(value: Any) -> str | None:
    """``server`` | ``client`` | ``internal`` | ``producer`` | ``consumer`` from either spelling."""
    names = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
    if isinstance(value, str):
        low = value.lower().removeprefix("span_kind_")
        if low.isdigit():
            return names.get(int(low))
        return low if low in names.values() else None
    number = as_int(value)
    return names.get(number) if number is not None else None


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if re.fullmatch(r"-?\d{1,20}", stripped):
            return int(stripped)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None
