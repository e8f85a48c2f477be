"""ai-timeline: reconstruct AI product incidents from gateway, policy, retrieval and inference logs.

The library API (see ``docs/library.md``): :func:`build`, :func:`correlate`, :func:`report`,
:func:`detect`, :func:`show`, :func:`query`, :func:`parsers`, :func:`validate_spec` and
:func:`check_golden`, all from :mod:`timeline.pipeline.api`. They are imported on first use, so that
``import timeline`` (and ``timeline --version``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from timeline.pipeline.api import (
        build,
        check_golden,
        correlate,
        detect,
        parsers,
        query,
        report,
        show,
        validate_spec,
    )

API = (
    "build",
    "check_golden",
    "correlate",
    "detect",
    "parsers",
    "query",
    "report",
    "show",
    "validate_spec",
)
__all__ = [
    "__version__",
    "build",
    "check_golden",
    "correlate",
    "detect",
    "parsers",
    "query",
    "report",
    "show",
    "validate_spec",
]


def __getattr__(name: str) -> Any:
    if name in API:
        return getattr(importlib.import_module("timeline.pipeline.api"), name)
    raise AttributeError(f"module 'timeline' has no attribute {name!r}")
