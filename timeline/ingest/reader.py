"""Read one input as blocks of numbered lines, streaming: decompression, hashing, decoding.

* Compression is recognised by magic bytes (gzip, also multi-member; bzip2; xz), not by name.
  A truncated stream keeps everything before the cut and reports it.
* The sha256 and size are of the file as stored (what ``sha256sum`` prints).
* Lines are split on ``\\n`` (a trailing ``\\r`` is dropped). A line that is not valid UTF-8,
  holds a NUL byte, or is longer than ``max_line_bytes`` becomes a reject; it is never decoded
  lossily and never silently dropped.
* Memory is bounded by the block size plus the longest line kept.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final, Protocol

import polars as pl

from timeline.errors import InputError
from timeline.parserkit.api import LINE_SCHEMA, Sample
from timeline.parserkit.frame import first_reason

BLOCK_BYTES: Final = 8 << 20
READ_BYTES: Final = 1 << 20
HEAD_BYTES: Final = 64 << 10
SAMPLE_LINES: Final = 64
EXCERPT_CHARS: Final = 200
DEFAULT_MAX_LINE_BYTES: Final = 4 << 20

BAD_SCHEMA: Final = pl.Schema(
    {
        "source_line": pl.Int64(),
        "reason": pl.String(),
        "excerpt": pl.String(),
        "line_length": pl.Int64(),
    }
)


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


_MAGIC: Final[tuple[tuple[bytes, str, Callable[[], _Decompressor]], ...]] = (
    (b"\x1f\x8b", "gzip", lambda: zlib.decompressobj(31)),
    (b"BZh", "bzip2", bz2.BZ2Decompressor),
    (b"\xfd7zXZ\x00", "xz", lzma.LZMADecompressor),
)


def detect_compression(head: bytes) -> str | None:
    """``gzip`` | ``bzip2`` | ``xz`` from the first bytes, else None."""
    for magic, name, _ in _MAGIC:
        if head.startswith(magic):
            return name
    return None


@dataclass
class Block:
    """Numbered lines of one block: decodable lines, and lines rejected while reading."""

    lines: pl.DataFrame
    bad: pl.DataFrame


@dataclass
class ReadStats:
    """What reading a file found, complete once its blocks are exhausted."""

    size: int = 0
    sha256: str = ""
    compression: str | None = None
    lines: int = 0
    problems: list[str] = field(default_factory=list)


def _raw_chunks(
    handle: BinaryIO, stats: ReadStats, on_bytes: Callable[[int], None] | None
) -> Iterator[bytes]:
    digest = hashlib.sha256()
    while chunk := handle.read(READ_BYTES):
        digest.update(chunk)
        stats.size += len(chunk)
        if on_bytes is not None:
            on_bytes(len(chunk))
        yield chunk
    stats.sha256 = digest.hexdigest()


def _decompressed(raw: Iterator[bytes], stats: ReadStats) -> Iterator[bytes]:
    first = next(raw, b"")
    kind = detect_compression(first)
    stats.compression = kind
    if kind is None:
        if first:
            yield first
        yield from raw
        return
    factory = next(f for _, name, f in _MAGIC if name == kind)
    dec = factory()
    produced = 0

    def chunks() -> Iterator[bytes]:
        yield first
        yield from raw

    try:
        for chunk in chunks():
            data = chunk
            while data:
                if dec.eof:
                    if not data.strip(b"\x00"):
                        break  # zero padding after the last member
                    dec = factory()
                out = dec.decompress(data)
                produced += len(out)
                if out:
                    yield out
                data = dec.unused_data if dec.eof else b""
    except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
        stats.problems.append(
            f"corrupt {kind} data after {produced} decompressed bytes ({exc}); the rest of the file is unreadable"
        )
        for _ in raw:  # finish hashing the file
            pass
        return
    if not dec.eof:
        stats.problems.append(
            f"truncated {kind} stream: it ends after {produced} decompressed bytes"
        )


class InputReader:
    """Streams one file as :class:`Block` objects; see the module docstring."""

    def __init__(
        self,
        path: Path,
        name: str,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.path = path
        self.name = name
        self.max_line_bytes = max_line_bytes
        self.block_bytes = max(BLOCK_BYTES, 2 * max_line_bytes)
        self.on_bytes = on_bytes
        self.stats = ReadStats()

    def _open(self) -> BinaryIO:
        try:
            return self.path.open("rb")
        except OSError as exc:
            raise InputError(f"cannot read {self.name!r}: {exc.strerror or exc}") from None

    def head(self) -> tuple[Sample, bool]:
        """A sample of the first lines, and whether the file looks binary."""
        stats = ReadStats()
        buf = b""
        with self._open() as handle:
            raw = iter(lambda: handle.read(HEAD_BYTES), b"")
            for out in _decompressed(raw, stats):
                buf += out
                if len(buf) >= HEAD_BYTES:
                    break
        head = buf[:HEAD_BYTES]
        binary = b"\x00" in head or _mostly_undecodable(head)
        lines: list[str] = []
        for raw_line in head.split(b"\n")[:-1] if len(buf) >= HEAD_BYTES else head.split(b"\n"):
            try:
                text = raw_line.decode("utf-8").removesuffix("\r")
            except UnicodeDecodeError:
                continue
            if text.strip():
                lines.append(text)
            if len(lines) >= SAMPLE_LINES:
                break
        return Sample(self.name, tuple(lines)), binary

    def blocks(self) -> Iterator[Block]:
        """Every line of the file, in blocks, numbered from 1."""
        stats = self.stats
        line_no = 1
        buf = bytearray()
        long_line: tuple[int, int, bytes] | None = (
            None  # (line number, length so far, excerpt bytes)
        )
        with self._open() as handle:
            for out in _decompressed(_raw_chunks(handle, stats, self.on_bytes), stats):
                if long_line is not None:
                    cut = out.find(b"\n")
                    if cut < 0:
                        long_line = (long_line[0], long_line[1] + len(out), long_line[2])
                        continue
                    yield self._long_block(long_line[0], long_line[1] + cut, long_line[2])
                    line_no = long_line[0] + 1
                    long_line = None
                    out = out[cut + 1 :]
                buf += out
                if len(buf) < self.block_bytes:
                    continue
                cut = buf.rfind(b"\n")
                if cut < 0:
                    long_line = (line_no, len(buf), bytes(buf[:EXCERPT_CHARS]))
                    buf = bytearray()
                    continue
                block, buf = bytes(buf[: cut + 1]), buf[cut + 1 :]
                result = self._block(block, line_no, final=False)
                line_no += result.lines.height + result.bad.height
                yield result
        if long_line is not None:
            yield self._long_block(long_line[0], long_line[1], long_line[2])
            line_no = long_line[0] + 1
        if buf:
            result = self._block(bytes(buf), line_no, final=True)
            line_no += result.lines.height + result.bad.height
            yield result
        stats.lines = line_no - 1

    def _too_long(self) -> str:
        return f"line longer than the limit of {self.max_line_bytes} bytes (--max-line-bytes)"

    def _long_block(self, number: int, length: int, excerpt: bytes) -> Block:
        bad = pl.DataFrame(
            {
                "source_line": [number],
                "reason": [
                    f"line longer than the limit of {self.max_line_bytes} bytes (--max-line-bytes)"
                ],
                "excerpt": [excerpt.decode("utf-8", "replace")[:EXCERPT_CHARS]],
                "line_length": [length],
            },
            schema=BAD_SCHEMA,
        )
        return Block(pl.DataFrame(schema=LINE_SCHEMA), bad)

    def _block(self, data: bytes, first: int, final: bool) -> Block:
        truncated = final and bool(self.stats.problems) and not data.endswith(b"\n")
        if data.endswith(b"\n"):
            data = data[:-1]
        try:
            texts: list[str | None] = list(data.decode("utf-8").split("\n"))
        except UnicodeDecodeError:
            texts = _decode_lines(data)
        n = len(texts)
        frame = pl.DataFrame(
            {
                "source_line": pl.int_range(first, first + n, eager=True),
                "line": pl.Series(texts, dtype=pl.String),
            }
        ).with_columns(pl.col("line").str.strip_suffix("\r"))
        length = pl.col("line").str.len_bytes()
        cases: list[tuple[pl.Expr, str]] = [(pl.col("line").is_null(), "invalid UTF-8")]
        if b"\x00" in data:
            cases.append(
                (pl.col("line").str.contains("\x00", literal=True), "binary data (NUL byte)")
            )
        cases.append((length > self.max_line_bytes, self._too_long()))
        if truncated:
            cases.append(
                (
                    pl.col("source_line") == first + n - 1,
                    "incomplete last line: the compressed stream is truncated",
                )
            )
        frame = frame.with_columns(first_reason(cases).alias("reason"))
        bad = frame.filter(pl.col("reason").is_not_null())
        if bad.height:
            raw_lines = data.split(b"\n")
            bad = bad.with_columns(
                pl.Series(
                    "excerpt",
                    [
                        raw_lines[i - first].decode("utf-8", "replace")[:EXCERPT_CHARS]
                        for i in bad["source_line"]
                    ],
                    dtype=pl.String,
                ),
                pl.Series(
                    "line_length",
                    [len(raw_lines[i - first]) for i in bad["source_line"]],
                    dtype=pl.Int64,
                ),
            ).select(BAD_SCHEMA.names())
            good = frame.filter(pl.col("reason").is_null()).select(LINE_SCHEMA.names())
        else:
            bad = pl.DataFrame(schema=BAD_SCHEMA)
            good = frame.select(LINE_SCHEMA.names())
        return Block(good, bad)


def _decode_lines(data: bytes) -> list[str | None]:
    """Fallback for a block that is not valid UTF-8: decode line by line (None where invalid)."""
    texts: list[str | None] = []
    for raw in data.split(b"\n"):
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(None)
    return texts


def _mostly_undecodable(head: bytes) -> bool:
    if not head:
        return False
    text = head.decode("utf-8", "replace")
    bad = text.count("\ufffd") + sum(
        1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v\x1b"
    )
    return bad > len(text) * 0.3
