"""Run ``timeline build`` and the hand-written baselines on one corpus, and compare them.

    python -m benchmarks.run --requests 1000000 [--stack current|modern|both] [--gzip] [--keep]
        [--parsers] [--workdir DIR] [--jobs N] [--scaling]
    python -m benchmarks.run --issue15 [--rows 1m,modern,parsers,10m] [--spark] [--scaling]
        [--requests 1000000] [--large-requests 10000000] [--merge] [--keep]

Steps: generate the corpus (or reuse one left by ``--keep``), read it once so that every tool
starts from the same warm page cache, then run each tool in a fresh subprocess, one after the
other: ``timeline build`` end to end (parse, correlate, appendix), the DuckDB baseline
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

``--issue15`` runs, in one invocation, everything issue 15's Targets table needs and prints the
table (:mod:`benchmarks.targets`): the 1M current corpus (timeline, DuckDB, polars), the 1M
modern corpus, every parser's MB/s per core, the 10M current corpus and, with ``--spark``, the
Spark engine at 1M. ``--requests`` / ``--large-requests`` scale the 1M and 10M runs down (smoke
runs), ``--rows`` picks the runs. See :func:`issue15`.

For every ``timeline`` run the per-stage figures (parse including the events' scratch file,
correlation, appendix) come from the output files' modification times (the tool writes no
timings of its own) and from ``/proc/PID/stat`` and ``/proc/PID/status`` sampled every 50 ms: CPU
seconds, CPU utilisation and peak RSS per stage. ``--jobs N`` is passed to ``timeline build``;
``--scaling`` runs the parse stage (``--no-correlate``) pinned to one core with ``--jobs 1`` and
to every core with ``--jobs <cores>`` (``taskset``) and prints the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Final

from benchmarks import parsers as parser_bench
from benchmarks import targets as tg
from benchmarks.corpus import STACKS
from benchmarks.issue15 import issue15, scaling
from benchmarks.measure import machine, source_info
from benchmarks.session import cleanup, prepare, ratio_lines, run_record, run_tools, table

HERE: Final = Path(__file__).resolve().parent
REPO: Final = HERE.parent
TOOLS: Final = ("timeline", "duckdb", "polars", "timeline_no_correlate")
DEFAULT_TOOLS: Final = ("timeline", "duckdb", "polars")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run everything, print the table, write the JSON; 1 if a check failed."""
    ap = argparse.ArgumentParser(description="Benchmark timeline build against DuckDB and polars.")
    ap.add_argument(
        "--issue15",
        action="store_true",
        help="measure every row of issue 15's Targets table and print it (see --rows)",
    )
    ap.add_argument(
        "--requests",
        type=int,
        default=None,
        help="requests, about 6 events each (default: 50,000; 1,000,000 with --issue15)",
    )
    ap.add_argument(
        "--large-requests",
        type=int,
        default=tg.TEN_M,
        help="--issue15: requests of the 10M run (default: %(default)s)",
    )
    ap.add_argument(
        "--rows",
        default=",".join(tg.DEFAULT_RUNS),
        help=f"--issue15: runs to make, from {', '.join(tg.RUNS)} (default: %(default)s)",
    )
    ap.add_argument("--spark", action="store_true", help="--issue15: add the Spark run at 1M")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="--issue15: keep the rows of runs not made now from the results file",
    )
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
    ap.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="passed to timeline build as --jobs N (default: the tool's own default)",
    )
    ap.add_argument(
        "--scaling",
        action="store_true",
        help="also run the parse stage on 1 core and on every core (taskset); print the speed-up",
    )
    ap.add_argument(
        "--gen-jobs", type=int, default=os.cpu_count() or 2, help="corpus generation processes"
    )
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
    ap.add_argument(
        "--parser-only", default="", help="comma-separated parser names (default: every one)"
    )
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.issue15:
        runs = [r.strip() for r in args.rows.split(",") if r.strip()]
        runs = list(tg.RUNS) if runs == ["all"] else runs
        unknown = sorted(set(runs) - set(tg.RUNS))
        if unknown:
            ap.error(f"unknown rows: {', '.join(unknown)} (from {', '.join(tg.RUNS)}, or all)")
        if args.spark and "spark" not in runs:
            runs.append("spark")
        return issue15(args, runs)
    args.requests = args.requests or 50_000
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
        only = [n.strip() for n in args.parser_only.split(",") if n.strip()]
        figures = parser_bench.run_all(
            args.workdir / "parsers", args.parser_mb, only, src=args.timeline_src
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
    corpus, outputs, tag, reused = prepare(args, args.requests, stack)
    results = run_tools(args, tools, corpus, outputs)
    print()
    print(table(results, corpus))
    record = run_record(corpus, results, args.requests, reused)
    if record["ratios"]:
        print()
        print(ratio_lines(record["ratios"]))
    if args.scaling and stack == "current":
        record["scaling"] = scaling(args, corpus, outputs)
    payload = {
        "requests": args.requests,
        "stack": stack,
        "gzip": args.gzip,
        "machine": machine(),
        "timeline_source": source_info(args.timeline_src),
        "timeline_jobs": args.jobs,
    } | {k: v for k, v in record.items() if k not in ("requests", "stack", "gzip")}
    target = args.results or HERE / f"results-{tag}.json"
    if args.results and len(STACKS) > 1 and args.stack == "both":
        target = target.with_name(f"{target.stem}-{stack}{target.suffix}")
    target.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {target}\n")
    cleanup(args, outputs, corpus.root)
    return all(x.ok for x in results)


if __name__ == "__main__":
    sys.exit(main())
