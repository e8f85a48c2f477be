"""One corpus run: prepare the corpus, run the tools, tabulate the figures and the ratios."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

from benchmarks import targets as tg
from benchmarks.corpus import Corpus, find, generate
from benchmarks.measure import Measure, failure, run_tool, stage_line, warm

HERE: Final = Path(__file__).resolve().parent


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


def ratios(results: Sequence[Measure], requests: int, stack: str = "current") -> dict[str, Any]:
    """Timeline against each baseline, and against issue 15's targets (:mod:`benchmarks.targets`)
    that apply to this run: the ratio to DuckDB (either stack), and at 1M or 10M requests of the
    current corpus the wall time and the peak RSS. The ratio to polars has no target (``met`` is
    None)."""
    by = {m.tool: m for m in results}
    out: dict[str, Any] = {}
    tl = by.get("timeline")
    if tl is None:
        return out
    duck = tg.target("1m_ratio_duckdb" if stack == "current" else "modern_ratio_duckdb")
    for base, t in (("duckdb", duck), ("polars", None)):
        if base in by and by[base].wall_s > 0:
            r = tl.wall_s / by[base].wall_s
            out[f"wall_vs_{base}"] = {
                "ratio": round(r, 2),
                "target": t.bound(t.required) if t else "-",
                "met": (tl.ok and t.met(r, t.required or 0.0)) if t else None,
                "rss_ratio": round(tl.peak_rss_mb / max(by[base].peak_rss_mb, 1.0), 2),
            }
    if stack != "current":
        return out
    for kind in ("wall", "peak_rss"):
        for t in tg.TARGETS:
            if t.key.endswith(kind) and t.requests == requests and t.required is not None:
                value = tl.wall_s if kind == "wall" else tl.peak_rss_mb
                out[kind] = {
                    "value": value,
                    "target": t.bound(t.required),
                    "met": tl.ok and t.met(value, t.required),
                }
    return out


def ratio_lines(r: dict[str, Any]) -> str:
    """The ratios as text lines."""
    lines = []
    for key, v in r.items():
        verdict = {True: "met", False: "MISSED", None: "no target"}[v["met"]]
        if key == "peak_rss":
            lines.append(
                f"timeline peak RSS {v['value']:,.0f} MB (issue 15: {v['target']}): {verdict}"
            )
        elif key == "wall":
            lines.append(f"timeline wall {v['value']:,.1f} s (issue 15: {v['target']}): {verdict}")
        else:
            lines.append(
                f"timeline / {key.removeprefix('wall_vs_')}: wall {v['ratio']:.2f}x "
                f"(issue 15: {v['target']}): {verdict}; peak RSS {v['rss_ratio']:.2f}x"
            )
    return "\n".join(lines)


def prepare(args: argparse.Namespace, requests: int, stack: str) -> tuple[Corpus, Path, str, bool]:
    """Generate (or reuse) the corpus of ``requests`` requests of ``stack`` and warm the page
    cache; return it, the folder for the tools' outputs, its tag and whether it was reused."""
    tag = f"{requests}" + ("-gz" if args.gzip else "") + ("" if stack == "current" else f"-{stack}")
    root = args.workdir / f"corpus-{tag}"
    reused = find(root, requests, args.gzip, stack=stack) is not None
    corpus = generate(root, requests, args.gzip, jobs=args.gen_jobs, reuse=True, stack=stack)
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
    return corpus, args.workdir / f"out-{tag}", tag, reused


def run_tools(
    args: argparse.Namespace, tools: Sequence[str], corpus: Corpus, outputs: Path
) -> list[Measure]:
    """Run ``tools`` one after the other on ``corpus``; print one line each (and the stages)."""
    results: list[Measure] = []
    for tool in tools:
        result = run_tool(
            tool,
            corpus,
            outputs / tool,
            args.timeline_src,
            args.max_rss_mb,
            args.timeout,
            jobs=args.jobs,
        )
        results.append(result)
        status = "ok" if result.ok else f"FAILED ({failure(result)})"
        print(
            f"  {tool}: {result.wall_s:.2f} s, CPU {result.cpu_s:.2f} s "
            f"({result.cpu_util:.2f} cores), peak RSS {result.peak_rss_mb:,.0f} MB, {status}; "
            f"load {result.detail['loadavg_before']} -> {result.detail['loadavg_after']}",
            flush=True,
        )
        if result.detail.get("stages"):
            print(f"    stages: {stage_line(result.detail['stages'])}", flush=True)
    return results


def run_record(
    corpus: Corpus, results: Sequence[Measure], requests: int, reused: bool
) -> dict[str, Any]:
    """One corpus run as the results JSON stores it."""
    m = corpus.manifest
    return {
        "requests": requests,
        "stack": corpus.stack,
        "gzip": corpus.gzip,
        "corpus": {k: v for k, v in m.items() if k != "files"} | {"files": m["files"]},
        "corpus_reused": reused,
        "results": [asdict(x) | {"ok": x.ok, "cpu_util": round(x.cpu_util, 2)} for x in results],
        "ratios": ratios(results, requests, corpus.stack),
        "table": table(results, corpus),
    }


def cleanup(args: argparse.Namespace, *paths: Path) -> None:
    """Remove corpora and outputs unless ``--keep``."""
    if not args.keep:
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)
