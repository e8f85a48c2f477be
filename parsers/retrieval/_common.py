"""Expression helpers shared by the retrieval parsers: durations with units, container prefixes."""

from __future__ import annotations

from typing import Final

import polars as pl

# Elasticsearch / OpenSearch ``TimeValue.toString()`` units, in milliseconds.
_ES_UNITS: Final = {
    "nanos": 1e-6,
    "micros": 1e-3,
    "ms": 1.0,
    "s": 1_000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
    "d": 86_400_000.0,
}

# Go ``time.Duration.String()`` units, in milliseconds (µ in both code points).
_GO_UNITS: Final = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "μs": 1e-3,
    "ms": 1.0,
    "s": 1_000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
}

# ``2024-04-10 15:01:09 `` written by Docker Desktop's log view before each line (local time,
# no zone), optionally after a ``docker compose`` ``service-1  | `` prefix.
ENVELOPE_PATTERN: Final = (
    r"^(?:(?P<compose>[A-Za-z0-9][\w.-]*)\s+\|\s?)?"
    r"(?:(?P<docker_time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?: |$))?"
    r"(?P<rest>.*)$"
)

ANSI_PATTERN: Final = r"\x1b\[[0-9;]*[A-Za-z]"


def es_took_ms(text: pl.Expr) -> pl.Expr:
    """``70.4micros`` / ``9.9ms`` / ``1.2s`` (Elasticsearch TimeValue text) to milliseconds."""
    parts = text.str.strip_chars().str.extract_groups(
        r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<u>nanos|micros|ms|s|m|h|d)$"
    )
    number = parts.struct.field("n").cast(pl.Float64, strict=False)
    scale = parts.struct.field("u").replace_strict(_ES_UNITS, default=None, return_dtype=pl.Float64)
    return number * scale


def go_duration_ms(text: pl.Expr) -> pl.Expr:
    """Go duration text (``997.257µs``, ``1m2.5s``, ``150ms``) to milliseconds; null if not one."""
    token = r"(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)"
    clean = text.str.strip_chars()
    valid = clean.str.contains(rf"^(?:{token})+$")
    pieces = clean.str.extract_all(token)
    total = pieces.list.eval(
        pl.element().str.extract(r"^(\d+(?:\.\d+)?)", 1).cast(pl.Float64, strict=False)
        * pl.element()
        .str.extract(r"(ns|us|µs|μs|ms|s|m|h)$", 1)
        .replace_strict(_GO_UNITS, default=None, return_dtype=pl.Float64)
    ).list.sum()
    return pl.when(valid).then(total).otherwise(None)


def strip_ansi(text: pl.Expr) -> pl.Expr:
    """Remove terminal colour codes (``docker logs`` of a TTY container keeps them)."""
    return text.str.replace_all(ANSI_PATTERN, "")
