"""MB/s per core of every built-in parser, each on a file of its own format.

    python -m benchmarks.parsers [--mb 20] [--only NAME,...] [--workdir DIR]

A parser's file is its golden inputs (``parsers/<group>/<name>/golden/``, the ``bad-*`` cases
left out, gzip inputs decompressed) repeated until the file holds about ``--mb`` MB. Each parser
then builds its file alone in a fresh subprocess (``timeline build FILE --parser FILE=NAME
--no-correlate``, in-process, one job): the CPU seconds spent inside the parser's ``parse`` calls
and those of the whole build are measured with ``time.process_time`` (all threads of the process;
nothing else runs in it). MB/s per core is the file's bytes over CPU seconds, so a parser that
keeps two cores busy for one second scores the same as one that keeps one core busy for two.

Repeating golden inputs keeps every parser on the shapes its tests cover; the mix is richer in
errors and rare lines than production logs, so the figures are conservative for most formats.
Whole-document inputs (one JSON document per file) do not survive repetition: their lines are
rejected, and the table shows the rejected share so that such rows are read with care.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

HERE: Final = Path(__file__).resolve().parent
REPO: Final = HERE.parent
TARGET_MB: Final = 25.0  # issue 15: every built-in parser at >= 25 MB/s per core


@dataclass
class ParserFigure:
    """One parser on its file."""

    parser: str
    mb: float
    lines: int
    events: int
    rejected: int
    parse_cpu_s: float
    parse_wall_s: float
    build_cpu_s: float
    build_wall_s: float
    error: str = ""
    loadavg_before: float = 0.0  # 1-minute load average around the run (a shared machine)
    loadavg_after: float = 0.0
    expected_events: int = 0  # the golden events times the repetitions (0: unknown)

    @property
    def reproduced(self) -> bool:
        """Whether the repeated file gave at least half the events its golden inputs promise: a
        whole-document input (one JSON document per file) repeated does not, and its figure is
        not a measurement of the parser."""
        return self.expected_events <= 0 or 2 * self.events >= self.expected_events

    @property
    def parse_mb_s(self) -> float:
        """MB per CPU second inside ``parse``."""
        return self.mb / self.parse_cpu_s if self.parse_cpu_s > 0 else 0.0

    @property
    def build_mb_s(self) -> float:
        """MB per CPU second of the whole one-file build (read, parse, normalize, write)."""
        return self.mb / self.build_cpu_s if self.build_cpu_s > 0 else 0.0


def golden_inputs(folder: Path) -> list[Path]:
    """The golden inputs of a parser folder, ``bad-*`` cases left out."""
    golden = folder / "golden"
    if not golden.is_dir():
        return []
    return sorted(
        p
        for p in golden.iterdir()
        if p.is_file()
        and ".expected." not in p.name
        and p.suffix != ".toml"
        and not p.name.startswith("bad")
    )


def golden_unit(folder: Path) -> tuple[bytes, int]:
    """The golden inputs of ``folder`` concatenated (gzip decompressed, each ending with a line
    break) and the number of events their ``.expected.jsonl`` files hold."""
    chunks = []
    events = 0
    for path in golden_inputs(folder):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        chunks.append(data if data.endswith(b"\n") else data + b"\n")
        expected = path.with_name(path.name.split(".", 1)[0] + ".expected.jsonl")
        if expected.is_file():
            events += sum(1 for line in expected.read_bytes().splitlines() if line.strip())
    return b"".join(chunks), events


def expected_events(folder: Path, path: Path) -> int:
    """Events ``path`` (the golden inputs of ``folder`` repeated) should give: the golden events
    times the repetitions."""
    unit, events = golden_unit(folder)
    return events * (path.stat().st_size // len(unit)) if unit else 0


def parser_file(name: str, folder: Path, workdir: Path, mb: float) -> Path | None:
    """Write (or reuse) ``workdir/<name>.<ext>``: the golden inputs repeated to about ``mb`` MB."""
    inputs = golden_inputs(folder)
    if not inputs:
        return None
    unit, _ = golden_unit(folder)
    ext = inputs[0].suffixes[0] if inputs[0].suffix == ".gz" else inputs[0].suffix
    target = workdir / f"{name}{ext or '.log'}"
    size = int(mb * 1e6)
    if target.is_file() and target.stat().st_size >= size:
        return target
    workdir.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        written = 0
        while written < size:
            out.write(unit)
            written += len(unit)
    return target


def measure_one(name: str, path: Path) -> dict[str, Any]:
    """Build ``path`` with parser ``name`` in this process; the CPU and wall seconds (see the
    module docstring) and the file's accounting."""
    from timeline.parse import registry as registry_mod
    from timeline.pipeline import files
    from timeline.pipeline.build import BuildOptions, build

    spent = {"cpu": 0.0, "wall": 0.0}
    original = getattr(files, "safe_parse")  # noqa: B009 (patched below: the parse calls)

    def timed(parser: Any, source: Any) -> Any:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return original(parser, source)
        finally:
            spent["cpu"] += time.process_time() - cpu
            spent["wall"] += time.perf_counter() - wall

    setattr(files, "safe_parse", timed)  # noqa: B010
    registry = registry_mod.default_registry(plugins=False)
    with tempfile.TemporaryDirectory() as tmp:
        options = BuildOptions(
            outdir=Path(tmp), parser_overrides=((path.name, name),), jobs=1, correlate=False
        )
        cpu, wall = time.process_time(), time.perf_counter()
        report = build([str(path)], registry, options)
        build_cpu, build_wall = time.process_time() - cpu, time.perf_counter() - wall
    account = report.accounts[0]
    return {
        "parse_cpu_s": round(spent["cpu"], 3),
        "parse_wall_s": round(spent["wall"], 3),
        "build_cpu_s": round(build_cpu, 3),
        "build_wall_s": round(build_wall, 3),
        "lines": account.lines_read,
        "events": account.events,
        "rejected": account.lines_rejected,
    }


