"""The output folder is one build: swap-in, lock, leftovers, build ids, umask, output errors."""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import timeline
import timeline.pipeline.plan as plan_module
from tests.cli_helpers import run_cli
from timeline.errors import InputError, OutputError
from timeline.io.parquet import read_metadata
from timeline.layout import APPENDIX, POSTMORTEM

NGINX = '203.0.113.{n} - - [02/Mar/2025:10:15:{s:02d} +0000] "GET /v1/models HTTP/1.1" 200 15 "-" "curl/8.5.0"\n'
BUILD_ID = "build_id"  # timeline.layout.BUILD_ID (spelled out: the tests also run on older code)
DEAD_PID = 4194305  # above the largest pid_max Linux allows: never a live process


def _log(path: Path, count: int = 5, start: int = 0) -> Path:
    path.write_text("".join(NGINX.format(n=i, s=(start + i) % 60) for i in range(count)))
    return path


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_rebuild_without_correlation_leaves_no_old_timeline_or_appendix(tmp_path: Path) -> None:
    out = tmp_path / "out"
    timeline.build([_log(tmp_path / "old.log")], out, report=False)
    timeline.report(out, formats=("md",), template=True)
    assert (out / "timeline.parquet").is_file() and (out / POSTMORTEM).is_file()
    timeline.build([_log(tmp_path / "new.log", 3, 30)], out, correlate=False)
    assert _names(out) == ["build.json", "events.parquet", "rejects.parquet"]
    assert APPENDIX["md"] not in _names(out) and POSTMORTEM not in _names(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_correlating_again_removes_the_appendix_of_the_earlier_correlation(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    timeline.build([_log(tmp_path / "a.log")], out)
    timeline.report(out, formats=("md",), template=True)
    assert APPENDIX["md"] in _names(out) and POSTMORTEM in _names(out)
    timeline.correlate(out)
    assert [n for n in _names(out) if n.startswith("appendix")] == []
    assert "timeline.parquet" in _names(out)


def test_every_table_carries_the_build_id_and_report_refuses_a_mix(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    timeline.build([_log(tmp_path / "a.log")], first, report=False)
    timeline.build([_log(tmp_path / "b.log", 4, 20)], second, report=False)
    build_id = json.loads((first / "build.json").read_text())[BUILD_ID]
    for name in ("rejects", "timeline", "requests"):
        assert read_metadata(first / f"{name}.parquet")[BUILD_ID] == build_id, name
    assert build_id != json.loads((second / "build.json").read_text())[BUILD_ID]
    shutil.copy(second / "timeline.parquet", first / "timeline.parquet")
    with pytest.raises(InputError, match=r"holds tables of different builds .*timeline\.parquet"):
        timeline.report(first)
    with pytest.raises(InputError, match="different builds"):
        timeline.correlate(first)


def test_a_second_concurrent_build_fails_at_once_and_the_first_completes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    log = _log(tmp_path / "a.log")
    timeline.build([log], out, correlate=False)
    inside, release = threading.Event(), threading.Event()
    real_plan = plan_module.plan
    failures: list[BaseException] = []

    def slow_plan(*args: object, **kwargs: object) -> object:
        if threading.current_thread() is not threading.main_thread():
            inside.set()
            release.wait(10)
        return real_plan(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("timeline.pipeline.build.plan", slow_plan)

    def first() -> None:
        try:
            timeline.build([log], out, report=False)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    worker = threading.Thread(target=first)
    worker.start()
    try:
        assert inside.wait(10)
        r = run_cli(capsys, "build", str(log), "-o", str(out))
        assert r.code == 1
        assert r.err.count("\n") == 1
        assert "is being written by another timeline build" in r.err
        with pytest.raises(OutputError, match="being written"):
            timeline.report(out)
    finally:
        release.set()
        worker.join(20)
    assert not failures
    assert "timeline.parquet" in _names(out)
    assert pq.read_table(out / "timeline.parquet").num_rows == 5


def test_leftovers_of_crashed_runs_are_cleaned_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    timeline.build([_log(tmp_path / "a.log")], out, report=False)
    stale = tmp_path / f".out.building-{DEAD_PID}-dead"
    (stale / ".parts-x").mkdir(parents=True)
    live = tmp_path / f".out.building-{os.getppid()}-live"  # a live process: left alone
    live.mkdir()
    for scratch in (".parts-abc", ".correlate-def"):
        (out / scratch).mkdir()
        (out / scratch / "part.arrow").write_bytes(b"x" * 1000)
    (out / ".events.parquet.k2j3.tmp").write_bytes(b"half")
    timeline.report(out, formats=("md",))
    assert not [n for n in _names(out) if n.startswith(".")]
    assert not stale.exists() and live.exists()
    (out / ".timeline.parquet.zz.tmp").write_bytes(b"half")
    timeline.build([tmp_path / "a.log"], out, report=False)
    assert not [n for n in _names(out) if n.startswith(".")]


def test_outputs_honour_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        timeline.build([_log(tmp_path / "a.log")], tmp_path / "out", report=False)
        timeline.report(tmp_path / "out", formats=("md",))
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "out").iterdir()}
    assert set(modes.values()) == {0o644}, modes


def test_a_folder_with_other_files_keeps_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    timeline.build([_log(tmp_path / "a.log")], out, report=False)
    (out / "notes.txt").write_text("mine")
    timeline.build([tmp_path / "a.log"], out, correlate=False)
    assert _names(out) == ["build.json", "events.parquet", "notes.txt", "rejects.parquet"]


def test_a_symlinked_output_folder_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    timeline.build([_log(tmp_path / "a.log")], real, report=False)
    link = tmp_path / "link"
    link.symlink_to(real)
    timeline.build([tmp_path / "a.log"], link, correlate=False)
    assert link.is_symlink()
    assert _names(real) == ["build.json", "events.parquet", "rejects.parquet"]


def test_a_full_disk_is_one_line_and_leaves_the_old_build(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    log = _log(tmp_path / "a.log")
    timeline.build([log], out, report=False)
    before = (out / "timeline.parquet").read_bytes()

    def full(*args: object, **kwargs: object) -> None:
        raise OSError("No space left on device (os error 28)")  # as polars says it

    monkeypatch.setattr("polars.DataFrame.write_ipc", full)
    r = run_cli(capsys, "build", str(log), "-o", str(out))
    assert r.code == 1
    assert r.err == (
        f"Error: cannot write {str(out)!r}: No space left on device; "
        "free some space or choose another -o\n"
    )
    assert (out / "timeline.parquet").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (errno.EACCES, "Permission denied"),
        (errno.EROFS, "Read-only file system"),
        (errno.EDQUOT, "Disk quota exceeded"),
    ],
)
def test_permission_and_read_only_errors_on_report_are_one_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    text: str,
) -> None:
    out = tmp_path / "out"
    timeline.build([_log(tmp_path / "a.log")], out, report=False)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(code, text)

    monkeypatch.setattr("timeline.export.write.write_text_atomic", refuse)
    r = run_cli(capsys, "report", str(out))
    assert r.code == 1
    assert r.err.startswith(f"Error: cannot write {str(out)!r}: {text}; ")
    assert r.err.count("\n") == 1


def test_the_lock_is_released_and_removed(tmp_path: Path) -> None:
    from timeline.io.outdir import locked  # here: the other tests also run on older code

    out = tmp_path / "out"
    out.mkdir()
    with locked(out):
        assert (tmp_path / ".out.lock").exists()
        with pytest.raises(OutputError, match="being written"), locked(out):
            pass
    assert not (tmp_path / ".out.lock").exists()
    with locked(out):
        pass
