"""Inputs by URI on the Spark engine: listed and sampled on the driver, read whole by executors.

* **Listing** (:func:`discover`): each URI input is a file, a folder (every file below it, hidden
  names and ``_``-markers left out, as the local walk leaves hidden names out) or a glob, listed
  through Hadoop's ``FileSystem`` (:mod:`timeline.spark.uris`). A file is shown (``source_file``)
  by its qualified URI.
* **Detection** runs on the driver as for local files: :class:`RemoteReader` streams the file's
  head from the file system, so planning (:func:`timeline.pipeline.plan.plan`) reads only what it
  samples.
* **Parsing**: executors get each file's bytes through Spark's ``binaryFile`` source (one row per
  file, so at most 2 GiB a file: :data:`MAX_REMOTE_BYTES`), write them to a local temporary
  file and run the very task a local file runs (:func:`timeline.spark.parse.run_task`): the same
  reader (decompression, hashes, line numbers, bad lines), parser and finishing, so the
  accounting and rejects are the local engine's. A large file by URI is parsed in pieces whose
  data waits between rounds as Spark cells (:mod:`timeline.spark.remote_pieces`).
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, cast

import pyarrow as pa

from timeline.errors import InputError
from timeline.ingest.discover import InputFile
from timeline.ingest.reader import InputReader
from timeline.spark.frames import blob_batch
from timeline.spark.parse import ParseContext, run_task
from timeline.spark.uris import READ_BYTES, HadoopFS, RemoteFile

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

MAX_REMOTE_BYTES: Final = (1 << 31) - 1  # Spark's binaryFile holds a file in one binary value
_GLOB_SPECIAL: Final = re.compile(r"([\[\]{}*?\\])")


def discover(fs: HadoopFS, uris: Sequence[str]) -> tuple[list[InputFile], dict[str, RemoteFile]]:
    """The files the URI inputs name (as :class:`InputFile`, ``display`` the qualified URI) and
    each one's listing by URI."""
    found: dict[str, RemoteFile] = {}
    for uri in uris:
        for remote in fs.files(uri):
            found.setdefault(remote.uri, remote)
    # No absolute path: ``timeline.toml`` rules match the path below the URI that named the file.
    files = [
        InputFile(uri, Path(uri), relative=remote.relative, absolute="")
        for uri, remote in sorted(found.items())
    ]
    return files, found


class RemoteReader(InputReader):
    """An :class:`InputReader` of a file by URI, on the driver: streams it through Hadoop."""

    def __init__(
        self, fs: HadoopFS, remote: RemoteFile, max_line_bytes: int, max_file_bytes: int
    ) -> None:
        super().__init__(Path(remote.uri), remote.uri, max_line_bytes, None, max_file_bytes)
        self.fs = fs
        self.remote = remote
        self.stream = False

    def _open(self) -> BinaryIO:
        return cast(BinaryIO, io.BufferedReader(self.fs.open(self.remote.uri), READ_BYTES))

    def modified(self) -> float | None:
        """The modification time the listing gave."""
        return self.remote.modified


def check_sizes(files: Sequence[RemoteFile]) -> None:
    """An ``InputError`` naming each file too large to read by URI."""
    large = [f for f in files if f.size > MAX_REMOTE_BYTES]
    if large:
        names = ", ".join(f"{f.uri!r} ({f.size:,} bytes)" for f in large)
        raise InputError(
            f"the spark engine reads a file by URI whole, at most 2 GiB (Spark's binaryFile): "
            f"{names}; split it, or put it in a folder every executor sees at the same path"
        )


def content_frame(session: SparkSession, uris: Sequence[str], slices: int) -> DataFrame:
    """One row per file (``path``, ``content``), spread over ``slices`` partitions."""
    escaped = [_GLOB_SPECIAL.sub(r"\\\1", u) for u in uris]  # a name is not a glob
    frame = session.read.format("binaryFile").load(escaped).select("path", "content")
    return frame.repartition(max(1, slices))


def saved_inputs(
    batches: Iterator[pa.RecordBatch], specs: dict[str, str], prefix: str
) -> Iterator[tuple[str, Path]]:
    """Each :func:`content_frame` row's task row (``specs``: URI to it) and a local temporary
    folder holding the file's bytes as ``input``; the folder is removed when the next row is
    asked for."""
    for batch in batches:
        contents = batch.column("content")
        for i, uri in enumerate(batch.column("path").to_pylist()):
            text = specs.get(uri)
            if text is None:
                raise InputError(f"internal error: Spark read {uri!r}, which was not planned")
            with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
                buffer = contents[i].as_buffer()
                with (Path(tmp) / "input").open("wb") as out:
                    if buffer is not None:
                        out.write(memoryview(buffer))
                del buffer
                yield text, Path(tmp)


def parse_remote_partition(context: ParseContext, specs: dict[str, str]) -> Any:
    """The ``mapInArrow`` function over :func:`content_frame` rows: each file's bytes saved to a
    local temporary file, then its task (``specs``: URI to :func:`timeline.spark.parse.task_row`)
    run on that file; the cells as :func:`timeline.spark.parse.parse_partition` gives them."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for text, folder in saved_inputs(batches, specs, "timeline-spark-input-"):
            for cell in run_task(text, context, local_path=str(folder / "input")):
                yield blob_batch([cell])

    return run
