"""The line contract every parser keeps, and a call that never lets a parser end the run.

Every input line is exactly one of: the first line of an event, a line merged into a multi-line
record (``merged_lines``), a reject or a skipped line. The pipeline checks this on every chunk, and
the golden and property tests use the same check.
"""

from __future__ import annotations

import polars as pl

from timeline.parserkit.api import Parser, ParseResult, Source, marks


def safe_parse(parser: Parser, source: Source) -> ParseResult:
    """Call the parser; an exception turns the chunk into rejects instead of ending the run."""
    try:
        return parser.parse(source)
    except Exception as exc:  # a parser bug must not lose the other files
        # The exception's text can quote log content: only its type goes into the reason.
        reason = f"parser {parser.name} failed: {type(exc).__name__}"
        return ParseResult(
            events=pl.DataFrame({"source_line": []}, schema={"source_line": pl.Int64}),
            rejects=marks(source.lines, reason),
        )


def check_contract(
    parser: Parser, result: ParseResult, lines: pl.DataFrame, name: str
) -> str | None:
    """Each input line is exactly one of: event start, merged, rejected, skipped.

    Returns what is wrong, or None. (A broken contract is a parser bug; the caller rejects the chunk
    with that reason so the run goes on and the accounting stays exact.)"""
    starts = (
        result.events.get_column("source_line").unique()
        if result.events.height
        else pl.Series([], dtype=pl.Int64)
    )
    marked = pl.concat(
        [result.rejects.get_column("source_line"), result.skipped.get_column("source_line")]
    )
    covered = pl.concat([starts.cast(pl.Int64), marked.cast(pl.Int64)])
    if covered.n_unique() != covered.len() or covered.len() + result.merged_lines != lines.height:
        return (
            f"parser {parser.name} broke the line contract on {name}: {lines.height} lines in, "
            f"{starts.len()} event lines + {result.merged_lines} merged + {result.rejects.height} rejected + "
            f"{result.skipped.height} skipped out (a line may be counted once only)"
        )
    if not covered.is_in(lines.get_column("source_line").implode()).all():
        return f"parser {parser.name} reported line numbers not in its input on {name}"
    return None
