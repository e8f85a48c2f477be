"""Map one OTLP log record to a canonical event."""

from __future__ import annotations

from typing import Any, Final

from parsers.otel.otlp_json.attrs import Bag
from parsers.otel.otlp_json.spans import Context, Row
from parsers.otel.otlp_json.values import any_value, as_int, hex_id, key_values, nanos
from timeline.parserkit.values import json_text

_LEVELS: Final = {
    "trace": "TRACE",
    "debug": "DEBUG",
    "info": "INFO",
    "information": "INFO",
    "notice": "INFO",
    "warn": "WARN",
    "warning": "WARN",
    "error": "ERROR",
    "err": "ERROR",
    "critical": "FATAL",
    "fatal": "FATAL",
    "panic": "FATAL",
}

# GenAI event names whose body is content: it goes to prompt_text / completion_text.
PROMPT_EVENTS: Final = frozenset(
    {"gen_ai.user.message", "gen_ai.system.message", "gen_ai.content.prompt", "gen_ai.tool.message"}
)
COMPLETION_EVENTS: Final = frozenset(
    {"gen_ai.choice", "gen_ai.assistant.message", "gen_ai.content.completion"}
)


def severity_of(severity_text: Any, number: Any) -> str | None:
    """OTel severity text from ``severityText`` or, failing that, ``severityNumber`` (1..24)."""
    if isinstance(severity_text, str) and severity_text.strip():
        mapped = _LEVELS.get(severity_text.strip().lower())
        if mapped:
            return mapped
    n = as_int(number)
    if n is None or not 1 <= n <= 24:
        return None
    return ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")[(n - 1) // 4]


def log_row(ctx: Context, record: Any) -> Row | None:
    """The event of one ``logRecords`` entry."""
    if not isinstance(record, dict):
        return None
    bag = Bag(key_values(record.get("attributes")))
    at = nanos(record.get("timeUnixNano"))
    observed = nanos(record.get("observedTimeUnixNano"))
    raw = record.get("timeUnixNano") if at is not None else record.get("observedTimeUnixNano")
    event_name = json_text(record.get("eventName")) or json_text(bag.get("event.name"))
    body = json_text(any_value(record.get("body")))
    prompt = body if event_name in PROMPT_EVENTS else None
    completion = body if event_name in COMPLETION_EVENTS else None
    extra = [
        {"key": "log.event_name", "value": event_name} if event_name else {},
        {"key": "log.time_source", "value": "observed"} if at is None and observed else {},
        {"key": "log.severity_text", "value": record["severityText"]}
        if isinstance(record.get("severityText"), str) and record["severityText"]
        else {},
    ]
    return {
        "source_line": ctx.source_line,
        "_ns": at if at is not None else observed,
        "ts_raw": json_text(raw) if (at or observed) is not None else None,
        "layer": "inference" if event_name and event_name.startswith("gen_ai.") else "other",
        "event_type": "server.log",
        "severity": severity_of(record.get("severityText"), record.get("severityNumber")),
        "message": event_name if prompt is not None or completion is not None else body,
        "prompt_text": prompt,
        "completion_text": completion,
        "trace_id": hex_id(record.get("traceId"), 16),
        "span_id": hex_id(record.get("spanId"), 8),
        "host": ctx.host,
        "session_id": json_text(bag.get("session.id", "gen_ai.conversation.id")),
        "user_id": json_text(bag.get("user.id", "enduser.id")),
        "error_type": json_text(bag.get("exception.type", "error.type")),
        "ids": [],
        "attributes": [kv for kv in extra if kv] + bag.rest() + ctx.common,
    }
