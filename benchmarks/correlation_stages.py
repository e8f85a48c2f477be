"""Where correlation's time goes: wall, CPU and memory of each of its stages.

    python -m benchmarks.correlation_stages EVENTS [--scratch] [--budget 2G] [--workers N]

``EVENTS`` is an events table: the ``events.parquet`` of a ``timeline build --no-correlate``
(input order, as a build correlates) or a ``timeline.parquet``. It is copied to a temporary
folder beside it and correlated there (``timeline.correlation.run.correlate_outdir``, the code
``timeline build`` and ``timeline correlate`` run), so the folder it came from is not changed.
With ``--scratch`` the copy is the build's Arrow IPC scratch file instead of Parquet, which is
what a correlated ``timeline build`` reads. The stages are those of
``timeline.correlation.pipeline``; CPU seconds count every thread of the process
(``resource.getrusage``), and the memory column is the process's resident set as the stage ends.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from timeline.correlation.config import CorrelationConfig
from timeline.correlation.run import correlate_outdir
from timeline.io.eventsfile import SCRATCH_SUFFIX, EventsFile, write_scratch
from timeline.io.parquet import read_metadata
from timeline.schema import ARROW_SCHEMA


@dataclass
class Stage:
    """One stage's figures."""

    name: str
    wall_s: float
    cpu_s: float
    rss_mb: float

    @property
    def cores(self) -> float:
        """CPU seconds per wall second."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    """The resident set now (``/proc/self/status``), else the peak so far."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """The ``on_stage`` hook: closes the running stage and opens the next."""

    def __init__(self) -> None:
        self.stages: list[Stage] = []
        self._open: tuple[str, float, float] | None = None

    def __call__(self, name: str) -> None:
        now, cpu = time.perf_counter(), _cpu()
        if self._open is not None:
            label, start, cpu_start = self._open
            self.stages.append(Stage(label, now - start, cpu - cpu_start, _rss_mb()))
        self._open = None if name == "done" else (name, now, cpu)


def _batches(path: Path) -> Iterator[pa.Table]:
    source = pq.ParquetFile(path)
    for group in range(source.num_row_groups):
        yield source.read_row_group(group).cast(ARROW_SCHEMA)


def stage_copy(source: Path, folder: Path, scratch: bool) -> EventsFile:
    """``source`` copied into ``folder``: as Parquet, or as the build's scratch file."""
    if not scratch:
        target = folder / "events.parquet"
        shutil.copyfile(source, target)
        return EventsFile.parquet(target)
    return write_scratch(
        folder / f"events{SCRATCH_SUFFIX}", ARROW_SCHEMA, _batches(source), read_metadata(source)
    )


def table(stages: Sequence[Stage]) -> str:
    """The stages as a Markdown table, with a total row."""
    lines = [
        "| stage | wall s | CPU s | cores | RSS at end MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in stages:
        lines.append(
            f"| {s.name} | {s.wall_s:.1f} | {s.cpu_s:.1f} | {s.cores:.2f} | {s.rss_mb:,.0f} |"
        )
    wall, cpu = sum(s.wall_s for s in stages), sum(s.cpu_s for s in stages)
    lines.append(f"| total | {wall:.1f} | {cpu:.1f} | {cpu / max(wall, 1e-9):.2f} | |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Correlate a copy of an events table and print each stage's figures."""
    ap = argparse.ArgumentParser(description="Wall, CPU and memory of each correlation stage.")
    ap.add_argument("events", type=Path, help="events.parquet or timeline.parquet")
    ap.add_argument("--scratch", action="store_true", help="read it as a build does (Arrow IPC)")
    ap.add_argument("--budget", default=None, help="memory budget, e.g. 2G (default: as a build)")
    ap.add_argument("--workers", type=int, default=0, help="partitions at once (0: as a build)")
    ap.add_argument("--results", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args(argv)
    if not args.events.is_file():
        print(f"error: {args.events} is not a file; give an events.parquet", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="corr-stages-", dir=args.events.parent) as tmp:
        folder = Path(tmp)
        events = stage_copy(args.events, folder, args.scratch)
        timer = Timer()
        started = time.perf_counter()
        report = correlate_outdir(
            folder,
            events,
            CorrelationConfig(),
            memory_budget=args.budget,
            workers=args.workers,
            on_stage=timer,
        )
        wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{events.rows:,} events, {report.requests:,} requests; correlation {wall:.1f} s wall")
    print(table(timer.stages))
    print(f"peak RSS of the process (copy included): {peak:,.0f} MB")
    if args.results is not None:
        payload = {
            "events": str(args.events),
            "rows": events.rows,
            "scratch": args.scratch,
            "budget": args.budget,
            "workers": args.workers,
            "wall_s": round(wall, 2),
            "peak_rss_mb": round(peak),
            "stages": [asdict(s) | {"cores": round(s.cores, 2)} for s in timer.stages],
        }
        args.results.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
