"""Safe decoding of the Python-literal event payloads NeMo Guardrails logs (never ``eval``).

Most payloads are plain dict reprs (quoted strings without escapes, ``True``/``False``/``None``,
numbers, nested dicts and lists): polars rewrites those as JSON in one vectorized pass and
:func:`json.loads` reads them, which gives the very objects :func:`ast.literal_eval` would (JSON is
a subset of Python literals over these tokens). Anything else (escapes, tuples, control
characters, implicit string concatenation, ...) and any rewrite that is not valid JSON goes
through :func:`ast.literal_eval`.
"""

from __future__ import annotations

import json
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
_COLUMNS: Final = tuple((name, f"p_{name}") for name in FIELDS)
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


# String contents the JSON rewrite keeps as they are: no escapes, no control characters, and in
# single-quoted strings no double quote (JSON would need an escape).
_SQ: Final = r"""'[^'"\\\x00-\x1f]*'"""
_DQ: Final = r'"[^"\\\x00-\x1f]*"'
_NUMBER: Final = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
# A payload made only of these tokens is rewritten as JSON (whether they form a dict is for
# json.loads to say). Spaces only: no tabs or line breaks.
_TOKENS: Final = rf"^(?:{_SQ}|{_DQ}|True|False|None|{_NUMBER}|[ :,{{}}\[\]])*$"
# One pass: a string becomes ``"text"\x02``; a keyword ``""\x02rue`` (``alse``, ``one``). No
# token starts with r/a/o, so ``""\x02rue`` is True and nothing else (\x02 is never in a
# string: control characters are excluded above).
_REWRITE: Final = (
    r"""'([^'"\\\x00-\x1f]*)'|"([^"\\\x00-\x1f]*)"|T(rue)|F(alse)|N(one)""",
    '"${1}${2}"\x02${3}${4}${5}',
)
_KEYWORDS: Final = (['""\x02rue', '""\x02alse', '""\x02one'], ["true", "false", "null"])
# Python's parser gives up near 200 nested brackets, json.loads near 1000: more than this many
# brackets in all (a bound on the depth) goes through literal_eval.
_MAX_BRACKETS: Final = 100


def as_json(payloads: pl.Series) -> pl.Series:
    """Each payload rewritten as JSON text with the same value, or null where the rewrite does
    not apply (the payload then goes through :func:`ast.literal_eval`)."""
    text = pl.col("p")
    fits = (
        text.str.contains(_TOKENS)
        & (text.str.len_chars() <= MAX_PAYLOAD_CHARS)
        & (text.str.count_matches(r"[\[{]") <= _MAX_BRACKETS)
    )
    rewritten = (
        text.str.replace_all(*_REWRITE)
        .str.replace_many(*_KEYWORDS)
        .str.replace_all("\x02", "", literal=True)
    )
    frame = pl.DataFrame({"p": payloads.cast(pl.String)})
    return frame.select(pl.when(fits).then(rewritten).alias("json")).get_column("json")


def _value(payload: str | None, rewritten: str | None) -> Any:
    """The Python value of ``payload``: from its JSON rewrite when there is one that is valid."""
    if rewritten is not None:
        try:
            return json.loads(rewritten)
        except (ValueError, RecursionError):
            pass
    return literal(payload, MAX_PAYLOAD_CHARS)


def decode(payload: str | None) -> dict[str, Any]:
    """One payload's fields, or ``{"ok": False}`` when it is not a valid dict literal."""
    return _fields(literal(payload, MAX_PAYLOAD_CHARS))


def _fields(value: Any) -> dict[str, Any]:
    """The fields of a decoded payload (see :func:`decode`)."""
    if not isinstance(value, dict):
        return {"ok": False}
    row: dict[str, Any] = {"ok": True}
    get = value.get
    for name, column in _COLUMNS:
        field = get(name)
        # json_text keeps a str as it is: skip the call for the common case
        row[column] = field if type(field) is str else json_text(field)
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
    rewritten = as_json(payloads).to_list()
    rows = [_fields(_value(p, j)) for p, j in zip(payloads.to_list(), rewritten, strict=True)]
    return pl.DataFrame(rows, schema=PAYLOAD_SCHEMA)
