"""Policy checks: verdict words, the stage of a check, and the status and severity they give."""

from __future__ import annotations

from typing import Final

import polars as pl

# A caller's action text -> the canonical verdict.
_VERDICT_WORDS: Final = {
    "block": "block",
    "blocked": "block",
    "deny": "block",
    "denied": "block",
    "reject": "block",
    "rejected": "block",
    "refuse": "block",
    "intervened": "block",
    "guardrail_intervened": "block",
    "allow": "allow",
    "allowed": "allow",
    "pass": "allow",
    "passed": "allow",
    "none": "allow",
    "ok": "allow",
    "flag": "flag",
    "flagged": "flag",
    "warn": "flag",
    "redact": "redact",
    "redacted": "redact",
    "mask": "redact",
    "masked": "redact",
    "anonymize": "redact",
    "anonymized": "redact",
}
_INPUT_WORDS: Final = ("input", "in", "prompt", "request", "user", "pre", "pre_call")
_OUTPUT_WORDS: Final = ("output", "out", "completion", "response", "assistant", "post")

# Amazon Bedrock Guardrails content-filter confidence as a score in [0, 1].
CONFIDENCE_SCORE: Final = {"NONE": 0.0, "LOW": 1 / 3, "MEDIUM": 2 / 3, "HIGH": 1.0}


def verdict_word(raw: pl.Expr) -> pl.Expr:
    """Map a caller's action text (``blocked``, ``deny``, ``anonymized`` ...) to a verdict."""
    low = raw.str.strip_chars().str.to_lowercase()
    return low.replace_strict(_VERDICT_WORDS, default=None, return_dtype=pl.String)


def stage(raw: pl.Expr) -> pl.Expr:
    """``input`` | ``output`` from the many ways services name the stage of a check."""
    low = raw.str.to_lowercase().str.strip_chars()
    return (
        pl.when(low.is_in(_INPUT_WORDS))
        .then(pl.lit("input"))
        .when(low.is_in(_OUTPUT_WORDS))
        .then(pl.lit("output"))
        .otherwise(None)
    )


def verdict_status(verdict: pl.Expr) -> pl.Expr:
    """The canonical ``status`` of a policy check: ``blocked`` for a block, else ``ok``."""
    return (
        pl.when(verdict == "block")
        .then(pl.lit("blocked"))
        .when(verdict.is_not_null())
        .then(pl.lit("ok"))
    )


def verdict_severity(verdict: pl.Expr) -> pl.Expr:
    """WARN for a block or a flag, INFO otherwise."""
    return pl.when(verdict.is_in(["block", "flag"])).then(pl.lit("WARN")).otherwise(pl.lit("INFO"))


def outcome_columns() -> list[pl.Expr]:
    """``status`` and ``severity`` of a check response from the columns ``error_type``,
    ``message`` and ``verdict``: rate limited, error, else by verdict."""
    failed = pl.col("error_type").is_not_null() | pl.col("message").is_not_null()
    return [
        pl.when(pl.col("error_type").str.contains("(?i)rate_?limit|429").fill_null(False))
        .then(pl.lit("rate_limited"))
        .when(failed)
        .then(pl.lit("error"))
        .otherwise(verdict_status(pl.col("verdict")))
        .alias("status"),
        pl.when(failed)
        .then(pl.lit("ERROR"))
        .otherwise(verdict_severity(pl.col("verdict")))
        .alias("severity"),
    ]


def no_categories() -> pl.Expr:
    """An empty ``categories`` list."""
    return pl.lit([], dtype=pl.List(pl.String))
