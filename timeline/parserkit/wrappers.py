"""The wrapper a service writes around a JSON response it logs: time, ids, stage, host.

``{"ts": ..., "request_id": ..., "stage": "input", "response": {...}}``: the wrapper's field
names vary by service, so each canonical column reads the first present of several aliases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from timeline.parserkit.jsonpaths import key_path
from timeline.parserkit.text import nullify
from timeline.parserkit.timestamps import parse_guess
from timeline.parserkit.verdicts import stage

TS_KEYS: Final = ("ts", "timestamp", "time", "@timestamp", "created_at", "logged_at")
REQUEST_ID_KEYS: Final = ("request_id", "requestId", "x_request_id", "x-request-id", "req_id")
SESSION_ID_KEYS: Final = ("session_id", "sessionId", "conversation_id", "thread_id")
TRACE_ID_KEYS: Final = ("trace_id", "traceId")
USER_ID_KEYS: Final = ("user_id", "user", "userId")
STAGE_KEYS: Final = ("stage", "direction", "phase", "source")
HOST_KEYS: Final = ("host", "hostname", "pod")


def first_path(text: pl.Expr, paths: Sequence[str]) -> pl.Expr:
    """The first present of several JSON paths of ``text``; null tokens (``-``, empty) are null."""
    exprs = [nullify(text.str.json_path_match(p)) for p in paths]
    return exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)


def first_key(text: pl.Expr, keys: Sequence[str]) -> pl.Expr:
    """:func:`first_path` of top-level ``keys``."""
    return first_path(text, [key_path(k) for k in keys])


def wrapped_object(text: pl.Expr, keys: Sequence[str], accept: str = r"^\{") -> pl.Expr:
    """The response a wrapper holds under one of ``keys`` (the first whose text matches
    ``accept``), else the record itself."""
    inner = [text.str.json_path_match(key_path(k)) for k in keys]
    return pl.coalesce(pl.coalesce([pl.when(i.str.contains(accept)).then(i) for i in inner]), text)


def wrapper_columns(text: pl.Expr, timezone: str = "UTC") -> dict[str, pl.Expr]:
    """Canonical columns from the wrapper around a JSON record's response.

    Aliases (first found wins): ts ``ts|timestamp|time|@timestamp|created_at|logged_at`` (ISO
    8601 or an epoch number); request id ``request_id|requestId|x_request_id|x-request-id|req_id``;
    session ``session_id|sessionId|conversation_id|thread_id``; trace ``trace_id|traceId``; user
    ``user_id|user|userId``; stage ``stage|direction|phase|source``; host ``host|hostname|pod``.
    """
    ts_raw = first_key(text, TS_KEYS)
    ts = parse_guess(ts_raw, timezone)
    return {
        "ts_raw": ts_raw,
        "ts_source": ts.ts,
        "ts_assumed_tz": ts.assumed_tz,
        "request_id": first_key(text, REQUEST_ID_KEYS),
        "session_id": first_key(text, SESSION_ID_KEYS),
        "trace_id": first_key(text, TRACE_ID_KEYS),
        "user_id": first_key(text, USER_ID_KEYS),
        "policy_stage": stage(first_key(text, STAGE_KEYS)),
        "host": first_key(text, HOST_KEYS),
    }
