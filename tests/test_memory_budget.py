"""The memory budget of correlation: sizes, the machine's default, the plan, in-memory partitions,
and the same bytes whether correlation runs in memory or out of core."""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from tests.cli_helpers import run_cli
from timeline.correlation.budget import (
    DEFAULT_CAP,
    FALLBACK_BUDGET,
    MEMORY_PART_EVENTS,
    MIN_PART_EVENTS,
    default_budget,
    format_size,
    parse_size,
    plan,
    resolve_budget,
)
from timeline.correlation.config import CorrelationConfig
from timeline.correlation.pipeline import layout_for
from timeline.correlation.run import correlate_outdir
from timeline.correlation.spill import Spill
from timeline.errors import ConfigError
from timeline.io.eventsfile import EventsFile
from timeline.parse.registry import default_registry
from timeline.pipeline import api
from timeline.pipeline.build import BuildOptions, build
from timeline.scenarios.generate import write_scenario


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2G", 2 << 30),
        ("512M", 512 << 20),
        ("512m", 512 << 20),
        ("1.5GiB", 3 << 29),
        ("64 KB", 64 << 10),
        ("300000", 300_000),
        ("1T", 1 << 40),
    ],
)
def test_sizes_are_read_with_binary_suffixes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "-1G", "0", "2X", "1e9", "two gigs", "1.5.2G"])
def test_a_bad_size_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_sizes_print_for_people() -> None:
    assert format_size(512) == "512 B"
    assert format_size(3 << 29) == "1.5 GiB"


