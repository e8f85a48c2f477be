"""Wall time of the Spark engine against the local engine on a generated corpus.

    python -m benchmarks.spark --requests 50000 [--master local[2]] [--root DIR]
        [--partitions N] [--split-bytes B] [--driver-memory 4g] [--stages] [--json FILE]

Generates (or reuses) the corpus of ``benchmarks.corpus``, builds it with both engines (no
appendix), checks that the timelines are equal, and prints both wall times and their ratio;
``--stages`` also prints the Spark engine's wall time per stage (``timeline.spark.timing``);
``--json`` writes the figures (with the stage times and the machine's load) to a file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

import timeline
from benchmarks.corpus import generate


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; print one line per engine and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--root", type=Path, default=None, help="corpus folder (kept, reused)")
    parser.add_argument("--partitions", type=int, default=0)
    parser.add_argument("--split-bytes", type=int, default=0, help="0: the engine's default")
    parser.add_argument("--driver-memory", default="4g", help="the JVM heap (local mode: all)")
    parser.add_argument("--stages", action="store_true", help="print each stage's wall time")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    stages = _Stages()
    log = logging.getLogger("timeline.spark")
    log.addHandler(stages)
    log.setLevel(logging.INFO)
    if args.stages:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("  stage %(message)s"))
        log.addHandler(handler)
    record: dict[str, Any] = {"requests": args.requests, "master": args.master}
    record["load_start"] = os.getloadavg()[0]

    from pyspark.sql import SparkSession

    from timeline.spark.blocks import SPLIT_BYTES
    from timeline.spark.engine import build_spark

    with tempfile.TemporaryDirectory(prefix="timeline-spark-bench-") as tmp:
        work = Path(tmp)
        corpus = generate(args.root or work / "corpus", args.requests, jobs=2)
        print(f"corpus: {args.requests} requests, {corpus.lines} lines, {corpus.bytes} bytes")
        record.update(lines=corpus.lines, bytes=corpus.bytes)
        started = time.perf_counter()
        timeline.build([corpus.logs], work / "local", report=False)
        local = time.perf_counter() - started
        print(f"local engine: {local:.1f} s")
        spark = (
            SparkSession.builder.master(args.master)
            .appName("ai-timeline-benchmark")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", args.driver_memory)
            .config("spark.ui.showConsoleProgress", "false")
            # Little history on the heap (docs/scale-out.md, "Many builds in one session").
            .config("spark.ui.retainedJobs", "50")
            .config("spark.ui.retainedStages", "50")
            .config("spark.ui.retainedTasks", "5000")
            .config("spark.sql.ui.retainedExecutions", "20")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            started = time.perf_counter()
            build_spark(
                [corpus.logs],
                work / "spark",
                spark=spark,
                partitions=args.partitions,
                split_bytes=args.split_bytes or SPLIT_BYTES,
                report=False,
            )
            remote = time.perf_counter() - started
        finally:
            spark.stop()
        print(f"spark engine ({args.master}): {remote:.1f} s (session start not counted)")
        print(f"ratio spark/local: {remote / local:.2f}")
        same = pl.read_parquet(work / "local" / "timeline.parquet").equals(
            pl.read_parquet(work / "spark" / "timeline.parquet")
        )
        print(f"timelines equal: {same}")
    record.update(
        local_s=round(local, 1),
        spark_s=round(remote, 1),
        ratio=round(remote / local, 2),
        stages_s=stages.seconds,
        timelines_equal=same,
        driver_memory=args.driver_memory,
        load_end=os.getloadavg()[0],
    )
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0 if same else 1


class _Stages(logging.Handler):
    """Collects the ``<stage>: <seconds> s`` records of ``timeline.spark.timing``."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        name, _, rest = record.getMessage().rpartition(": ")
        if name and rest.endswith(" s"):
            self.seconds[name] = self.seconds.get(name, 0.0) + float(rest[:-2])


if __name__ == "__main__":
    raise SystemExit(main())
