"""Run ``timeline build`` and the hand-written baselines on one corpus, and compare them.

    python -m benchmarks.run --requests 1000000 [--stack current|modern|both] [--gzip] [--keep]
        [--parsers] [--workdir DIR]

Steps: generate the corpus (or reuse one left by ``--keep``), read it once so that every tool
starts from the same warm page cache, then run each tool in a fresh subprocess, one after the
other: ``timeline build`` end to end (parse, write events.parquet, correlate), the DuckDB baseline
and the polars baseline (:mod:`benchmarks.baselines`). For each it measures the wall time of the
whole process (interpreter start and imports included, as a user would wait) and its peak RSS
(``ru_maxrss`` of that child from ``os.wait4``, which includes any process it waited for), checks
that it produced one event per corpus line, and prints a table with the ratios of timeline to each
baseline and the issue's targets. CPU seconds (user + system of the child, from ``os.wait4``)
and CPU utilisation (CPU seconds over wall seconds: 2.0 keeps two cores busy) are measured too.
The figures also go to ``benchmarks/results-<N>[-gz][-modern].json``.

``--stack`` picks the corpus (:data:`benchmarks.corpus.STACKS`): the current one (nginx, Envoy,
Llama Guard, Elasticsearch, OpenAI log), the modern one (OTLP spans, vLLM, Istio) or both, one
after the other. ``--parsers`` adds the per-parser table (:mod:`benchmarks.parsers`: MB/s per core
of every built-in parser on its own file), written to ``benchmarks/results-parsers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks import parsers as parser_bench
from benchmarks.corpus import STACKS, Corpus, find, generate

HERE: Final = Path(__file__).resolve().parent
REPO: Final = HERE.parent
TOOLS: Final = ("timeline", "duckdb", "polars", "timeline_no_correlate")
DEFAULT_TOOLS: Final = ("timeline", "duckdb", "polars")
# Targets of issue 7 (2-core machine): timeline <= 1.5x DuckDB, faster than polars, peak RSS.
MAX_RATIO_DUCKDB: Final = 1.5
MAX_RATIO_POLARS: Final = 1.0
RSS_LIMIT_MB: Final = {1_000_000: 2048.0, 10_000_000: 3072.0}


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
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version()}
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
    return info


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
) -> tuple[float, float, int, float]:
    """Run ``cmd`` (stdout and stderr to ``log``); return wall seconds, peak RSS in MB, exit code
    and CPU seconds (user + system).

    With ``max_rss_mb``, the child is killed (exit code -9) once its resident set exceeds it: a
    guard for shared machines, reported as a failure rather than left to the OOM killer. With
    ``timeout_s`` it is killed once it has run that long.
    """
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            reason = ""
            if max_rss_mb and _rss_mb(proc.pid) > max_rss_mb:
                reason = f"RSS over {max_rss_mb:.0f} MB"
            elif timeout_s and time.perf_counter() - started > timeout_s:
                reason = f"still running after {timeout_s:.0f} s"
            if reason:
                proc.kill()
                out.write(f"\nkilled by the benchmark: {reason}\n".encode())
                out.flush()
            time.sleep(0.05)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4; tell Popen so it does not wait again
    cpu = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss / 1024, code, cpu  # ru_maxrss is in KiB on Linux


def source_info(src: Path) -> dict[str, str]:
    """Which code ``timeline`` ran from: the path and, in a git checkout, the commit and state."""
    info = {"path": str(src)}
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "timeline", "parsers"],
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
) -> Measure:
    """Run one tool in a fresh subprocess and check its event count.

    ``timeline`` runs from the source tree ``src`` (its ``timeline`` and ``parsers`` packages).
    """
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    log = outdir.parent / f"{outdir.name}.log"
    py = sys.executable
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews the figures
    detail: dict[str, Any] = {}
    events: int | None = None
    if tool.startswith("timeline"):
        cmd = [py, "-m", "timeline.cli", "build", str(corpus.logs), "-o", str(outdir), "-q"]
        if tool == "timeline_no_correlate":
            cmd.append("--no-correlate")
        env = os.environ | {"PYTHONPATH": str(src)}
        wall, rss, code, cpu = measure(
            cmd, log, cwd=src, env=env, max_rss_mb=max_rss_mb, timeout_s=timeout_s
        )
        manifest = outdir / "build.json"
        if code == 0 and manifest.is_file():
            totals = json.loads(manifest.read_text(encoding="utf-8"))["totals"]
            events = int(totals["events"])
            detail = {"totals": totals}
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
        wall, rss, code, cpu = measure(cmd, log, max_rss_mb=max_rss_mb, timeout_s=timeout_s)
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
    detail["loadavg_after"] = round(os.getloadavg()[0], 2)
    detail["output_bytes"] = sum(p.stat().st_size for p in outdir.rglob("*") if p.is_file())
    return Measure(
        tool=tool,
        command=cmd,
        wall_s=round(wall, 2),
        peak_rss_mb=round(rss, 1),
        returncode=code,
        events=events,
        expected=corpus.lines,
        cpu_s=round(cpu, 2),
        detail=detail,
    )


def table(results: Sequence[Measure], corpus: Corpus) -> str:
    """A Markdown table of the figures, then the ratios of timeline to each baseline."""
    mb = corpus.bytes / 1e6
    rows = [
        "| tool | wall s | CPU s | CPU util | events | events/s | MB/s | peak RSS MB | events check |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in results:
        eps = f"{m.expected / m.wall_s:,.0f}" if m.ok else "-"
        rate = f"{mb / m.wall_s:.1f}" if m.ok else "-"
        check = "ok" if m.ok else f"FAILED (exit {m.returncode}, events {m.events} != {m.expected})"
        if "killed" in m.detail:
            check = f"killed: {m.detail['killed']}"
        events = f"{m.events:,}" if m.events is not None else "-"
        rows.append(
            f"| {m.tool} | {m.wall_s:.2f} | {m.cpu_s:.2f} | {m.cpu_util:.2f} | {events} | {eps} "
            f"| {rate} | {m.peak_rss_mb:,.0f} | {check} |"
        )
    return "\n".join(rows)


def ratios(results: Sequence[Measure], requests: int) -> dict[str, Any]:
    """Timeline against each baseline, and against the issue's targets."""
    by = {m.tool: m for m in results}
    out: dict[str, Any] = {}
    tl = by.get("timeline")
    if tl is None:
        return out
    for base, limit in (("duckdb", MAX_RATIO_DUCKDB), ("polars", MAX_RATIO_POLARS)):
        if base in by and by[base].wall_s > 0:
            r = tl.wall_s / by[base].wall_s
            out[f"wall_vs_{base}"] = {
                "ratio": round(r, 2),
                "target": f"<= {limit}",
                "met": r <= limit and tl.ok,
                "rss_ratio": round(tl.peak_rss_mb / max(by[base].peak_rss_mb, 1.0), 2),
            }
    limit_mb = RSS_LIMIT_MB.get(requests)
    if limit_mb is not None:
        out["peak_rss"] = {
            "mb": tl.peak_rss_mb,
            "target": f"<= {limit_mb:.0f} MB",
            "met": tl.peak_rss_mb <= limit_mb,
        }
    return out


