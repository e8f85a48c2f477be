"""Built-in policy-layer parsers."""