def run_parser(name: str, path: Path, src: Path = REPO, timeout_s: float = 900.0) -> ParserFigure:
    """:func:`measure_one` in a fresh subprocess (the code of ``src``)."""
    mb = path.stat().st_size / 1e6
    cmd = [sys.executable, "-m", "benchmarks.parsers", "--one", name, str(path)]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(src), str(REPO)])}
    load = round(os.getloadavg()[0], 2)
    try:
        done = subprocess.run(
            cmd, cwd=src, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return ParserFigure(
            name, round(mb, 3), 0, 0, 0, 0, 0, 0, 0, f"timeout {timeout_s:.0f} s", load
        )
    after = round(os.getloadavg()[0], 2)
    if done.returncode != 0:
        return ParserFigure(
            name, round(mb, 3), 0, 0, 0, 0, 0, 0, 0, done.stderr[-500:], load, after
        )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return ParserFigure(
        parser=name, mb=round(mb, 3), loadavg_before=load, loadavg_after=after, **got
    )


def builtin_folders() -> list[tuple[str, Path]]:
    """Every built-in parser with its folder."""
    from parsers import builtin_parsers

    return sorted((p.name, folder) for p, _, folder in builtin_parsers() if folder is not None)


def table(figures: Sequence[ParserFigure]) -> str:
    """The figures as a Markdown table (slowest parse first)."""
    rows = [
        "| parser | MB | lines | events | rejected | parse CPU s | parse MB/s/core "
        "| build CPU s | build MB/s/core | >= 25 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for f in sorted(figures, key=lambda f: (f.error == "", f.parse_mb_s)):
        if f.error:
            rows.append(f"| {f.parser} | {f.mb:.1f} | - | - | - | - | - | - | - | error |")
            continue
        share = f"{100 * f.rejected / max(f.lines, 1):.0f} %"
        rows.append(
            f"| {f.parser} | {f.mb:.1f} | {f.lines:,} | {f.events:,} | {share} "
            f"| {f.parse_cpu_s:.2f} | {f.parse_mb_s:.1f} | {f.build_cpu_s:.2f} "
            f"| {f.build_mb_s:.1f} | {'yes' if f.parse_mb_s >= TARGET_MB else 'no'} |"
        )
    return "\n".join(rows)


def run_all(
    workdir: Path, mb: float, only: Sequence[str] = (), src: Path = REPO
) -> list[ParserFigure]:
    """Every built-in parser (or those in ``only``) on its own file; prints as it goes."""
    figures = []
    for name, folder in builtin_folders():
        if only and name not in only:
            continue
        path = parser_file(name, folder, workdir, mb)
        if path is None:
            continue
        figure = run_parser(name, path, src)
        figure.expected_events = expected_events(folder, path)
        figures.append(figure)
        note = figure.error.strip().splitlines()[-1] if figure.error else ""
        print(
            f"  {name}: {figure.parse_mb_s:.1f} MB/s per core in parse, "
            f"{figure.build_mb_s:.1f} in the build {note}",
            flush=True,
        )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.parsers``: the table; ``--one NAME FILE`` measures one (JSON)."""
    ap = argparse.ArgumentParser(description="MB/s per core of every built-in parser.")
    ap.add_argument("--one", nargs=2, metavar=("NAME", "FILE"), help=argparse.SUPPRESS)
    ap.add_argument("--mb", type=float, default=20.0, help="file size per parser (MB)")
    ap.add_argument("--only", default="", help="comma-separated parser names")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ai-timeline-bench" / "parsers",
    )
    ap.add_argument("--timeline-src", type=Path, default=REPO)
    ap.add_argument("--results", type=Path, default=None, help="JSON output path")
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(args.one[0], Path(args.one[1]))))
        return 0
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    figures = run_all(args.workdir, args.mb, only, args.timeline_src)
    print()
    print(table(figures))
    if args.results:
        payload = [asdict(f) | {"parse_mb_s": round(f.parse_mb_s, 2)} for f in figures]
        args.results.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if all(not f.error for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
