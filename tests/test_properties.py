"""Property tests: line accounting, no crashes on arbitrary input, order independence."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timeline.parse.registry import default_registry
from timeline.parserkit.api import LINE_SCHEMA, Parser, Sample, Source, SourceSettings, is_multiline
from timeline.pipeline.build import BuildOptions, build

REGISTRY = default_registry(plugins=False)
PARSERS: list[Parser] = list(REGISTRY)

VALID = '203.0.113.7 - - [02/Mar/2025:10:15:04 +0000] "POST /v1/chat/completions HTTP/1.1" 200 15 "-" "curl/8.5.0"'

line_kinds = st.one_of(
    st.just(VALID.encode()),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\r"),
        max_size=80,
    ).map(str.encode),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    st.just(b""),
)


@pytest.mark.slow  # a build per example: runs in CI's slow step
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(line_kinds, min_size=1, max_size=30), trailing_newline=st.booleans())
def test_every_line_is_parsed_rejected_or_skipped(
    lines: list[bytes], trailing_newline: bool
) -> None:
    data = b"\n".join([VALID.encode(), *lines]) + (b"\n" if trailing_newline else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.log"
        path.write_bytes(data)
        report = build(
            [str(path)],
            REGISTRY,
            BuildOptions(outdir=Path(tmp) / "out", jobs=1, skip_unknown=True, correlate=False),
        )
        account = report.accounts[0]
        expected_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        assert account.lines_read == expected_lines
        assert account.balanced()
        rejects = pl.read_parquet(Path(tmp) / "out" / "rejects.parquet")
        assert rejects.height == account.lines_rejected
        assert rejects["source_line"].null_count() == 0
        assert rejects["reason"].null_count() == 0
        assert rejects["source_line"].is_between(1, expected_lines).all()
        events = pl.read_parquet(Path(tmp) / "out" / "events.parquet")
        assert events.height == account.events
        assert events["event_id"].n_unique() == events.height


# Fragments of real log syntax, so that random lines reach past the first check of a parser.
TOKENS = [
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    ":",
    ",",
    "=",
    " ",
    "-",
    "INFO",
    "ERROR",
    "WARNING",
    "{'type': 'x', 'uid': None}",
    '"message":',
    '"log":',
    '"time":',
    '"ts":',
    '"request_id":',
    '"resourceSpans":',
    '"spans":',
    "Processing event:",
    "Received request chatcmpl-1: prompt: ",
    "2025-03-02T10:15:04.123Z",
    "03-02 10:15:04",
    "[02/Mar/2025:10:15:04 +0000]",
    "2025/03/02 10:15:04",
    "time=2025-03-02T10:15:04Z",
    "level=INFO",
    'msg="x"',
    "took[1.2ms]",
    "null",
    "true",
    "1e999",
    "\\",
    "\t",
    "\u0000",
    "(APIServer pid=1)",
    "[file.py:12]",
    '"GET / HTTP/1.1"',
    "200",
    "unsafe",
    "S1,S10",
    "modr-1",
]
fragment_lines = st.lists(st.sampled_from(TOKENS), max_size=12).map("".join)
free_lines = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\r"), max_size=120
)
arbitrary_lines = st.lists(st.one_of(fragment_lines, free_lines), min_size=1, max_size=25)


@pytest.mark.parametrize("parser", PARSERS, ids=[p.name for p in PARSERS])
@settings(max_examples=25, deadline=None)
@given(texts=arbitrary_lines)
def test_no_parser_crashes_on_arbitrary_text_and_the_line_contract_holds(
    parser: Parser, texts: list[str]
) -> None:
    lines = pl.DataFrame(
        {"source_line": list(range(1, len(texts) + 1)), "line": texts}, schema=LINE_SCHEMA
    )
    if not getattr(parser, "keep_blank", False):
        lines = lines.filter(pl.col("line").str.strip_chars() != "")
    score = parser.sniff(Sample("x", tuple(t for t in texts if t.strip())))
    assert 0.0 <= score <= 1.0
    settings_ = SourceSettings(year=2025, year_origin="test")
    result = parser.parse(Source("x", lines, settings_))
    starts = result.events["source_line"].unique().to_list() if result.events.height else []
    marked = result.rejects["source_line"].to_list() + result.skipped["source_line"].to_list()
    assert len(set(starts) | set(marked)) == len(starts) + len(marked), parser.name
    assert len(starts) + len(marked) + result.merged_lines == lines.height, parser.name
    assert set(starts) | set(marked) <= set(lines["source_line"].to_list()), parser.name
    assert result.rejects["reason"].null_count() == 0, parser.name
    assert is_multiline(parser) in (True, False)


@pytest.mark.slow  # three full builds per example: runs in the slow step of .ci/run
@settings(max_examples=15, deadline=None)
@given(order=st.permutations([0, 1, 2]), split=st.integers(min_value=1, max_value=9))
def test_input_order_does_not_change_the_output(order: list[int], split: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = []
        for i in range(3):
            p = root / f"f{i}.log"
            p.write_text(
                "\n".join([VALID.replace("203.0.113.7", f"10.0.{i}.{j}") for j in range(split)])
                + "\n"
            )
            names.append(str(p))
        build([names[i] for i in order], REGISTRY, BuildOptions(outdir=root / "a", jobs=2))
        build(sorted(names), REGISTRY, BuildOptions(outdir=root / "b", jobs=1))
        for name in ("timeline.parquet", "requests.parquet", "correlation.json"):
            assert (root / "a" / name).read_bytes() == (root / "b" / name).read_bytes(), name


@pytest.mark.parametrize("parser", PARSERS, ids=[p.name for p in PARSERS])
def test_every_parser_takes_an_input_with_no_lines(parser: Parser) -> None:
    """A file (or block) that is all blank lines reaches the parser as zero rows."""
    lines = pl.DataFrame({"source_line": [], "line": []}, schema=LINE_SCHEMA)
    settings_ = SourceSettings(year=2025, year_origin="test")
    result = parser.parse(Source("x", lines, settings_))
    assert (result.events.height, result.rejects.height, result.skipped.height) == (0, 0, 0)
    assert result.merged_lines == 0
