"""Files by URI (``s3a://``, ``hdfs://``, ``abfss://``, ``gs://``, ``file://``) through Spark's own
Hadoop file systems, from the driver.

The driver reaches Hadoop's ``FileSystem`` through the session's JVM gateway (py4j), so every file
system the cluster is configured for (its ``fs.*`` settings, credentials providers, connectors on
the class path) works as it does for Spark's own readers. Executors never use this module: they
get a remote file's bytes through Spark (``binaryFile``) and read a remote events table through
Spark's Parquet reader.

py4j moves bytes by value: :class:`HadoopInput` reads in blocks of :data:`READ_BYTES`, which is
fine for what the driver reads this way (the heads that detection samples, and the output files
it copies with Hadoop's own ``copyFromLocalFile``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from timeline.errors import ConfigError, InputError, OutputError
from timeline.io.uris import is_uri

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

READ_BYTES: Final = 1 << 20
_GLOB_CHARS: Final = frozenset("*?[{")


def join(base: str, name: str) -> str:
    """``base`` / ``name`` for a URI."""
    return f"{base.rstrip('/')}/{name}"


@dataclass(frozen=True)
class RemoteFile:
    """A file a URI named: its qualified URI (as Spark's readers spell it), size, and the path
    below the input that named it (``--parser`` patterns match that)."""

    uri: str
    size: int
    relative: str
    modified: float | None = None  # seconds since the epoch


class HadoopFS:
    """Hadoop ``FileSystem`` calls for URIs, through the session's JVM (see the module docstring)."""

    def __init__(self, session: SparkSession) -> None:
        try:
            self._jvm: Any = session._jvm
            self._conf: Any = session._jsc.hadoopConfiguration()
        except Exception:  # Spark Connect: no JVM in this process
            raise ConfigError(
                "URIs need a Spark session with a JVM in this process (not Spark Connect); "
                "run timeline with spark-submit or a classic session, or mount the files"
            ) from None
        if self._jvm is None:
            raise ConfigError("URIs need a Spark session with a JVM in this process")

    def _path(self, uri: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def _fs(self, uri: str) -> Any:
        try:
            return self._path(uri).getFileSystem(self._conf)
        except Exception as exc:
            raise InputError(f"cannot reach {uri!r}: {_reason(exc)}") from None

    def qualified(self, uri: str) -> str:
        """``uri`` as Hadoop (and Spark's readers) spell it (``file:///x`` is ``file:/x``)."""
        return str(self._fs(uri).makeQualified(self._path(uri)).toString())

    def files(self, uri: str) -> list[RemoteFile]:
        """The files ``uri`` names: itself, every file below a folder (hidden names, ``_SUCCESS``
        style markers and ``.toml`` settings left out, as the local walk leaves them), or the
        matches of a glob; sorted by URI. An ``InputError`` when nothing is there."""
        fs = self._fs(uri)
        path = self._path(uri)
        if is_uri(uri) and _GLOB_CHARS & set(uri.split("://", 1)[1]):
            found = fs.globStatus(path)
            statuses = list(found) if found is not None else []
            if not statuses:
                raise InputError(f"no file matches {uri!r}; check the pattern")
            out: list[RemoteFile] = []
            for status in statuses:
                top = str(status.getPath().toString())
                if status.isDirectory():
                    out += self._walk(fs, status.getPath(), top)
                else:
                    out.append(_remote(status, str(status.getPath().getName())))
            return sorted(set(out), key=lambda f: f.uri)
        try:
            status = fs.getFileStatus(path)
        except Exception as exc:
            if _reason(exc).startswith("FileNotFoundException"):
                raise InputError(f"no such file or directory: {uri!r}; check the URI") from None
            raise InputError(f"cannot read {uri!r}: {_reason(exc)}") from None
        top = str(status.getPath().toString())
        if status.isDirectory():
            return sorted(self._walk(fs, status.getPath(), top), key=lambda f: f.uri)
        return [_remote(status, str(status.getPath().getName()))]

    def _walk(self, fs: Any, path: Any, top: str) -> list[RemoteFile]:
        out: list[RemoteFile] = []
        found = fs.listFiles(path, True)
        while found.hasNext():
            status = found.next()
            uri = str(status.getPath().toString())
            relative = uri[len(top) :].lstrip("/") if uri.startswith(top) else uri
            if any(part.startswith((".", "_")) for part in relative.split("/")):
                continue
            if relative.endswith(".toml"):
                continue
            out.append(_remote(status, relative))
        return out

    def open(self, uri: str) -> HadoopInput:
        """A binary file object reading ``uri`` from the start."""
        try:
            return HadoopInput(self._fs(uri).open(self._path(uri)))
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"cannot read {uri!r}: {_reason(exc)}") from None

    def mkdirs(self, uri: str) -> None:
        """Create the folder ``uri`` (and its parents)."""
        self._out(lambda: self._fs(uri).mkdirs(self._path(uri)), uri)

    def delete(self, uri: str, recursive: bool = False) -> None:
        """Remove ``uri`` if it is there."""
        self._out(lambda: self._fs(uri).delete(self._path(uri), recursive), uri)

    def upload(self, local: Path, uri: str) -> None:
        """Copy the local file ``local`` to ``uri`` (replacing what is there)."""
        self._out(
            lambda: self._fs(uri).copyFromLocalFile(
                False, True, self._path(local.resolve().as_uri()), self._path(uri)
            ),
            uri,
        )

    def download(self, uri: str, local: Path) -> None:
        """Copy ``uri`` to the local file ``local`` (no ``.crc`` beside it)."""
        try:
            self._fs(uri).copyToLocalFile(
                False, self._path(uri), self._path(local.resolve().as_uri()), True
            )
        except Exception as exc:
            raise InputError(f"cannot read {uri!r}: {_reason(exc)}") from None

    def rename(self, source: str, target: str) -> None:
        """Rename ``source`` to ``target`` (the same file system; ``target`` must not exist)."""
        done = self._out(
            lambda: self._fs(source).rename(self._path(source), self._path(target)), target
        )
        if not done:
            raise OutputError(f"cannot rename {source!r} to {target!r}")

    def names(self, uri: str) -> list[str]:
        """The names directly inside the folder ``uri`` (none when it is missing)."""
        fs = self._fs(uri)
        path = self._path(uri)
        if not fs.exists(path):
            return []
        return sorted(str(s.getPath().getName()) for s in fs.listStatus(path))

    @staticmethod
    def _out(call: Any, uri: str) -> Any:
        try:
            return call()
        except Exception as exc:
            raise OutputError(f"cannot write {uri!r}: {_reason(exc)}") from None


class HadoopInput(io.RawIOBase):
    """A Hadoop input stream as a read-only Python binary file (sequential reads)."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        """Always: it is an input stream."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read up to ``len(buffer)`` bytes into ``buffer``; 0 at the end of the file."""
        view = memoryview(buffer).cast("B")
        want = min(len(view), READ_BYTES)
        data = bytes(self._stream.readNBytes(want)) if want else b""
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Close the Hadoop stream."""
        if not self.closed:
            try:
                self._stream.close()
            finally:
                super().close()


def _remote(status: Any, relative: str) -> RemoteFile:
    """The :class:`RemoteFile` of a Hadoop ``FileStatus``."""
    millis = int(status.getModificationTime())
    return RemoteFile(
        str(status.getPath().toString()),
        int(status.getLen()),
        relative,
        millis / 1000 if millis > 0 else None,
    )


def _reason(exc: BaseException) -> str:
    """The Java exception's own message (py4j wraps it in a long trace)."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            return f"{java.getClass().getSimpleName()}: {java.getMessage()}"
        except Exception:  # the gateway is gone
            pass
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
