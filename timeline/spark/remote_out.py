"""An output folder by URI on the Spark engine: written locally on the driver, then published.

The driver writes every output into a local temporary folder exactly as it writes a local output
folder (the same files, bytes and appendix), then :meth:`RemoteOut.publish` copies them into
``OUT/.building-<token>/`` with Hadoop's ``copyFromLocalFile`` and renames each into ``OUT``
(replacing the file of an earlier build; the tool's files this build did not write are removed,
as a local build removes them, and a new correlation removes the earlier appendix). A reader of ``OUT`` never sees a half-copied file: on HDFS and
ABFS (hierarchical namespace) a rename is atomic; on S3 (``s3a://``) it is a copy the connector
finishes before the name appears.

With correlation, executors read the events through Spark from a scratch copy under
``OUT/.parts-<token>/`` (:meth:`RemoteOut.scratch`), removed when the build ends. There is no lock
on a URI: run one build into an ``OUT`` at a time. Leftovers of an interrupted run
(``OUT/.building-*``, ``OUT/.parts-*``) are removed by the next build that publishes into ``OUT``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from timeline.layout import BUILDING_INFIX, PARTS_PREFIX
from timeline.spark.uris import HadoopFS, join

STAGING_PREFIX: Final = BUILDING_INFIX  # ``.building-<token>``: a publish in progress, in OUT


class RemoteOut:
    """The output folder ``target`` (a qualified URI) of one build or correlation."""

    def __init__(self, fs: HadoopFS, target: str) -> None:
        self.fs = fs
        self.target = target.rstrip("/")
        self.token = secrets.token_hex(4)
        self._scratch: str | None = None

    def under(self, uri: str) -> bool:
        """True when ``uri`` lies in the output folder (an input there would be read back)."""
        return uri == self.target or uri.startswith(self.target + "/")

    def scratch(self, local: Path) -> str:
        """``local`` copied to the scratch folder under ``OUT``; its URI (for executors)."""
        if self._scratch is None:
            self._scratch = join(self.target, f"{PARTS_PREFIX}{self.token}")
            self.fs.mkdirs(self._scratch)
        uri = join(self._scratch, local.name)
        self.fs.upload(local, uri)
        return uri

    def drop_scratch(self) -> None:
        """Remove the scratch folder (if any)."""
        if self._scratch is not None:
            self.fs.delete(self._scratch, recursive=True)
            self._scratch = None

    def publish(self, local: Path, names: Sequence[str], stale: Sequence[str]) -> dict[str, str]:
        """The files ``names`` of the local folder ``local`` copied into ``OUT`` (see the module
        docstring), and the files ``stale`` removed from it; the URI of each file copied."""
        fs = self.fs
        fs.mkdirs(self.target)
        present = fs.names(self.target)
        for name in present:  # leftovers of interrupted runs (there is no lock on a URI)
            if name.startswith((PARTS_PREFIX, STAGING_PREFIX)) and not name.endswith(self.token):
                fs.delete(join(self.target, name), recursive=True)
        staging = join(self.target, f"{STAGING_PREFIX}{self.token}")
        fs.mkdirs(staging)
        try:
            for name in names:
                fs.upload(local / name, join(staging, name))
            for name in names:
                final = join(self.target, name)
                fs.delete(final)
                fs.rename(join(staging, name), final)
            for name in stale:
                if name in present and name not in names:
                    fs.delete(join(self.target, name))
        finally:
            fs.delete(staging, recursive=True)
        return {name: join(self.target, name) for name in names}
