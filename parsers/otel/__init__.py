"""Built-in OpenTelemetry parsers (cross-layer: spans map to layers by their attributes)."""

from __future__ import annotations

from parsers.otel.otlp_json import OtlpJsonParser
from timeline.parse.api import Parser


def parsers() -> list[tuple[Parser, str]]:
    """The OpenTelemetry parsers with their origins."""
    return [(OtlpJsonParser(), "built-in parsers/otel/otlp_json.py")]
