"""URIs (``scheme://...``) among paths: only the Spark engine reads and writes them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from timeline.errors import ConfigError

_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(text: str | Path) -> bool:
    """True for ``scheme://...`` (a path the Spark engine reads through Hadoop's file systems)."""
    return isinstance(text, str) and bool(_SCHEME.match(text))


SPARK_HINT: Final = (
    "the local engine reads and writes local paths; use --engine spark (Spark's Hadoop file "
    "systems), or copy the files to a folder"
)
REPORT_HINT: Final = (
    "timeline report reads a local folder; copy the folder here (a spark build into a URI "
    "writes its appendix itself)"
)


def refuse_uris(texts: list[str], outdir: str | Path, hint: str = SPARK_HINT) -> None:
    """A ``ConfigError`` when a command that reads local paths is given a URI (input or output
    folder); ``hint`` says what to do instead."""
    for text in [*texts, outdir]:
        if is_uri(text):
            raise ConfigError(f"{str(text)!r} is a URI: {hint}")
