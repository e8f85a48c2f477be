"""Mutated fixture lines (real syntax, damaged) never crash a parser or break its line contract.

Random text rarely gets past a parser's first check; damaged real lines reach the deep paths
(this found a llama-stack shield list whose entries did not parse and whose line vanished).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_properties import PARSERS, TOKENS
from timeline.parse.contract import check_contract
from timeline.parserkit.api import LINE_SCHEMA, Parser, Sample, Source, SourceSettings

PARSERS_ROOT = Path(__file__).resolve().parent.parent / "parsers"
SEEDS = sorted(
    {
        line
        for path in PARSERS_ROOT.glob("*/*/golden/*")
        if path.is_file() and not path.name.endswith((".expected.jsonl", ".toml", ".gz", ".md"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
)


@st.composite
def damaged(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(line)))
        op = draw(st.sampled_from(["cut", "insert", "delete", "truncate"]))
        if op == "cut":
            line = line[:at] + line[at + draw(st.integers(1, 8)) :]
        elif op == "insert":
            line = line[:at] + draw(st.sampled_from(TOKENS)) + line[at:]
        elif op == "delete":
            line = line[:at] + line[at + 1 :]
        else:
            line = line[:at]
    return line.replace("\n", " ").replace("\r", " ")


@pytest.mark.slow  # 28 parsers x 30 examples; arbitrary text stays in the default suite
@pytest.mark.parametrize("parser", PARSERS, ids=[p.name for p in PARSERS])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(damaged(), min_size=1, max_size=10))
def test_damaged_real_lines(parser: Parser, texts: list[str]) -> None:
    lines = pl.DataFrame(
        {"source_line": list(range(1, len(texts) + 1)), "line": texts}, schema=LINE_SCHEMA
    )
    if not getattr(parser, "keep_blank", False):
        lines = lines.filter(pl.col("line").str.strip_chars() != "")
    assert 0.0 <= parser.sniff(Sample("x", tuple(t for t in texts if t.strip()))) <= 1.0
    result = parser.parse(Source("x", lines, SourceSettings(year=2025, year_origin="test")))
    assert check_contract(parser, result, lines, "x") is None
