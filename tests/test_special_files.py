"""Special inputs: FIFOs and process substitution read once, devices, links, duplicates, limits."""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from timeline.errors import InputError
from timeline.ingest import discover
from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, BuildReport, build

NGINX = '203.0.113.{n} - - [02/Mar/2025:10:15:{s:02d} +0000] "GET /v1/models HTTP/1.1" 200 15 "-" "curl/8.5.0"\n'


def _lines(count: int) -> bytes:
    return "".join(NGINX.format(n=i % 250, s=i % 60) for i in range(count)).encode()


def _build(inputs: list[str], out: Path, **options: object) -> BuildReport:
    settings = BuildOptions(outdir=out, correlate=False, **options)  # type: ignore[arg-type]
    return build(inputs, default_registry(plugins=False), settings)


@contextlib.contextmanager
def _unblocking(fifo: Path, seconds: float = 10.0) -> Iterator[None]:
    """Whenever the code under test waits to open ``fifo`` for ``seconds``, give it an end of file
    (so that a regression fails instead of hanging)."""
    stop = threading.Event()

    def release() -> None:
        while not stop.wait(seconds):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _writer(target: Path | int, data: bytes) -> threading.Thread:
    def write() -> None:
        if isinstance(target, int):
            with os.fdopen(target, "wb") as handle:
                handle.write(data)
        else:
            with target.open("wb") as handle:
                handle.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_a_fifo_named_on_the_command_line_is_read_once_whole(tmp_path: Path) -> None:
    fifo = tmp_path / "live.log"
    os.mkfifo(fifo)
    writer = _writer(fifo, gzip.compress(_lines(300)))
    with _unblocking(fifo):
        report = _build([str(fifo)], tmp_path / "out")
    writer.join(5)
    (account,) = report.accounts
    assert (account.lines_read, account.events, account.compression) == (300, 300, "gzip")


def test_process_substitution_works_like_a_file(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    writer = _writer(write_end, gzip.compress(_lines(120)))
    try:
        report = _build([f"/dev/fd/{read_end}"], tmp_path / "out")
    finally:
        writer.join(5)
        os.close(read_end)
    (account,) = report.accounts
    assert account.source_file == f"/dev/fd/{read_end}"
    assert (account.lines_read, account.events) == (120, 120)


def test_a_fifo_in_a_folder_is_skipped_with_a_reason_and_never_hangs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_bytes(_lines(4))
    os.mkfifo(logs / "pipe.log")
    with _unblocking(logs / "pipe.log", 5):
        report = _build([str(logs)], tmp_path / "out")
    assert [a.source_file for a in report.accounts] == [f"{logs}/a.log"]
    assert report.warnings == [
        f"skipped {logs}/pipe.log: a FIFO (named pipe) met in a folder walk "
        "(name it on the command line to read it)"
    ]


def test_walks_follow_links_once_and_report_dangling_ones(tmp_path: Path) -> None:
    logs, elsewhere = tmp_path / "logs", tmp_path / "elsewhere"
    logs.mkdir()
    elsewhere.mkdir()
    (elsewhere / "linked.log").write_bytes(_lines(2))
    (logs / "a.log").write_bytes(_lines(3))
    (logs / "sub").symlink_to(elsewhere, target_is_directory=True)
    (logs / "loop").symlink_to(logs, target_is_directory=True)
    (logs / "gone.log").symlink_to(tmp_path / "missing.log")
    (logs / "zero.log").symlink_to("/dev/zero")
    found = discover.discover_inputs([str(logs)])
    assert [f.display for f in found.files] == [f"{logs}/a.log", f"{logs}/sub/linked.log"]
    assert found.skipped == [
        (f"{logs}/gone.log", "dangling symbolic link (no target)"),
        (
            f"{logs}/zero.log",
            "a character device met in a folder walk (name it on the command line to read it)",
        ),
        (f"{logs}/loop", "a folder already read (a symbolic link loop)"),
    ]
    report = _build([str(logs)], tmp_path / "out")
    assert sum(a.events for a in report.accounts) == 5
    assert len(report.warnings) == 3


def test_an_endless_source_stops_at_the_read_limit(tmp_path: Path) -> None:
    report = _build(["/dev/zero"], tmp_path / "out", max_file_bytes=1 << 20)
    (account,) = report.accounts
    assert account.size == 1 << 20
    assert account.lines_read == account.lines_rejected == 1
    assert any("read stopped at the limit of 1048576 bytes" in n for n in account.notes)


def test_a_line_the_read_limit_cuts_is_a_reject(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_bytes(_lines(100))
    limit = len(NGINX) * 10 + 5
    report = _build([str(log)], tmp_path / "out", max_file_bytes=limit)
    (account,) = report.accounts
    assert (account.lines_read, account.events, account.lines_rejected) == (11, 10, 1)
    rejects = pl.read_parquet(tmp_path / "out" / "rejects.parquet")
    assert rejects["reason"].to_list() == [
        f"the read limit of {limit} bytes (--max-file-bytes) cut this line"
    ]


def test_the_same_content_under_two_compressions_counts_once(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_bytes(_lines(6))
    (tmp_path / "in" / "a.log.gz").write_bytes(gzip.compress(_lines(6)))
    report = _build([str(tmp_path / "in")], tmp_path / "out")
    plain, packed = report.accounts
    assert (plain.events, packed.events) == (6, 0)
    assert packed.skipped_by_reason == {f"duplicate input (same content as {tmp_path}/in/a.log)": 6}


def test_a_socket_named_on_the_command_line_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(InputError, match="a socket is not a log file"):
            discover.discover_inputs([str(path)])