def ratio_lines(r: dict[str, Any]) -> str:
    """The ratios as text lines."""
    lines = []
    for key, v in r.items():
        verdict = "met" if v["met"] else "MISSED"
        if key == "peak_rss":
            lines.append(f"timeline peak RSS {v['mb']:,.0f} MB (target {v['target']}): {verdict}")
        else:
            lines.append(
                f"timeline / {key.removeprefix('wall_vs_')}: wall {v['ratio']:.2f}x "
                f"(target {v['target']}x): {verdict}; peak RSS {v['rss_ratio']:.2f}x"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run everything, print the table, write the JSON; 1 if a check failed."""
    ap = argparse.ArgumentParser(description="Benchmark timeline build against DuckDB and polars.")
    ap.add_argument("--requests", type=int, default=50_000, help="requests (about 6 events each)")
    ap.add_argument("--gzip", action="store_true", help="gzip the corpus files")
    ap.add_argument("--keep", action="store_true", help="keep the corpus and the outputs")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ai-timeline-bench",
        help="where the corpus and the outputs go (default: %(default)s)",
    )
    ap.add_argument(
        "--tools",
        default=",".join(DEFAULT_TOOLS),
        help=f"comma-separated, from {', '.join(TOOLS)} (default: %(default)s)",
    )
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="corpus generation")
    ap.add_argument(
        "--timeline-src",
        type=Path,
        default=REPO,
        help="source tree to run timeline from, e.g. a `git archive` snapshot (default: this repo)",
    )
    ap.add_argument(
        "--max-rss-mb",
        type=float,
        default=12_000.0,
        help="kill a tool whose RSS exceeds this (0: no limit; default: %(default)s)",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        help="kill a tool still running after this many seconds (0: no limit)",
    )
    ap.add_argument("--results", type=Path, default=None, help="JSON output path")
    ap.add_argument(
        "--stack",
        choices=[*STACKS, "both"],
        default="current",
        help="corpus: current, modern (OTLP, vLLM, Istio) or both (default: %(default)s)",
    )
    ap.add_argument(
        "--parsers",
        action="store_true",
        help="also measure every built-in parser on its own file (benchmarks.parsers)",
    )
    ap.add_argument("--parser-mb", type=float, default=20.0, help="MB per parser file")
    args = ap.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        ap.error(f"unknown tools: {', '.join(unknown)}")

    ok = True
    stacks = list(STACKS) if args.stack == "both" else [args.stack]
    for stack in stacks:
        ok &= run_stack(args, tools, stack)
    if args.parsers:
        print("\nper parser, each on its own file (MB/s per CPU second):", flush=True)
        figures = parser_bench.run_all(
            args.workdir / "parsers", args.parser_mb, src=args.timeline_src
        )
        print()
        print(parser_bench.table(figures))
        target = HERE / "results-parsers.json"
        target.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "timeline_source": source_info(args.timeline_src),
                    "mb_per_parser": args.parser_mb,
                    "parsers": [
                        asdict(f) | {"parse_mb_s": round(f.parse_mb_s, 2)} for f in figures
                    ],
                    "table": parser_bench.table(figures),
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"\nwrote {target}")
        ok &= all(not f.error for f in figures)
    return 0 if ok else 1


def run_stack(args: argparse.Namespace, tools: Sequence[str], stack: str) -> bool:
    """Generate (or reuse) the corpus of ``stack``, run every tool on it, print and save the
    figures; True when every tool passed its check."""
    tag = (
        f"{args.requests}"
        + ("-gz" if args.gzip else "")
        + ("" if stack == "current" else f"-{stack}")
    )
    root = args.workdir / f"corpus-{tag}"
    reused = find(root, args.requests, args.gzip, stack=stack) is not None
    corpus = generate(root, args.requests, args.gzip, jobs=args.jobs, reuse=True, stack=stack)
    m = corpus.manifest
    print(
        f"{stack} corpus: {m['requests']:,} requests, {len(m['files'])} files, "
        f"{m['lines']:,} lines, {corpus.lines:,} events, "
        f"{m['bytes'] / 1e6:,.1f} MB stored ({m['text_bytes'] / 1e6:,.1f} MB text); "
        + ("reused" if reused else f"generated in {m['generation_seconds']} s")
        + f" -> {corpus.logs}",
        flush=True,
    )
    warm_s = warm(corpus)
    print(f"page cache warmed in {warm_s:.1f} s", flush=True)
    results: list[Measure] = []
    outputs = args.workdir / f"out-{tag}"
    for tool in tools:
        result = run_tool(
            tool, corpus, outputs / tool, args.timeline_src, args.max_rss_mb, args.timeout
        )
        results.append(result)
        status = "ok" if result.ok else "FAILED"
        print(
            f"  {tool}: {result.wall_s:.2f} s, CPU {result.cpu_s:.2f} s "
            f"({result.cpu_util:.2f} cores), peak RSS {result.peak_rss_mb:,.0f} MB, {status}",
            flush=True,
        )
    print()
    print(table(results, corpus))
    r = ratios(results, args.requests)
    if r:
        print()
        print(ratio_lines(r))
    payload = {
        "requests": args.requests,
        "stack": stack,
        "gzip": args.gzip,
        "machine": machine(),
        "timeline_source": source_info(args.timeline_src),
        "corpus": {k: v for k, v in m.items() if k != "files"} | {"files": m["files"]},
        "corpus_reused": reused,
        "results": [asdict(x) | {"ok": x.ok, "cpu_util": round(x.cpu_util, 2)} for x in results],
        "ratios": r,
        "table": table(results, corpus),
    }
    target = args.results or HERE / f"results-{tag}.json"
    if args.results and len(STACKS) > 1 and args.stack == "both":
        target = target.with_name(f"{target.stem}-{stack}{target.suffix}")
    target.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {target}\n")
    if not args.keep:
        shutil.rmtree(outputs, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    return all(x.ok for x in results)


if __name__ == "__main__":
    sys.exit(main())
