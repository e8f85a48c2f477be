"""Read one input as blocks of numbered lines, streaming: decompression, hashing, decoding.

* Compression is recognised by magic bytes (gzip, also multi-member; bzip2; xz), not by name.
  A truncated stream keeps everything before the cut and reports it.
* The sha256 and size are of the file as stored (what ``sha256sum`` prints).
* Lines are split on ``\\n`` (a trailing ``\\r`` is dropped). A line that is not valid UTF-8,
  holds a NUL byte, or is longer than ``max_line_bytes`` becomes a reject; it is never decoded
  lossily and never silently dropped. The other lines of the file are read as usual.
* A run of NUL bytes at the very start of a text file is the hole ``copytruncate`` rotation leaves
  (the writer kept its offset past the truncation). It is dropped, streaming and of any length,
  with a note; line 1 is the text after it. A hole with no text after it on its line is one
  reject. NUL bytes anywhere else make their line a reject.
* :meth:`InputReader.head` calls a file binary only when most lines of its head are not text;
  the reason, with the fraction, becomes a note of the file's accounting.
* A byte-order mark is removed at read time, for every format: a UTF-8 BOM at the start of the
  stream (and at the start of any line, as concatenated files have them); a UTF-16 or UTF-32 BOM
  makes the stream decoded to UTF-8 (invalid data after it ends the file with a note).
* FIFOs and character devices (``<(zcat x.gz)``, ``/dev/stdin``) are read once, as streams: the
  head read to sniff the format is kept and replayed, never read a second time.
* At most ``max_file_bytes`` (``--max-file-bytes``) are read of one file: an endless source
  (``/dev/zero``) stops there, with a note, and a line the limit cuts is a reject.
* Memory is bounded by the block size plus the longest line kept.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import hashlib
import lzma
import re
import stat
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
DEFAULT_MAX_FILE_BYTES: Final = 64 << 30
STREAM_HEAD_BYTES: Final = 4 << 20  # raw bytes a stream's head may read (kept to be replayed)
UTF8_BOM: Final = b"\xef\xbb\xbf"
_WIDE_BOMS: Final = (  # (mark, name, codec of the text after it)
    (b"\xff\xfe\x00\x00", "UTF-32", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "UTF-32", "utf-32-be"),
    (b"\xff\xfe", "UTF-16", "utf-16-le"),
    (b"\xfe\xff", "UTF-16", "utf-16-be"),
)
BINARY_SHARE: Final = 0.5  # a head is binary when more than this share of its lines is not text
CONTROL_SHARE: Final = 0.3  # a line is not text when more than this share of it is control chars
NUL_REASON: Final = "binary data (NUL byte)"
HOLE_REASON: Final = "NUL bytes only (the hole copytruncate rotation leaves at the start of a file)"

_CONTROL: Final = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")

BAD_SCHEMA: Final = pl.Schema(
    {
        "source_line": pl.Int64(),
        "reason": pl.String(),
        "excerpt": pl.String(),
        "line_length": pl.Int64(),
    }
)


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


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
    problems: list[str] = field(default_factory=list)  # notes for the file's accounting
    truncated: bool = False  # the compressed stream ends early or is corrupt: the last line is torn
    cut_reason: str = "incomplete last line: the compressed stream is truncated"
    content_sha256: str = ""  # of the decompressed content (same content, other compression)
    limited: bool = False  # the read stopped at max_file_bytes


def _limit_reason(limit: int) -> str:
    return f"the read limit of {limit} bytes (--max-file-bytes) cut this line"


def _raw_chunks(
    handle: _Readable,
    stats: ReadStats,
    on_bytes: Callable[[int], None] | None,
    limit: int = DEFAULT_MAX_FILE_BYTES,
) -> Iterator[bytes]:
    digest = hashlib.sha256()
    while chunk := handle.read(min(READ_BYTES, limit - stats.size) or 1):
        if stats.size >= limit:  # one byte past the limit: the source goes on
            stats.limited = True
            stats.truncated = True
            stats.cut_reason = _limit_reason(limit)
            stats.problems.append(
                f"read stopped at the limit of {limit} bytes (--max-file-bytes): the rest of the"
                " input was not read (an endless source such as /dev/zero, or a larger file)"
            )
            break
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
        stats.content_sha256 = stats.sha256
        return
    digest = hashlib.sha256()
    try:
        for out in _decompress(kind, first, raw, stats):
            digest.update(out)
            yield out
    finally:
        stats.content_sha256 = digest.hexdigest()


def _decompress(kind: str, first: bytes, raw: Iterator[bytes], stats: ReadStats) -> Iterator[bytes]:
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
        stats.truncated = True
        stats.problems.append(
            f"corrupt {kind} data after {produced} decompressed bytes ({exc}); the rest of the file is unreadable"
        )
        for _ in raw:  # finish hashing the file
            pass
        return
    if not dec.eof:
        stats.truncated = True
        stats.problems.append(
            f"truncated {kind} stream: it ends after {produced} decompressed bytes"
        )


def _unmarked(chunks: Iterator[bytes], stats: ReadStats) -> Iterator[bytes]:
    """``chunks`` with a leading byte-order mark removed; UTF-16/32 (by their BOM) as UTF-8."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 4:
            break
    if head.startswith(UTF8_BOM):
        stats.problems.append("a UTF-8 byte-order mark at the start was removed")
        if rest := head[len(UTF8_BOM) :]:
            yield rest
        yield from chunks
        return
    wide = next((w for w in _WIDE_BOMS if head.startswith(w[0])), None)
    if wide is None:
        if head:
            yield head
        yield from chunks
        return
    bom, name, codec = wide
    stats.problems.append(f"{name} text (byte-order mark): decoded to UTF-8")
    decoder = codecs.getincrementaldecoder(codec)("strict")
    done = len(bom)  # bytes decoded before the current call, the decoder's pending ones aside
    pending = 0
    try:
        for chunk in _chain(head[len(bom) :], chunks):
            pending = len(decoder.getstate()[0])
            yield decoder.decode(chunk).encode("utf-8")
            done += len(chunk)
        yield decoder.decode(b"", final=True).encode("utf-8")
    except UnicodeDecodeError as exc:
        # Keep the text before the bad code unit; the line it tears becomes a reject.
        yield exc.object[: exc.start].decode(codec).encode("utf-8")
        stats.truncated = True
        stats.cut_reason = f"incomplete last line: invalid {name} data follows"
        stats.problems.append(
            f"invalid {name} data after {done - pending + exc.start} bytes ({exc.reason}); the"
            " rest of the file is unreadable"
        )
        for _ in chunks:  # finish hashing the file
            pass


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _text_stream(raw: Iterator[bytes], stats: ReadStats) -> Iterator[bytes]:
    """Decompressed, byte-order mark removed: the bytes that are split into lines."""
    return _unmarked(_decompressed(raw, stats), stats)


