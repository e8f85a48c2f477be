"""Built-in inference-layer parsers."""
