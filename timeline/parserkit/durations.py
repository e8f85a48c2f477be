"""Duration texts to milliseconds: Go / Rust durations and Elasticsearch ``TimeValue`` texts.

Results are Float64 milliseconds rounded to 6 decimals (whole nanoseconds), null when the text
is not a duration of the grammar. Durations are never negative: a sign makes the text invalid.
"""

from __future__ import annotations

from typing import Final

import polars as pl

_NUMBER: Final = r"\d+(?:\.\d+)?"

# Go ``time.Duration.String()`` (``1h2m3.5s``, ``35.68s``, ``6.2826ms``, ``512µs``, ``0s``) and
# Rust ``Duration``'s Debug form (``1.234567s``, ``12.3ms``, ``456µs``, ``12ns``) are sequences of
# ``<number><unit>``, largest unit first, each unit at most once; every number may carry a
# fraction, as ``time.ParseDuration`` accepts (``1.5h``, ``2h45.5m``, ``1s500ms``).
_GO_UNITS: Final = {
    "h": 3_600_000.0,
    "m": 60_000.0,
    "s": 1_000.0,
    "ms": 1.0,
    "us": 1e-3,
    "µs": 1e-3,  # MICRO SIGN
    "μs": 1e-3,  # GREEK SMALL LETTER MU
    "ns": 1e-6,
}
_GO_ORDER: Final = ("h", "m", "s", "ms", "us|µs|μs", "ns")
GO_DURATION_RE: Final = "^" + "".join(rf"(?:{_NUMBER}(?:{u}))?" for u in _GO_ORDER) + "$"
# One ``<number><unit>`` piece (``ms`` tried before ``m``).
_GO_PIECE_RE: Final = rf"{_NUMBER}(?:h|ms|m|s|us|µs|μs|ns)"

# Elasticsearch / OpenSearch ``TimeValue.toString()``: one number and unit (``70.4micros``).
_ES_UNITS: Final = {
    "nanos": 1e-6,
    "micros": 1e-3,
    "ms": 1.0,
    "s": 1_000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
    "d": 86_400_000.0,
}
ES_TIME_VALUE_RE: Final = rf"^(?P<n>{_NUMBER})\s*(?P<u>{'|'.join(_ES_UNITS)})$"


def go_duration_ms(text: pl.Expr) -> pl.Expr:
    """Go / Rust duration text (``1m2.5s``, ``35.68s``, ``6.2ms``, ``456µs``) in milliseconds.

    Blanks and surrounding double quotes are ignored; null when the text is not a duration.
    """
    clean = text.str.strip_chars().str.strip_chars('"')
    piece = pl.element()
    value = piece.str.extract(rf"^({_NUMBER})", 1).cast(pl.Float64, strict=False)
    scale = piece.str.extract(r"([^\d.]+)$", 1).replace_strict(
        _GO_UNITS, default=None, return_dtype=pl.Float64
    )
    total = clean.str.extract_all(_GO_PIECE_RE).list.eval(value * scale).list.sum()
    valid = clean.str.contains(GO_DURATION_RE) & (clean != "")
    # 35.684791792s -> 35684.791792, not 35684.791791999996
    return pl.when(valid).then(total).round(6)


def es_took_ms(text: pl.Expr) -> pl.Expr:
    """``70.4micros`` / ``9.9ms`` / ``1.2s`` (Elasticsearch TimeValue text) in milliseconds."""
    parts = text.str.strip_chars().str.extract_groups(ES_TIME_VALUE_RE)
    value = parts.struct.field("n").cast(pl.Float64, strict=False)
    scale = parts.struct.field("u").replace_strict(_ES_UNITS, default=None, return_dtype=pl.Float64)
    return (value * scale).round(6)
