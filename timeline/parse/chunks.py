"""Where a multi-line parser's input may be cut into chunks, so that no file is held whole.

A multi-line parser is fed chunks that end where a record may end: before the last line that
matches its ``record_start``, or where its own ``cut(lines)`` says. A chunk ends after
:data:`CHUNK_LINES` lines or :data:`CHUNK_BYTES` of text, whichever comes first.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

CHUNK_LINES = 200_000
CHUNK_BYTES = 8 << 20  # a chunk also ends at this much text: wide JSON records decode large


MAX_CARRY_CHUNKS = 4


def cut_at_record(lines: pl.DataFrame, record_start: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Lines before the last line that starts a record, and the rest (carried to the next chunk).

    Multi-line parsers whose records begin with a recognisable line (``record_start``, e.g. a
    ``{`` in the first column) are fed in chunks this way instead of whole files."""
    starts = lines.filter(pl.col("line").str.contains(record_start)).get_column("source_line")
    if starts.len() == 0:
        return lines.clear(), lines
    cut = starts.max()
    return lines.filter(pl.col("source_line") < cut), lines.filter(pl.col("source_line") >= cut)


def cut_by(
    lines: pl.DataFrame, cut: Callable[[pl.DataFrame], int | None]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The parser's own cut (``cut(lines)``: the first line to carry, or None). A carry that grows
    past ``MAX_CARRY_CHUNKS`` chunks (a record that never ends) is parsed as it is."""
    at = cut(lines)
    if at is None or lines.height >= MAX_CARRY_CHUNKS * CHUNK_LINES:
        return lines, lines.clear()
    return lines.filter(pl.col("source_line") < at), lines.filter(pl.col("source_line") >= at)


def text_bytes(lines: pl.DataFrame) -> int:
    return int(lines.get_column("line").str.len_bytes().sum())
