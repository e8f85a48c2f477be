"""The memory budget of correlation: sizes as people write them, the machine's default, and the
plan it leads to (in memory or out of core, and how many partitions).

Correlation runs the same stages either way (``timeline.correlation.pipeline``); the budget only
decides where the partitions live (``spill.Spill``: in memory, or in files on disk) and how big
they are. The result never depends on it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

FALLBACK_BUDGET: Final = 2 << 30  # when the machine cannot tell how much memory it has
# The default never asks for more than this: a build shares the machine (other builds, a
# notebook reading the outputs), and out of core a bigger budget buys little speed.
DEFAULT_CAP: Final = 2 << 30
MIN_BUDGET: Final = 16 << 20
# Sizes are Parquet's uncompressed bytes (``timeline.io.eventsfile.EventsFile.size``; the build's
# scratch file converts its Arrow bytes). Peak memory per byte of the events when correlating in
# memory: the events read and scattered
# with their correlation columns, the compact columns, the request inputs, a sorted copy of one
# partition and the Arrow copy being written. Measured on the benchmark corpus (600k events of 403
# Parquet bytes: 2.06 GB peak RSS, the process's own 0.1 GB included).
MEMORY_FACTOR: Final = 8.5
MEMORY_PART_EVENTS: Final = 200_000  # events per partition in memory (out of core: by budget)
# Out of core, one partition's events are held several times over (read, joined, sorted, the
# Arrow copy written) beside the spill buffers: a partition gets 1/SPILL_FACTOR of the budget.
# Measured at 1M requests (5.96M events of about 400 bytes): partitions of 200k events peaked at
# 2.5 GB, about 30x a partition's bytes once the process's own memory is counted; 40 keeps the
# default 2 GiB budget (133k events per partition) under it.
SPILL_FACTOR: Final = 40.0
# With several partitions worked on at once (``concurrent.ordered_map``), each further worker
# holds about half a partition's peak more (the stages' peaks do not coincide): a partition then
# gets 1/(SPILL_FACTOR * (1 + WORKER_SHARE * (workers - 1))) of the budget. Measured at 1M requests
# with 2 workers: 133k-event partitions peaked at 2.21 GB (1.79 GB with one worker), 89k-event
# ones at 1.79 GB.
WORKER_SHARE: Final = 0.5
MIN_PART_EVENTS: Final = 25_000
MAX_SPILL_PART_EVENTS: Final = 200_000

_UNITS: Final = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in ``text``: a number with an optional binary suffix (``2G``, ``512M``, ``1.5GiB``,
    ``300000``). Raises ``ValueError`` for anything else."""
    found = _SIZE.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a size such as 2G, 512M or 1048576")
    size = int(float(found.group(1)) * _UNITS[found.group(2).lower()])
    if size <= 0:
        raise ValueError(f"{text!r} is not a positive size")
    return size


def format_size(size: int) -> str:
    """``size`` bytes for people (``1.5 GiB``)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """The memory the machine can give without swapping (``MemAvailable``), or None if unknown."""
    try:
        text = meminfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        text = ""
    found = re.search(r"^MemAvailable:\s*(\d+)\s*kB", text, re.MULTILINE)
    if found is not None:
        return int(found.group(1)) * 1024
    try:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def default_budget(meminfo: Path = Path("/proc/meminfo")) -> int:
    """Half of the memory available now, at most ``DEFAULT_CAP`` (``FALLBACK_BUDGET`` when the
    machine does not say)."""
    available = available_memory(meminfo)
    if not available:
        return FALLBACK_BUDGET
    return max(MIN_BUDGET, min(DEFAULT_CAP, available // 2))


def resolve_budget(budget: int | str | None) -> int:
    """A budget in bytes: ``budget`` as given (bytes or a size text), else the machine's default."""
    if isinstance(budget, str):
        return parse_size(budget)
    return budget if budget else default_budget()


@dataclass(frozen=True)
class Plan:
    """Where correlation's partitions live and how many events each holds."""

    in_memory: bool
    part_events: int
    working_set: int  # estimated bytes held correlating in memory
    budget: int


def plan(rows: int, row_bytes: float, budget: int, workers: int = 1) -> Plan:
    """In memory when the working set (``rows`` events of ``row_bytes`` each, times
    ``MEMORY_FACTOR``) fits ``budget``, with partitions of ``MEMORY_PART_EVENTS``; else out of core,
    with partitions sized so that the ``workers`` partitions in flight stay well within it."""
    row_bytes = max(1.0, row_bytes)
    working = int(rows * row_bytes * MEMORY_FACTOR)
    if working <= budget:
        return Plan(True, MEMORY_PART_EVENTS, working, budget)
    factor = SPILL_FACTOR * (1 + WORKER_SHARE * (max(1, workers) - 1))
    share = int(budget / (row_bytes * factor))
    return Plan(False, min(MAX_SPILL_PART_EVENTS, max(MIN_PART_EVENTS, share)), working, budget)
