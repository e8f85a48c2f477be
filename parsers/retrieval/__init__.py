"""Built-in retrieval-layer parsers."""
