"""Assertions shared by parser tests."""

from __future__ import annotations

from pathlib import Path

from timeline.ingest.reader import InputReader
from timeline.parse.detect import detect
from timeline.parse.registry import default_registry
from timeline.pipeline.golden import FileRun, run_one


def parsed_fraction(run: FileRun) -> float:
    """Parsed lines over lines that are not blank or banner (skipped)."""
    acc = run.account
    considered = acc.lines_read - acc.lines_skipped
    return acc.lines_parsed / considered if considered else 1.0


def assert_real_log(
    real_logs: Path, filename: str, parser: str, min_fraction: float = 0.95
) -> FileRun:
    """Detection picks ``parser`` for the real sample, and at least ``min_fraction`` of its lines parse.

    Every line is accounted for (parsed, rejected with a reason, or skipped with a reason).
    """
    path = real_logs / filename
    sample, binary = InputReader(path, filename).head()
    assert not binary, f"{filename} looks binary"
    chosen = detect(default_registry(plugins=False), sample)
    assert chosen.parser.name == parser, (
        f"{filename}: detection chose {chosen.parser.name}, expected {parser}"
    )
    run = run_one(path)
    acc = run.account
    assert acc.balanced()
    assert acc.parser == parser
    fraction = parsed_fraction(run)
    rejects = run.rejects.select("source_line", "reason").rows()
    assert fraction >= min_fraction, (
        f"{filename}: parsed {fraction:.0%} < {min_fraction:.0%}; rejects: {rejects}"
    )
    return run
