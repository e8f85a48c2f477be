"""``python -m benchmarks.run --issue15``: every row of issue 15's Targets table in one invocation."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

from benchmarks import parsers as parser_bench
from benchmarks import targets as tg
from benchmarks.corpus import Corpus
from benchmarks.measure import (
    Measure,
    failure,
    machine,
    measure,
    peak,
    run_tool,
    source_info,
    stage_line,
)
from benchmarks.session import cleanup, prepare, run_record, run_tools

HERE: Final = Path(__file__).resolve().parent
REPO: Final = HERE.parent
BASELINES_FIRST: Final = ("duckdb", "polars", "timeline")  # the order of the --issue15 runs


def scaling(args: argparse.Namespace, corpus: Corpus, outputs: Path) -> dict[str, Any]:
    """The parse stage (``timeline build --no-correlate``) pinned to one core with ``--jobs 1``,
    then to every core this process may use with ``--jobs <cores>``; the speed-up."""
    cores = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None:
        print("scaling: skipped (no taskset)", flush=True)
        return {"skipped": "no taskset"}
    runs: list[dict[str, Any]] = []
    for cpus in ([cores[0]], cores):
        m = run_tool(
            "timeline_no_correlate",
            corpus,
            outputs / f"scaling-{len(cpus)}",
            args.timeline_src,
            args.max_rss_mb,
            args.timeout,
            jobs=len(cpus),
            cpus=cpus,
        )
        parse = m.detail.get("stages", {}).get("parse", {})
        runs.append(
            {
                "cores": len(cpus),
                "jobs": len(cpus),
                "command": m.command,
                "ok": m.ok,
                "wall_s": m.wall_s,
                "cpu_s": m.cpu_s,
                "cpu_util": round(m.cpu_util, 2),
                "parse_wall_s": parse.get("wall_s"),
                "parse_cpu_util": parse.get("cpu_util"),
                "peak_rss_mb": m.peak_rss_mb,
                "loadavg_before": m.detail["loadavg_before"],
                "loadavg_after": m.detail["loadavg_after"],
            }
        )
        if len(cores) == 1:
            break
    out: dict[str, Any] = {"requests": corpus.manifest["requests"], "runs": runs}
    if len(runs) == 2 and all(r["ok"] for r in runs) and runs[1]["wall_s"] > 0:
        out["speedup"] = round(runs[0]["wall_s"] / runs[1]["wall_s"], 2)
    print("\nparse stage scaling (timeline build --no-correlate, taskset):")
    print("| cores | jobs | wall s | CPU s | CPU util | load before -> after | check |")
    print("|---:|---:|---:|---:|---:|---|---|")
    for r in runs:
        print(
            f"| {r['cores']} | {r['jobs']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} "
            f"| {r['cpu_util']:.2f} | {r['loadavg_before']} -> {r['loadavg_after']} "
            f"| {'ok' if r['ok'] else 'FAILED'} |"
        )
    if "speedup" in out:
        print(f"speed-up from 1 to {runs[1]['cores']} cores: {out['speedup']:.2f}x", flush=True)
    return out


def spark_run(args: argparse.Namespace, corpus: Corpus) -> dict[str, Any]:
    """``python -m benchmarks.spark`` on the same corpus (the local engine and the Spark engine,
    both without the appendix; Spark session start not counted), its figures parsed from its
    output."""
    requests = int(corpus.manifest["requests"])
    log = args.workdir / f"spark-{requests}.log"
    cores = len(os.sched_getaffinity(0))
    cmd = [sys.executable, "-m", "benchmarks.spark", "--requests", str(requests)]
    cmd += ["--master", f"local[{cores}]"]
    if not corpus.gzip and corpus.stack == "current":  # spark.py reuses only a plain corpus
        cmd += ["--root", str(corpus.root)]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(args.timeline_src), str(REPO)])}
    load_before = round(os.getloadavg()[0], 2)
    wall, rss, code, cpu = measure(
        cmd, log, cwd=REPO, env=env, max_rss_mb=args.max_rss_mb, timeout_s=args.timeout
    )
    text = log.read_text(encoding="utf-8", errors="replace")
    out: dict[str, Any] = {
        "command": cmd,
        "returncode": code,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(rss, 1),
        "loadavg_before": load_before,
        "loadavg_after": round(os.getloadavg()[0], 2),
    }
    out |= parse_spark_output(text)
    if code != 0 or "spark_s" not in out:
        out["error"] = text[-2000:]
    print(
        f"  spark: {out.get('spark_s', '-')} s (local engine {out.get('local_s', '-')} s, "
        f"timelines equal: {out.get('equal', '-')}), exit {code}",
        flush=True,
    )
    return out


def parse_spark_output(text: str) -> dict[str, Any]:
    """The figures ``benchmarks.spark`` prints: local and Spark seconds, whether equal."""
    out: dict[str, Any] = {}
    if found := re.search(r"^local engine: ([0-9.]+) s", text, re.M):
        out["local_s"] = float(found[1])
    if found := re.search(r"^spark engine \(([^)]*)\): ([0-9.]+) s", text, re.M):
        out["master"], out["spark_s"] = found[1], float(found[2])
    if found := re.search(r"^timelines equal: (\w+)", text, re.M):
        out["equal"] = found[1] == "True"
    return out


def parser_row(
    figures: Sequence[parser_bench.ParserFigure],
) -> tuple[float | None, str, str]:
    """The slowest parser's MB/s per core (in ``parse``), a note naming it and the parsers left
    out of the verdict, and the failure (parsers that errored)."""
    errors = [f.parser for f in figures if f.error]
    measured = [f for f in figures if not f.error]
    # a whole-document input repeated is not parsed as its golden events: not a measurement
    odd = [f for f in measured if not f.reproduced]
    judged = [f for f in measured if f not in odd]
    if not judged:
        return None, "", ", ".join(errors)
    slowest = min(judged, key=lambda f: f.parse_mb_s)
    build = min(judged, key=lambda f: f.build_mb_s)
    note = (
        f"{len(judged)} parsers; slowest {slowest.parser}; whole one-file build: "
        f"slowest {build.parser} {build.build_mb_s:.1f} MB/s"
    )
    if odd:
        note += "; not judged (repeating its golden input does not reproduce its events): "
        note += ", ".join(f"{f.parser} ({f.events:,} of {f.expected_events:,})" for f in odd)
    return slowest.parse_mb_s, note, ("errors: " + ", ".join(errors)) if errors else ""


def issue15_results_path(args: argparse.Namespace, requests: int, large: int) -> Path:
    """``benchmarks/results-issue15.json`` at full scale (1M and 10M, the file to commit); in the
    work folder, named after the scales, for smaller runs."""
    if args.results:
        return Path(args.results)
    if requests == tg.ONE_M and large == tg.TEN_M:
        return HERE / "results-issue15.json"
    return Path(args.workdir) / f"results-issue15-{tg.scale(requests)}-{tg.scale(large)}.json"


def issue15(args: argparse.Namespace, runs: Sequence[str]) -> int:
    """Measure every row of issue 15's Targets table that ``runs`` covers, in this one process,
    print the table and write the results JSON; 0 when every run passed its checks.

    ``1m``: the current corpus of ``--requests`` (1M) requests, DuckDB, polars, timeline (wall,
    ratio, peak RSS; ``--scaling`` adds the parse-stage scaling on it). ``modern``: the modern
    corpus of ``--requests``, same tools (ratio). ``parsers``: every built-in parser on its own
    file (:mod:`benchmarks.parsers`). ``10m``: the current corpus of ``--large-requests`` (10M),
    DuckDB and timeline (wall, peak RSS). ``spark``: :mod:`benchmarks.spark` on the 1M corpus.
    With ``--merge``, rows of runs not made now are kept from the results file's earlier run.
    """
    requests = args.requests or tg.ONE_M
    large = args.large_requests
    started = dt.datetime.now(dt.UTC)
    payload: dict[str, Any] = {
        "issue": tg.ISSUE,
        "started": started.isoformat(timespec="seconds"),
        "command": ["python", "-m", "benchmarks.run", *args.argv],
        "settings": {
            "runs": list(runs),
            "requests": requests,
            "large_requests": large,
            "jobs": args.jobs,
            "gzip": args.gzip,
            "scaling": args.scaling,
            "parser_mb": args.parser_mb,
            "max_rss_mb": args.max_rss_mb,
        },
        "machine": machine(),
        "timeline_source": source_info(args.timeline_src),
        "benchmark_source": source_info(REPO, ("benchmarks",)),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "runs": {},
    }
    rows: dict[str, dict[str, Any]] = {}
    ok = True

    def put(
        key: str, value: float | None, req: int | None, note: str = "", failed: str = ""
    ) -> None:
        rows[key] = tg.row(tg.target(key), value, req, note, failed)

    def corpus_run(name: str, req: int, stack: str, tools: Sequence[str]) -> list[Measure]:
        nonlocal ok
        print(f"\n== {name}: {tg.scale(req)} requests, {stack} corpus ==", flush=True)
        corpus, outputs, _, reused = prepare(args, req, stack)
        results = run_tools(args, tools, corpus, outputs)
        ok &= all(m.ok for m in results)
        payload["runs"][name] = run_record(corpus, results, req, reused)
        if name == "1m" and args.scaling:
            payload["runs"]["scaling"] = scaling(args, corpus, outputs)
        if name == "1m" and "spark" in runs:
            spark = spark_run(args, corpus)
            payload["runs"]["spark"] = spark
            ok &= spark["returncode"] == 0 and bool(spark.get("equal"))
            spark_note = (
                f"local engine {spark['local_s']:.1f} s; timelines equal: {spark.get('equal')}"
                if "local_s" in spark
                else ""
            )
            put(
                "spark_1m_wall",
                spark.get("spark_s"),
                req,
                spark_note,
                "" if spark["returncode"] == 0 else f"exit {spark['returncode']}",
            )
        cleanup(args, outputs, corpus.root)
        return results

    if "1m" in runs or "spark" in runs or args.scaling:
        tools = BASELINES_FIRST if "1m" in runs else ()
        by = {m.tool: m for m in corpus_run("1m", requests, "current", tools)}
        if by:
            tl, duck, pol = by["timeline"], by["duckdb"], by["polars"]
            note = stage_line(tl.detail.get("stages", {}))
            put("1m_wall", tl.wall_s if tl.ok else None, requests, note, failure(tl))
            put(
                "1m_ratio_duckdb",
                tl.wall_s / duck.wall_s if tl.ok and duck.ok else None,
                requests,
                f"DuckDB {duck.wall_s:.1f} s; polars {pol.wall_s:.1f} s "
                f"(timeline / polars {tl.wall_s / max(pol.wall_s, 1e-9):.2f}x)",
                failure(tl) or failure(duck),
            )
            put("1m_peak_rss", tl.peak_rss_mb if tl.ok else None, requests, peak(tl), failure(tl))
    if "modern" in runs:
        by = {m.tool: m for m in corpus_run("modern", requests, "modern", BASELINES_FIRST)}
        tl, duck, pol = by["timeline"], by["duckdb"], by["polars"]
        put(
            "modern_ratio_duckdb",
            tl.wall_s / duck.wall_s if tl.ok and duck.ok else None,
            requests,
            f"timeline {tl.wall_s:.1f} s, DuckDB {duck.wall_s:.1f} s, polars {pol.wall_s:.1f} s; "
            f"timeline peak RSS {tl.peak_rss_mb:,.0f} MB",
            failure(tl) or failure(duck),
        )
    if "parsers" in runs:
        print(f"\n== parsers: each on its own ~{args.parser_mb:g} MB file ==", flush=True)
        only = [n.strip() for n in args.parser_only.split(",") if n.strip()]
        load_before = round(os.getloadavg()[0], 2)
        figures = parser_bench.run_all(
            args.workdir / "parsers", args.parser_mb, only, args.timeline_src
        )
        print()
        print(parser_bench.table(figures))
        value, note, failed = parser_row(figures)
        ok &= not failed
        put("parsers_min_mb_s", value, None, note, failed)
        payload["runs"]["parsers"] = {
            "mb_per_parser": args.parser_mb,
            "loadavg_before": load_before,
            "loadavg_after": round(os.getloadavg()[0], 2),
            "parsers": [asdict(f) | {"parse_mb_s": round(f.parse_mb_s, 2)} for f in figures],
            "table": parser_bench.table(figures),
        }
        cleanup(args, args.workdir / "parsers")
    if "10m" in runs:
        by = {m.tool: m for m in corpus_run("10m", large, "current", ("duckdb", "timeline"))}
        tl, duck = by["timeline"], by["duckdb"]
        ratio = tl.wall_s / max(duck.wall_s, 1e-9)
        note = "; ".join(
            x
            for x in (
                stage_line(tl.detail.get("stages", {})),
                f"DuckDB {duck.wall_s:.1f} s (timeline / DuckDB {ratio:.1f}x)",
            )
            if x
        )
        put("10m_wall", tl.wall_s if tl.ok else None, large, note, failure(tl))
        put("10m_peak_rss", tl.peak_rss_mb if tl.ok else None, large, peak(tl), failure(tl))

    target = issue15_results_path(args, requests, large)
    earlier: dict[str, Any] = {}
    if args.merge and target.is_file():
        earlier = json.loads(target.read_text(encoding="utf-8"))
        for r in earlier.get("rows", []):
            if r["key"] not in rows and r.get("value") is not None:
                when = r.get("measured", earlier.get("started", "?"))
                rows[r["key"]] = r | {"measured": when}
        for name, run in earlier.get("runs", {}).items():
            payload["runs"].setdefault(name, run | {"from_run_started": earlier.get("started")})
    now = payload["started"]
    for t in tg.TARGETS:
        rows.setdefault(t.key, tg.row(t, None, None))
        rows[t.key].setdefault("measured", now if rows[t.key]["value"] is not None else None)
    payload["rows"] = [rows[t.key] for t in tg.TARGETS]
    payload["table"] = tg.table(payload["rows"])
    tl_run = payload["runs"].get("1m", {}).get("results", [])
    parse = next(
        (r["detail"].get("stages", {}).get("parse") for r in tl_run if r["tool"] == "timeline"),
        None,
    )
    if parse:
        payload["parse_cpu_util"] = parse["cpu_util"]
    payload["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    payload["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    print(f"\n== issue {tg.ISSUE}: targets ==\n")
    print(payload["table"])
    if parse:
        print(
            f"\nparse stage at {tg.scale(requests)}: {parse['wall_s']:.1f} s, CPU utilisation "
            f"{parse['cpu_util']:.2f} (issue item 3: >= {tg.PARSE_CPU_UTIL} on 2 cores)"
        )
    if earlier:
        print(f"\nrows not measured now are from the run of {earlier.get('started')}")
    print(
        f"load average: {payload['loadavg_start'][0]} at the start, "
        f"{payload['loadavg_end'][0]} at the end (per tool in the JSON)"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {target}")
    return 0 if ok else 1
