"""Event ids and content handling, applied when parts are merged (the file's sha256 is known).

* ``event_id`` = first 12 hex digits of the input's sha256, the line, and the index on the line.
* ``prompt_hash`` = sha256 of salt + prompt text (hex, 32 digits), so redacted prompts still join.
* Unless the build keeps content, ``raw``, ``prompt_text`` and ``completion_text`` become null
  and every other string is redacted (:func:`timeline.normalize.redact.redact_frame`):
  credentials and personal data become keyed hash markers that still join.

The salt is secret (:mod:`timeline.normalize.salt`), never derived from the inputs.
"""

from __future__ import annotations

import hashlib

import polars as pl

from timeline.normalize.redact import redact_frame


def prompt_hashes(texts: pl.Series, salt: bytes) -> pl.Series:
    """Salted sha256 of each non-null text (a Python loop over prompts only, not over lines)."""
    out = [
        None if t is None else hashlib.sha256(salt + t.encode("utf-8")).hexdigest()[:32]
        for t in texts.to_list()
    ]
    return pl.Series("prompt_hash", out, dtype=pl.String)


def finish(frame: pl.DataFrame, sha256: str, salt: bytes, keep_content: bool) -> pl.DataFrame:
    """Add ids and hashes; drop content and redact secrets unless ``keep_content``."""
    lines = frame.get_column("source_line")
    if lines.null_count() == 0 and lines.is_sorted():
        # Events in line order (every part is): the index on a line counts from the line's first
        # event, a forward fill instead of a window over every line.
        row = pl.int_range(pl.len())
        first = pl.when(pl.col("source_line") != pl.col("source_line").shift()).then(row)
        sub = row - first.forward_fill().fill_null(0)
    else:
        sub = pl.int_range(pl.len()).over("source_line")
    frame = frame.with_columns(
        pl.concat_str(
            [
                pl.lit(sha256[:12] + ":"),
                pl.col("source_line").cast(pl.String),
                pl.lit(":"),
                sub.cast(pl.String),
            ]
        ).alias("event_id")
    )
    if frame["prompt_text"].null_count() < frame.height:
        frame = frame.with_columns(
            pl.coalesce(pl.col("prompt_hash"), prompt_hashes(frame["prompt_text"], salt)).alias(
                "prompt_hash"
            )
        )
    if not keep_content:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.String).alias("raw"),
            pl.lit(None, dtype=pl.String).alias("prompt_text"),
            pl.lit(None, dtype=pl.String).alias("completion_text"),
        )
        frame = redact_frame(frame, salt)
    return frame