class _Replay:
    """A stream's handle that first returns the bytes its head already read."""

    def __init__(self, kept: bytes, handle: BinaryIO) -> None:
        self.kept = kept
        self.handle = handle

    def read(self, size: int) -> bytes:
        if self.kept:
            out, self.kept = self.kept[:size], self.kept[size:]
            return out
        return self.handle.read(size)


def is_stream(path: Path) -> bool:
    """A FIFO or a character device: read once, as a stream (its head is kept, not read again)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


class InputReader:
    """Streams one file as :class:`Block` objects; see the module docstring."""

    def __init__(
        self,
        path: Path,
        name: str,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        on_bytes: Callable[[int], None] | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> None:
        self.path = path
        self.name = name
        self.max_line_bytes = max_line_bytes
        self.max_file_bytes = max_file_bytes
        self.stream = is_stream(path)
        self._handle: BinaryIO | None = None  # a stream's, open from head() to the end of blocks()
        self._kept = bytearray()  # a stream's bytes that head() read, replayed by blocks()
        self.block_bytes = max(BLOCK_BYTES, 2 * max_line_bytes)
        self.on_bytes = on_bytes
        self.stats = ReadStats()
        self.binary_note: str | None = None  # set by head() when the file is mostly not text
        self.holes = True  # a leading run of NUL bytes is a hole (not when head() found binary)

    def _open(self) -> BinaryIO:
        try:
            return self.path.open("rb")
        except OSError as exc:
            raise InputError(f"cannot read {self.name!r}: {exc.strerror or exc}") from None

    @contextlib.contextmanager
    def _source(self, replay: bool) -> Iterator[_Readable]:
        """The file's bytes; a stream is opened once, and ``replay`` starts with what head() read."""
        if not self.stream:
            with self._open() as handle:
                yield handle
            return
        if self._handle is None:
            self._handle = self._open()
        if not replay:
            yield self._handle
            return
        try:
            yield _Replay(bytes(self._kept), self._handle)
        finally:
            self.close()

    def modified(self) -> float | None:
        """The file's modification time (seconds since the epoch), None when unknown."""
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def close(self) -> None:
        """Close a stream left open between head() and blocks() (a no-op for plain files)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._kept = bytearray()

    def _head_raw(self, handle: _Readable) -> Iterator[bytes]:
        limit = min(self.max_file_bytes, STREAM_HEAD_BYTES if self.stream else self.max_file_bytes)
        done = 0
        while done < limit and (chunk := handle.read(min(HEAD_BYTES, limit - done))):
            done += len(chunk)
            if self.stream:
                self._kept += chunk
            yield chunk

    def head(self) -> tuple[Sample, bool]:
        """A sample of the first text lines, and whether the file is mostly not text (binary).

        A leading run of NUL bytes (a copytruncate hole) is passed over first. Lines that hold a
        NUL byte, are not valid UTF-8 or are mostly control characters are left out of the sample;
        only when they are most of the head's lines is the file binary, and :attr:`binary_note`
        then says so with the fraction (:meth:`blocks` adds it to the file's notes). A file with
        no bytes (or only NUL bytes) is "binary" too, with a note: it has no lines to detect a
        format on, and must count as zero lines (or its one hole) rather than stop a build.
        """
        stats = ReadStats()
        buf = bytearray()
        hole = 0
        with self._source(replay=False) as handle:
            for out in _text_stream(self._head_raw(handle), stats):
                if not buf:
                    rest = out.lstrip(b"\x00")
                    hole += len(out) - len(rest)
                    out = rest
                buf += out
                if len(buf) >= HEAD_BYTES:
                    break
        if not buf:
            # Nothing to parse and nothing to sniff: "binary" makes it a file of no lines (or of
            # one reject, the hole) instead of a format that cannot be detected.
            self.binary_note = (
                f"no text: the file holds only {hole} NUL bytes (a copytruncate hole)"
                if hole
                else "empty file: no lines"
            )
            return Sample(self.name, ()), True
        cut = len(buf) >= HEAD_BYTES
        pieces = bytes(buf[:HEAD_BYTES]).split(b"\n")
        lines: list[str] = []
        total = not_text = 0
        for index, piece in enumerate(pieces):
            if not piece.strip():
                continue
            torn = cut and index == len(pieces) - 1
            decoded = _as_text(piece, torn)
            total += 1
            if decoded is None:
                not_text += 1
            elif not torn and len(lines) < SAMPLE_LINES and decoded.strip():
                lines.append(decoded)
        binary = total > 0 and not_text > total * BINARY_SHARE
        self.holes = not binary
        self.binary_note = (
            f"treated as binary (not a text log): {not_text} of the {total} lines read to sniff it"
            f" ({not_text / total:.0%}) are not text (NUL bytes, invalid UTF-8 or control characters)"
            if binary
            else None
        )
        return Sample(self.name, tuple(lines)), binary

    def blocks(self) -> Iterator[Block]:
        """Every line of the file, in blocks, numbered from 1."""
        stats = self.stats
        if self.binary_note is not None:
            stats.problems.append(self.binary_note)
        line_no = 1
        buf = bytearray()
        long_line: tuple[int, int, bytes] | None = (
            None  # (line number, length so far, excerpt bytes)
        )
        hole = 0  # NUL bytes at the start of the file
        leading = self.holes
        with self._source(replay=True) as handle:
            raw = _raw_chunks(handle, stats, self.on_bytes, self.max_file_bytes)
            for out in _text_stream(raw, stats):
                if leading:
                    rest = out.lstrip(b"\x00")
                    hole += len(out) - len(rest)
                    if not rest:
                        continue
                    leading = False
                    out = rest
                    if hole and out.startswith((b"\n", b"\r\n")):
                        yield self._hole_block(hole)
                        line_no = 2
                        out = out[out.index(b"\n") + 1 :]
                    elif hole:
                        stats.problems.append(
                            f"the file starts with {hole} NUL bytes, the hole copytruncate rotation"
                            " leaves: they were dropped and line 1 is the text after them"
                        )
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
                    if len(buf) <= self.max_line_bytes:
                        continue  # one line longer than a block, still within the limit
                    # no line end within a block and the limit: a line too long, streamed past
                    long_line = (line_no, len(buf), bytes(buf[:EXCERPT_CHARS]))
                    buf = bytearray()
                    continue
                block, buf = bytes(buf[: cut + 1]), buf[cut + 1 :]
                result = self._block(block, line_no, final=False)
                line_no += result.lines.height + result.bad.height
                yield result
        if leading and hole:
            yield self._hole_block(hole)
            line_no = 2
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

    def _hole_block(self, length: int) -> Block:
        bad = pl.DataFrame(
            {
                "source_line": [1],
                "reason": [HOLE_REASON],
                "excerpt": ["\x00" * min(length, EXCERPT_CHARS)],
                "line_length": [length],
            },
            schema=BAD_SCHEMA,
        )
        return Block(pl.DataFrame(schema=LINE_SCHEMA), bad)

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
        truncated = final and self.stats.truncated and not data.endswith(b"\n")
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
        )
        line = pl.col("line").str.strip_suffix("\r")
        if UTF8_BOM in data:  # a byte-order mark at the start of a line (concatenated files)
            line = line.str.strip_prefix("\ufeff")
        frame = frame.with_columns(line)
        length = pl.col("line").str.len_bytes()
        cases: list[tuple[pl.Expr, str]] = [(pl.col("line").is_null(), "invalid UTF-8")]
        if b"\x00" in data:
            cases.append((pl.col("line").str.contains("\x00", literal=True), NUL_REASON))
        cases.append((length > self.max_line_bytes, self._too_long()))
        if truncated:
            cases.append(
                (
                    pl.col("source_line") == first + n - 1,
                    self.stats.cut_reason,
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


def _as_text(raw: bytes, torn: bool) -> str | None:
    """``raw`` decoded if it is a line of text, else None: it holds a NUL byte, is not valid UTF-8,
    or is mostly control characters. ``torn``: the head cut it, maybe inside a character."""
    if b"\x00" in raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (torn and exc.start >= len(raw) - 3):
            return None
        text = raw[: exc.start].decode("utf-8")
    text = text.removesuffix("\r").removeprefix("\ufeff")
    if len(_CONTROL.findall(text)) > len(text) * CONTROL_SHARE:
        return None
    return text
