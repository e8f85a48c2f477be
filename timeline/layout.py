"""The output folder: the name of every file a build writes, and which stage writes it.

This is the one place that names them; stages, the appendix, ``query``, ``show`` and the tests
import the names from here.
"""

from __future__ import annotations

from typing import Final

# parse + normalize (``timeline build``)
EVENTS: Final = "events.parquet"
REJECTS: Final = "rejects.parquet"
MANIFEST: Final = "build.json"

# correlate (``timeline build``, or ``timeline correlate``)
TIMELINE: Final = "timeline.parquet"
REQUESTS: Final = "requests.parquet"
CORRELATION: Final = "correlation.json"

# analyze + export (``timeline report``, or the end of ``timeline build``)
APPENDIX: Final[dict[str, str]] = {
    "md": "appendix.md",
    "html": "appendix.html",
    "json": "appendix.json",
}
POSTMORTEM: Final = "appendix-postmortem.md"

# Temporary folders inside the output folder while a stage runs (removed when it ends).
PARTS_PREFIX: Final = ".parts-"
CORRELATE_PREFIX: Final = ".correlate-"

STAGE_OUTPUTS: Final[dict[str, tuple[str, ...]]] = {
    "build": (EVENTS, REJECTS, MANIFEST),
    "correlate": (TIMELINE, REQUESTS, CORRELATION),
    "report": (*APPENDIX.values(), POSTMORTEM),
}
