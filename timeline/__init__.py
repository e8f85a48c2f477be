"""ai-timeline: reconstruct AI product incidents from gateway, policy, retrieval and inference logs."""

__version__ = "0.1.0"
