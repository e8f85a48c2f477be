"""The streaming reader: compression, hashing, bad bytes, long lines."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from pathlib import Path

import polars as pl
import pytest

from timeline.ingest.reader import HEAD_BYTES, HOLE_REASON, NUL_REASON, InputReader


def _read(
    path: Path, max_line_bytes: int = 1 << 20
) -> tuple[pl.DataFrame, pl.DataFrame, InputReader]:
    reader = InputReader(path, path.name, max_line_bytes)
    blocks = list(reader.blocks())
    lines = pl.concat([b.lines for b in blocks]) if blocks else pl.DataFrame()
    bad = pl.concat([b.bad for b in blocks]) if blocks else pl.DataFrame()
    return lines, bad, reader


TEXT = b"first\r\nsecond\n\nfourth"


@pytest.mark.parametrize(
    ("name", "compress", "kind"),
    [
        ("plain.log", lambda b: b, None),
        ("x.gz", gzip.compress, "gzip"),
        ("no-extension", gzip.compress, "gzip"),
        ("x.bz2", bz2.compress, "bzip2"),
        ("x.xz", lzma.compress, "xz"),
    ],
)
def test_lines_are_numbered_and_compression_is_found_by_magic(
    tmp_path: Path, name: str, compress: object, kind: str | None
) -> None:
    data = compress(TEXT)  # type: ignore[operator]
    path = tmp_path / name
    path.write_bytes(data)
    lines, bad, reader = _read(path)
    assert lines.rows() == [(1, "first"), (2, "second"), (3, ""), (4, "fourth")]
    assert bad.height == 0
    assert reader.stats.lines == 4
    assert reader.stats.compression == kind
    assert reader.stats.sha256 == hashlib.sha256(data).hexdigest()
    assert reader.stats.size == len(data)


def test_multi_member_gzip_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "rotated.gz"
    path.write_bytes(gzip.compress(b"a\nb\n") + gzip.compress(b"c\n"))
    lines, _, _ = _read(path)
    assert lines["line"].to_list() == ["a", "b", "c"]


def test_truncated_gzip_keeps_what_was_read_and_says_so(tmp_path: Path) -> None:
    payload = b"".join(b"line %d with some padding text to compress\n" % i for i in range(2000))
    data = gzip.compress(payload)
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    lines, bad, reader = _read(path)
    assert reader.stats.problems and reader.stats.problems[0].startswith(
        "truncated gzip stream: it ends after"
    )
    assert lines.height > 100
    assert bad["reason"].to_list() == ["incomplete last line: the compressed stream is truncated"]
    assert reader.stats.lines == lines.height + bad.height


def test_invalid_utf8_nul_and_long_lines_are_rejected_with_reasons(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    long_line = b"x" * 5000
    path.write_bytes(b"ok\n\xff\xfe broken\nnul\x00here\n" + long_line + b"\nend\n")
    lines, bad, reader = _read(path, max_line_bytes=1024)
    assert lines.rows() == [(1, "ok"), (5, "end")]
    assert bad.select("source_line", "reason", "line_length").rows() == [
        (2, "invalid UTF-8", 9),
        (3, "binary data (NUL byte)", 8),
        (4, "line longer than the limit of 1024 bytes (--max-line-bytes)", 5000),
    ]
    assert bad["excerpt"][0] == "\ufffd\ufffd broken"
    assert reader.stats.lines == 5


def test_a_line_longer_than_a_block_streams_without_holding_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import timeline.ingest.reader as reader_module

    monkeypatch.setattr(reader_module, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(reader_module, "READ_BYTES", 1024)
    path = tmp_path / "huge.log"
    path.write_bytes(b"a\n" + b"y" * 50_000 + b"\nb\n")
    lines, bad, reader = _read(path, max_line_bytes=1024)
    assert lines.rows() == [(1, "a"), (3, "b")]
    assert bad.select("source_line", "line_length").rows() == [(2, 50_000)]
    assert reader.stats.lines == 3


def test_empty_file_has_no_lines(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    lines, bad, reader = _read(path)
    assert lines.height == 0 and bad.height == 0
    assert reader.stats.lines == 0
    # No lines to detect a format on: "binary" (a job of no lines) rather than a detection error.
    reader = InputReader(path, "empty.log")
    sample, binary = reader.head()
    assert sample.lines == () and binary
    assert reader.binary_note == "empty file: no lines"


def test_head_flags_binary_files(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    _, binary = InputReader(path, "image.png").head()
    assert binary


def test_head_is_binary_only_when_most_lines_are_not_text(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    lines = [b"line %d" % i for i in range(10)]
    lines[3] = b"nul\x00here"
    lines[6] = b"\xff\xfe bad"
    path.write_bytes(b"\n".join(lines) + b"\n")
    reader = InputReader(path, "access.log")
    sample, binary = reader.head()
    assert not binary and reader.binary_note is None
    assert sample.lines == tuple(f"line {i}" for i in range(10) if i not in (3, 6))
    path.write_bytes(b"\n".join([b"\x01\x02\x03\x04 %d" % i for i in range(3)] + lines[:1]))
    reader = InputReader(path, "access.log")
    assert reader.head()[1]
    assert reader.binary_note == (
        "treated as binary (not a text log): 3 of the 4 lines read to sniff it (75%) are not text"
        " (NUL bytes, invalid UTF-8 or control characters)"
    )
    _, bad, _ = _read_after_head(reader)
    assert reader.stats.problems == [reader.binary_note]
    # a binary file's last line without a newline is not a torn compressed stream
    assert "incomplete last line: the compressed stream is truncated" not in bad["reason"]


def _read_after_head(reader: InputReader) -> tuple[pl.DataFrame, pl.DataFrame, InputReader]:
    blocks = list(reader.blocks())
    return pl.concat([b.lines for b in blocks]), pl.concat([b.bad for b in blocks]), reader


def test_a_copytruncate_hole_is_dropped_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import timeline.ingest.reader as reader_module

    monkeypatch.setattr(reader_module, "READ_BYTES", 1024)
    path = tmp_path / "rotated.log"
    path.write_bytes(b"\x00" * (HEAD_BYTES * 3) + b"first\nsecond\n")
    reader = InputReader(path, "rotated.log")
    sample, binary = reader.head()
    assert sample.lines == ("first", "second") and not binary
    lines, bad, _ = _read_after_head(reader)
    assert lines.rows() == [(1, "first"), (2, "second")]
    assert bad.height == 0
    assert reader.stats.lines == 2
    assert reader.stats.problems == [
        f"the file starts with {HEAD_BYTES * 3} NUL bytes, the hole copytruncate rotation leaves:"
        " they were dropped and line 1 is the text after them"
    ]


@pytest.mark.parametrize(
    ("data", "good", "holes"),
    [
        (b"\x00" * 10 + b"\r\nfirst\n", [(2, "first")], [(1, HOLE_REASON, 10)]),
        (b"\x00" * 10, [], [(1, HOLE_REASON, 10)]),
        (b"ok\n\x00\x00late hole\n", [(1, "ok")], [(2, NUL_REASON, 11)]),
    ],
)
def test_a_hole_alone_on_its_line_is_one_reject(
    tmp_path: Path,
    data: bytes,
    good: list[tuple[int, str]],
    holes: list[tuple[int, str, int]],
) -> None:
    path = tmp_path / "hole.log"
    path.write_bytes(data)
    lines, bad, reader = _read(path)
    assert lines.rows() == good
    assert bad.select("source_line", "reason", "line_length").rows() == holes
    assert reader.stats.lines == len(good) + len(holes)


def test_a_binary_file_keeps_its_leading_nul_bytes(tmp_path: Path) -> None:
    path = tmp_path / "capture.bin"
    path.write_bytes(b"\x00\x01\x02\n\x00\x05\x06\n")
    reader = InputReader(path, "capture.bin")
    assert reader.head()[1]
    _, bad, _ = _read_after_head(reader)
    assert bad["reason"].to_list() == [NUL_REASON, NUL_REASON]