def test_the_default_is_half_of_the_available_memory_at_most_the_cap(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       8000000 kB\nMemAvailable:   3000000 kB\n")
    assert default_budget(meminfo) == 1_500_000 * 1024
    meminfo.write_text("MemTotal:       64000000 kB\nMemAvailable:   40000000 kB\n")
    assert default_budget(meminfo) == DEFAULT_CAP
    assert resolve_budget(None) == default_budget()
    assert resolve_budget("1G") == 1 << 30
    assert resolve_budget(12345) == 12345


def test_without_meminfo_the_default_is_the_fallback_or_the_system_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-meminfo"
    assert default_budget(missing) > 0

    def unknown(name: str) -> int:
        raise ValueError(name)

    monkeypatch.setattr(os, "sysconf", unknown)
    assert default_budget(missing) == FALLBACK_BUDGET
    garbled = tmp_path / "meminfo"
    garbled.write_bytes(b"\xff\xfe nonsense\n")
    assert default_budget(garbled) == FALLBACK_BUDGET


def test_the_plan_is_in_memory_when_the_working_set_fits() -> None:
    fits = plan(1_000_000, 400.0, 8 << 30)
    assert fits.in_memory and fits.part_events == MEMORY_PART_EVENTS
    assert fits.working_set <= fits.budget
    spilled = plan(10_000_000, 400.0, 1 << 30)
    assert not spilled.in_memory
    assert MIN_PART_EVENTS <= spilled.part_events < 10_000_000
    # a bigger budget gives bigger partitions out of core, never smaller
    bigger = plan(10_000_000, 400.0, 2 << 30)
    assert bigger.part_events >= spilled.part_events
    assert plan(10, 400.0, 1).part_events == MIN_PART_EVENTS
    # partitions worked on at once share the budget: more workers, smaller partitions
    two = plan(10_000_000, 400.0, 2 << 30, workers=2)
    assert not two.in_memory and two.part_events < bigger.part_events
    assert plan(10_000_000, 400.0, 2 << 30, workers=4).part_events < two.part_events
    assert plan(0, 0.0, 1).in_memory  # nothing to hold


def _frames() -> pl.DataFrame:
    return pl.DataFrame(
        {"row": list(range(200)), "text": [f"value-{i % 17}" * (i % 5) for i in range(200)]},
        schema={"row": pl.Int64, "text": pl.String},
    )


def test_a_spill_in_memory_reads_as_the_files_do(tmp_path: Path) -> None:
    frame = _frames()
    schema = pl.Schema(frame.schema)
    on_disk = Spill(tmp_path, "t", 5, schema, buffer_bytes=1 << 10)
    in_memory = Spill(None, "t", 5, schema, buffer_bytes=1 << 10)
    for spill in (on_disk, in_memory):
        for start in range(0, 200, 30):
            piece = frame.slice(start, 30)
            spill.write(piece, piece["row"] % 5)
        spill.write(frame.head(3), 2)
    assert any(tmp_path.iterdir())
    for part in range(5):
        assert in_memory.read(part).equals(on_disk.read(part))
        assert in_memory.read(part).equals(in_memory.read(part))  # read as often as needed
    assert in_memory.read(7).equals(on_disk.read(7))  # no such partition: empty
    assert in_memory.in_memory and not on_disk.in_memory
    with pytest.raises(ValueError):
        in_memory.path(0)
    in_memory.release(1)
    assert in_memory.read(1).height == 0
    on_disk.drop()
    in_memory.drop()
    assert not any(tmp_path.iterdir())
    assert in_memory.read(0).height == 0


@cache
def _built() -> Path:
    """A small scenario's events.parquet, built once (copied by each test)."""
    base = Path(tempfile.mkdtemp(prefix="tl-budget-"))
    write_scenario("clock_skew_forwarded_ids", base / "sc", 25, seed=4)
    out = base / "out"
    build(
        [str(base / "sc" / "logs")],
        default_registry(plugins=False),
        BuildOptions(outdir=out, correlate=False),
    )
    return out


@pytest.mark.parametrize(
    ("buckets", "budget", "workers"),
    [(0, "1", 2), (3, "1", 3), (5, 8 << 30, 4), (2, "64K", 1), (7, 8 << 30, 2)],
)
def test_in_memory_and_out_of_core_write_the_same_bytes(
    tmp_path: Path, buckets: int, budget: int | str, workers: int
) -> None:
    """Byte for byte: the timeline and the requests do not depend on where partitions live, how
    many there are (the row groups are cut the same way whatever the partitions) or how many
    are worked on at once."""
    base = tmp_path / "memory"
    other = tmp_path / "other"
    shutil.copytree(_built(), base)
    shutil.copytree(_built(), other)
    assert layout_for(EventsFile.parquet(base / "events.parquet"), 0, 8 << 30).in_memory
    assert not layout_for(EventsFile.parquet(base / "events.parquet"), 0, 1).in_memory
    one = correlate_outdir(
        base, "events.parquet", CorrelationConfig(), memory_budget="8G", workers=1
    )
    two = correlate_outdir(
        other,
        "events.parquet",
        CorrelationConfig(),
        buckets=buckets,
        memory_budget=budget,
        workers=workers,
    )
    assert one.to_dict() == two.to_dict()
    for name in ("timeline.parquet", "requests.parquet", "correlation.json"):
        assert (base / name).read_bytes() == (other / name).read_bytes(), name
    assert sorted(p.name for p in base.iterdir()) == sorted(p.name for p in other.iterdir())


def test_out_of_core_writes_no_file_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outdir = tmp_path / "out"
    shutil.copytree(_built(), outdir)
    flushed: list[str] = []
    real = Spill._flush

    def spy(self: Spill, part: int) -> None:
        if self._pending[part] and not self.in_memory:
            flushed.append(self.name)
        real(self, part)

    monkeypatch.setattr(Spill, "_flush", spy)
    correlate_outdir(outdir, "events.parquet", CorrelationConfig(), memory_budget="8G")
    assert flushed == []
    correlate_outdir(outdir, "events.parquet", CorrelationConfig(), memory_budget=1)
    assert "edges" in flushed and "ranges" in flushed


def test_the_budget_reaches_correlation_from_the_api_and_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdir = tmp_path / "out"
    shutil.copytree(_built(), outdir)
    report = api.correlate(outdir, memory_budget="512M")
    assert report.requests > 0
    with pytest.raises(ConfigError, match="memory budget"):
        api.correlate(outdir, memory_budget="lots")
    result = run_cli(capsys, "correlate", str(outdir), "--memory-budget", "64M")
    assert result.code == 0, result.err
    result = run_cli(capsys, "correlate", str(outdir), "--memory-budget", "lots")
    assert result.code == 1
    assert "memory budget: 'lots' is not a size" in result.err
