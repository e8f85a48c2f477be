"""Safe decoding of the Python-literal event payloads NeMo Guardrails logs (never ``eval``)."""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from timeline.parserkit.pyrepr import literal
from timeline.parserkit.values import json_text

MAX_PAYLOAD_CHARS: Final = 1 << 20

# Payload keys lifted into columns (all as text); anything else is ignored.
FIELDS: Final = (
    "type",
    "uid",
    "event_created_at",
    "source_uid",
    "action_name",
    "action_uid",
    "action_result_key",
    "status",
    "is_success",
    "failure_reason",
    "action_finished_at",
    "intent",
    "text",
    "script",
    "final_transcript",
)
PAYLOAD_SCHEMA: Final = pl.Schema(
    {
        "ok": pl.Boolean(),
        **{f"p_{name}": pl.String() for name in FIELDS},
        "p_return_kind": pl.String(),
        "p_return_value": pl.String(),
        "p_allowed": pl.String(),
        "p_violations": pl.List(pl.String),
        "p_param_source": pl.String(),
    }
)


def _return(value: Any) -> tuple[str, str | None, str | None, list[str]]:
    """(kind, value text, allowed text, violations) of an action's return value."""
    if isinstance(value, bool):
        return "bool", json_text(value), None, []
    if isinstance(value, str) and value in ("True", "False"):
        return "bool_text", value.lower(), None, []
    if isinstance(value, int | float):
        return "number", str(value), None, []
    if isinstance(value, dict):
        allowed = value.get("allowed")
        raw = value.get("policy_violations") or []
        violations = [str(v) for v in raw] if isinstance(raw, list | tuple) else [str(raw)]
        return "dict", None, json_text(allowed) if isinstance(allowed, bool) else None, violations
    if value is None:
        return "none", None, None, []
    return "text", str(value)[:500], None, []


def decode(payload: str | None) -> dict[str, Any]:
    """One payload's fields, or ``{"ok": False}`` when it is not a valid dict literal."""
    value = literal(payload, MAX_PAYLOAD_CHARS)
    if not isinstance(value, dict):
        return {"ok": False}
    row: dict[str, Any] = {"ok": True}
    for name in FIELDS:
        row[f"p_{name}"] = json_text(value.get(name))
    kind, text, allowed, violations = _return(value.get("return_value"))
    row["p_return_kind"] = kind if "return_value" in value else None
    row["p_return_value"] = text
    row["p_allowed"] = allowed
    row["p_violations"] = violations
    params = value.get("action_params")
    source = params.get("source") if isinstance(params, dict) else None
    row["p_param_source"] = source if isinstance(source, str) else None
    return row


def decode_all(payloads: pl.Series) -> pl.DataFrame:
    """Decode every payload (a Python loop over payload lines only)."""
    rows = [decode(p) for p in payloads.to_list()]
    return pl.DataFrame(rows, schema=PAYLOAD_SCHEMA)
