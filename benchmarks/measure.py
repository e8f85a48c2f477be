"""Run one tool in a fresh subprocess and measure it: wall, CPU, peak RSS, per-stage figures.

See :mod:`benchmarks.run` for how the figures are taken.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks.corpus import Corpus
from timeline import layout

HERE: Final = Path(__file__).resolve().parent
REPO: Final = HERE.parent
POLL_S: Final = 0.05  # how often a running child's RSS and CPU are sampled
# The files whose last modification ends each stage of ``timeline build`` (in this order).
STAGE_FILES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("parse", layout.STAGE_OUTPUTS["build"]),
    ("correlation", layout.STAGE_OUTPUTS["correlate"]),
    ("appendix", layout.STAGE_OUTPUTS["report"]),
)


_CLK_TCK: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Measure:
    """One tool's run on the corpus."""

    tool: str
    command: list[str]
    wall_s: float
    peak_rss_mb: float
    returncode: int
    events: int | None
    expected: int
    cpu_s: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_util(self) -> float:
        """CPU seconds per wall second (2.0: two cores busy all the time)."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Exited 0 and wrote one event per corpus line."""
        return self.returncode == 0 and self.events == self.expected


def machine() -> dict[str, Any]:
    """CPU model, core count, memory and library versions of this machine."""
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "cores_allowed": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                info["mem_gb"] = round(int(line.split()[1]) / 1024**2, 1)
    import duckdb
    import polars
    import pyarrow

    info |= {
        "polars": polars.__version__,
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
    }
    from importlib import metadata

    for dist in ("ai-timeline", "pyspark"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            info[dist] = metadata.version(dist)
    return info


@dataclass
class Trace:
    """What the benchmark saw of a running child: when it started (epoch seconds, the clock of
    file modification times), samples of (seconds since the start, CPU seconds, RSS MB) every
    :data:`POLL_S`, and the highest 1-minute load average meanwhile."""

    started_epoch: float = 0.0
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    loadavg_max: float = 0.0


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, its waited-for children included) of ``pid`` so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
    try:
        return sum(int(x) for x in fields[11:15]) / _CLK_TCK  # utime stime cutime cstime
    except (IndexError, ValueError):
        return None


