"""Built-in OpenTelemetry parsers (cross-layer: spans map to layers by their attributes)."""
