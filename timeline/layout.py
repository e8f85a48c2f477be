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
TMP_SUFFIX: Final = ".tmp"  # ``.<name>.<random>.tmp``: a file being written atomically

# Beside the output folder OUT (in its parent): a build writes into ``.OUT.building-<pid>-<rand>``
# and swaps it in at the end (the old folder goes to ``.OUT.old-<pid>-<rand>``, then is removed);
# ``.OUT.lock`` is held (flock) by the one build, ``correlate`` or ``report`` writing OUT.
BUILDING_INFIX: Final = ".building-"
OLD_INFIX: Final = ".old-"
LOCK_SUFFIX: Final = ".lock"

BUILD_ID: Final = "build_id"
"""The key of the build id in ``build.json`` and in every Parquet file's ``ai_timeline`` metadata."""


def building_prefix(outdir_name: str) -> str:
    """``.OUT.building-``: the start of the staging folder's name for an output folder ``OUT``."""
    return f".{outdir_name}{BUILDING_INFIX}"


def old_prefix(outdir_name: str) -> str:
    """``.OUT.old-``: the name the previous output folder has while it is being removed."""
    return f".{outdir_name}{OLD_INFIX}"


def lock_name(outdir_name: str) -> str:
    """``.OUT.lock``: the lock file beside the output folder ``OUT``."""
    return f".{outdir_name}{LOCK_SUFFIX}"


def is_scratch(name: str) -> bool:
    """A name inside the output folder that only a running (or crashed) stage leaves there."""
    return name.startswith((PARTS_PREFIX, CORRELATE_PREFIX)) or (
        name.startswith(".") and name.endswith(TMP_SUFFIX)
    )


STAGE_OUTPUTS: Final[dict[str, tuple[str, ...]]] = {
    "build": (EVENTS, REJECTS, MANIFEST),
    "correlate": (TIMELINE, REQUESTS, CORRELATION),
    "report": (*APPENDIX.values(), POSTMORTEM),
}

OUTPUT_FILES: Final[tuple[str, ...]] = tuple(n for names in STAGE_OUTPUTS.values() for n in names)
"""Every file name a build, ``correlate`` or ``report`` writes into the output folder."""