def _rss_mb(pid: int) -> float:
    """Current resident set of ``pid`` in MB (0 when unknown)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(
    cmd: list[str],
    log: Path,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    max_rss_mb: float = 0.0,
    timeout_s: float = 0.0,
    trace: Trace | None = None,
) -> tuple[float, float, int, float]:
    """Run ``cmd`` (stdout and stderr to ``log``); return wall seconds, peak RSS in MB, exit code
    and CPU seconds (user + system).

    With ``max_rss_mb``, the child is killed (exit code -9) once its resident set exceeds it: a
    guard for shared machines, reported as a failure rather than left to the OOM killer. With
    ``timeout_s`` it is killed once it has run that long. With ``trace``, its CPU seconds and RSS
    are sampled into it as it runs (see :class:`Trace`).
    """
    with log.open("wb") as out:
        if trace is not None:
            trace.started_epoch = time.time()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            reason = ""
            rss = _rss_mb(proc.pid) if max_rss_mb or trace is not None else 0.0
            if trace is not None:
                cpu_now = _cpu_s(proc.pid)
                if cpu_now is not None:
                    trace.samples.append((time.perf_counter() - started, cpu_now, rss))
                trace.loadavg_max = max(trace.loadavg_max, os.getloadavg()[0])
            if max_rss_mb and rss > max_rss_mb:
                reason = f"RSS over {max_rss_mb:.0f} MB"
            elif timeout_s and time.perf_counter() - started > timeout_s:
                reason = f"still running after {timeout_s:.0f} s"
            if reason:
                proc.kill()
                out.write(f"\nkilled by the benchmark: {reason}\n".encode())
                out.flush()
            time.sleep(POLL_S)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4; tell Popen so it does not wait again
    cpu = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss / 1024, code, cpu  # ru_maxrss is in KiB on Linux


def stages(outdir: Path, trace: Trace, wall_s: float, cpu_s: float) -> dict[str, dict[str, float]]:
    """Wall and CPU seconds, CPU utilisation and peak RSS of each stage of one ``timeline build``.

    A stage ends when the last of its output files (:data:`STAGE_FILES`) was last modified; the
    parse stage starts with the process (interpreter start, imports and planning included) and
    ends with ``build.json``, after the events and rejects; ``exit`` is the rest (moving the staging
    folder into place, interpreter exit). CPU seconds and RSS come from the trace's samples, so a
    stage's figures are good to about :data:`POLL_S` (CPU in clock ticks of 10 ms). Stages whose
    files are missing (``--no-correlate``, ``--no-report``) are left out.
    """
    times = [t for t, _, _ in trace.samples]

    def cpu_at(t: float) -> float:
        if t >= wall_s:
            return cpu_s
        i = bisect.bisect_right(times, t)
        return trace.samples[i - 1][1] if i else 0.0

    def figure(start: float, end: float) -> dict[str, float]:
        cpu = max(cpu_at(end) - cpu_at(start), 0.0)
        wall = end - start
        rss = [r for t, _, r in trace.samples if start <= t <= end]
        return {
            "start_s": round(start, 2),
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "cpu_util": round(cpu / wall, 2) if wall > 0 else 0.0,
            "peak_rss_mb": round(max(rss, default=0.0), 1),
        }

    out: dict[str, dict[str, float]] = {}
    start = 0.0
    for name, files in STAGE_FILES:
        ends = [
            (outdir / f).stat().st_mtime - trace.started_epoch
            for f in files
            if (outdir / f).is_file()
        ]
        if not ends:
            continue
        end = min(max(max(ends), start), wall_s)
        out[name] = figure(start, end)
        start = end
    if out:
        out["exit"] = figure(start, wall_s)
    return out


def stage_line(figures: dict[str, dict[str, float]]) -> str:
    """``parse 12.1 s (1.85 cores, 900 MB), correlation ...``: the stages on one line."""
    return ", ".join(
        f"{name} {f['wall_s']:.1f} s ({f['cpu_util']:.2f} cores, {f['peak_rss_mb']:,.0f} MB)"
        for name, f in figures.items()
    )


def source_info(src: Path, paths: Sequence[str] = ("timeline", "parsers")) -> dict[str, str]:
    """Which code ran: the path and, in a git checkout, the commit and whether ``paths`` are
    modified against it."""
    info = {"path": str(src)}
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *paths],
            cwd=src,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        info["state"] = "modified" if dirty else "clean"
    except (OSError, subprocess.CalledProcessError):
        info["state"] = "not a git checkout"
    return info


def warm(corpus: Corpus) -> float:
    """Read every corpus file once (page cache); return the seconds it took."""
    started = time.perf_counter()
    for path in sorted(corpus.logs.rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                while f.read(16 << 20):
                    pass
    return time.perf_counter() - started


def run_tool(
    tool: str,
    corpus: Corpus,
    outdir: Path,
    src: Path = REPO,
    max_rss_mb: float = 0.0,
    timeout_s: float = 0.0,
    jobs: int | None = None,
    cpus: Sequence[int] = (),
) -> Measure:
    """Run one tool in a fresh subprocess and check its event count.

    ``timeline`` runs from the source tree ``src`` (its ``timeline`` and ``parsers`` packages),
    with ``--jobs jobs`` when given; its per-stage figures go to ``detail["stages"]``. With
    ``cpus`` the tool is pinned to those cores (``taskset -c``).
    """
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    log = outdir.parent / f"{outdir.name}.log"
    py = sys.executable
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews the figures
    detail: dict[str, Any] = {}
    events: int | None = None
    trace = Trace()
    pin = ["taskset", "-c", ",".join(str(c) for c in cpus)] if cpus else []
    if tool.startswith("timeline"):
        cmd = [py, "-m", "timeline.cli", "build", str(corpus.logs), "-o", str(outdir), "-q"]
        if tool == "timeline_no_correlate":
            cmd.append("--no-correlate")
        if jobs:
            cmd += ["--jobs", str(jobs)]
        env = os.environ | {"PYTHONPATH": str(src)}
        wall, rss, code, cpu = measure(
            pin + cmd,
            log,
            cwd=src,
            env=env,
            max_rss_mb=max_rss_mb,
            timeout_s=timeout_s,
            trace=trace,
        )
        if code == 0:
            detail["stages"] = stages(outdir, trace, wall, cpu)
            detail["stages_source"] = "output file mtimes, /proc samples every 50 ms"
        manifest = outdir / "build.json"
        if code == 0 and manifest.is_file():
            totals = json.loads(manifest.read_text(encoding="utf-8"))["totals"]
            events = int(totals["events"])
            detail["totals"] = totals
            report = outdir / "correlation.json"
            if report.is_file():
                corr = json.loads(report.read_text(encoding="utf-8"))
                detail["correlation"] = {
                    k: corr[k] for k in ("events", "requests", "events_by_method") if k in corr
                }
    else:
        cmd = [
            py,
            "-m",
            "benchmarks.baselines",
            tool,
            str(corpus.root),
            str(outdir / "out.parquet"),
        ]
        wall, rss, code, cpu = measure(
            pin + cmd, log, max_rss_mb=max_rss_mb, timeout_s=timeout_s, trace=trace
        )
        if code == 0:
            lines = log.read_text(encoding="utf-8").strip().splitlines()
            result = json.loads(lines[-1])
            events = int(result["rows"])
            detail = {"inner_seconds": result["seconds"]}
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        detail["error"] = tail
        if "killed by the benchmark" in tail:
            detail["killed"] = tail.rsplit("killed by the benchmark: ", 1)[1].strip()
    detail["loadavg_before"] = load_before
    detail["loadavg_max"] = round(trace.loadavg_max, 2)
    detail["loadavg_after"] = round(os.getloadavg()[0], 2)
    detail["output_bytes"] = sum(p.stat().st_size for p in outdir.rglob("*") if p.is_file())
    return Measure(
        tool=tool,
        command=pin + cmd,
        wall_s=round(wall, 2),
        peak_rss_mb=round(rss, 1),
        returncode=code,
        events=events,
        expected=corpus.lines,
        cpu_s=round(cpu, 2),
        detail=detail,
    )


def failure(m: Measure) -> str:
    """Why a tool's run failed ("" when it passed its check)."""
    if m.ok:
        return ""
    if "killed" in m.detail:
        return f"{m.tool} killed: {m.detail['killed']}"
    return f"{m.tool} exit {m.returncode}, events {m.events} != {m.expected}"


def peak(m: Measure) -> str:
    """``highest in correlation (751 MB sampled)``: the stage where RSS peaked, from the samples."""
    figures = m.detail.get("stages") or {}
    if not figures:
        return ""
    name, f = max(figures.items(), key=lambda kv: kv[1]["peak_rss_mb"])
    return f"highest in {name} ({f['peak_rss_mb']:,.0f} MB sampled)"
