"""Correlation: events to requests (id aliases, heuristics), clock-skew correction, causal order."""
