"""Helpers shared by the policy parsers: JSON records, field aliases, timestamps, verdicts.

JSON-based policy logs come in two shapes, often in the same deployment: one object per line
(a service logging each check) and pretty-printed objects spanning lines (a response dumped
for debugging). :func:`json_records` turns either into one row per top-level object, with the
object's text compacted by polars' JSON path engine, so the parsers work on one vectorized
frame of records whatever the layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from timeline.parserkit.api import MARK_SCHEMA, Sample
from timeline.parserkit.frame import kv_list, nullify
from timeline.parserkit.timestamps import parse_epoch, parse_iso8601

EMPTY_STRINGS: Final = pl.List(pl.String)

# Common names of the wrapper fields a service writes around a policy response.
TS_KEYS: Final = ("ts", "timestamp", "time", "@timestamp", "created_at", "logged_at")
REQUEST_ID_KEYS: Final = ("request_id", "requestId", "x_request_id", "x-request-id", "req_id")
SESSION_ID_KEYS: Final = ("session_id", "sessionId", "conversation_id", "thread_id")
TRACE_ID_KEYS: Final = ("trace_id", "traceId")
USER_ID_KEYS: Final = ("user_id", "user", "userId")
STAGE_KEYS: Final = ("stage", "direction", "phase", "source")
HOST_KEYS: Final = ("host", "hostname", "pod")


@dataclass(frozen=True)
class Records:
    """Top-level JSON objects of a source: one row each, plus the lines around them."""

    frame: pl.DataFrame  # source_line (first line), lines (all its lines), text (compacted JSON)
    rejects: pl.DataFrame

    def keep(self, condition: pl.Expr, reason: str) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        """Records where ``condition`` holds; the others' lines rejected with ``reason``.

        Returns the kept records, every reject so far, and the number of merged lines (the
        lines of kept records after their first).
        """
        cond = condition.fill_null(False)
        kept = self.frame.filter(cond)
        dropped = (
            self.frame.filter(~cond)
            .select(pl.col("lines").alias("source_line"))
            .explode("source_line")
            .with_columns(pl.lit(reason).alias("reason"))
            .cast(MARK_SCHEMA)
        )
        merged = int(kept.get_column("lines").list.len().sum()) - kept.height
        return kept, pl.concat([self.rejects, dropped]), merged


def empty_marks() -> pl.DataFrame:
    """An empty rejects/skipped frame."""
    return pl.DataFrame(schema=MARK_SCHEMA)


def json_records(lines: pl.DataFrame) -> Records:
    """Group lines into top-level JSON objects (single-line or pretty-printed).

    A line starting with ``{`` opens a record; it closes on the same line when the line is a
    whole object, else at the first line that starts with ``}``. Lines outside any record are
    rejected ("not a JSON object"); the lines of a record that is not valid JSON are rejected
    ("invalid JSON record"). Other lines of a valid record count as merged.
    """
    text = pl.col("line")
    opens = text.str.contains(r"^\{")
    single = opens & text.str.strip_chars_end().str.ends_with("}")
    closes = single | text.str.contains(r"^\}\s*,?\s*$")
    framed = lines.with_columns(
        opens.cum_sum().alias("_rec"),
        closes.cast(pl.Int64).alias("_close"),
    ).with_columns(
        ((pl.col("_close").cum_sum().over("_rec") - pl.col("_close")) > 0).alias("_after"),
    )
    loose = framed.filter((pl.col("_rec") == 0) | pl.col("_after"))
    body = framed.filter((pl.col("_rec") > 0) & ~pl.col("_after"))
    grouped = (
        body.group_by("_rec", maintain_order=True)
        .agg(
            pl.col("source_line").first(),
            pl.col("source_line").alias("lines"),
            pl.col("line").str.join("\n").alias("_raw"),
        )
        .with_columns(pl.col("_raw").str.json_path_match("$").alias("text"))
    )
    valid = grouped.filter(pl.col("text").str.starts_with("{"))
    invalid = grouped.filter(pl.col("text").is_null() | ~pl.col("text").str.starts_with("{"))
    rejects = pl.concat(
        [
            loose.select("source_line", pl.lit("not a JSON object").alias("reason")),
            invalid.select(pl.col("lines").alias("source_line"))
            .explode("source_line")
            .with_columns(pl.lit("invalid JSON record").alias("reason")),
        ]
    ).cast(MARK_SCHEMA)
    return Records(valid.select("source_line", "lines", "text"), rejects)


def sample_text(sample: Sample) -> str:
    """The sample's lines as one text."""
    return "\n".join(sample.lines)


def json_sniff(sample: Sample, signatures: Sequence[str], needed: int = 1) -> float:
    """Score a JSON sample: it must open with ``{`` and hold ``needed`` of ``signatures``.

    Signatures are plain substrings (usually quoted key names), so pretty-printed and
    single-line objects score alike.
    """
    if not sample.lines or not sample.lines[0].lstrip().startswith("{"):
        return 0.0
    text = sample_text(sample)
    hits = sum(1 for s in signatures if s in text)
    if hits < needed:
        return 0.0
    return min(0.8 + 0.05 * hits, 0.97)


def jstr(text: pl.Expr, paths: Sequence[str]) -> pl.Expr:
    """The first non-null of several JSON paths, as text; ``-`` and empty mean null."""
    exprs = [nullify(text.str.json_path_match(p)) for p in paths]
    return exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)


def keys(prefix: str, names: Sequence[str]) -> list[str]:
    """JSON paths ``<prefix>.<name>`` for each alias (``$`` for the top level)."""
    out = []
    for name in names:
        if name.replace("_", "").isalnum():
            out.append(f"{prefix}.{name}")
        else:
            out.append(f"{prefix}['{name}']")
    return out


def timestamp(raw: pl.Expr, timezone: str = "UTC") -> tuple[pl.Expr, pl.Expr]:
    """ISO 8601 text or an epoch number (s, ms, µs or ns, by its number of digits)."""
    iso = parse_iso8601(raw, timezone)
    digits = raw.str.extract(r"^(\d+)(?:\.\d+)?$").str.len_chars()
    epoch = (
        pl.when(digits <= 11)
        .then(parse_epoch(raw, "epoch_s").ts)
        .when(digits <= 14)
        .then(parse_epoch(raw, "epoch_ms").ts)
        .when(digits <= 17)
        .then(parse_epoch(raw, "epoch_us").ts)
        .when(digits <= 20)
        .then(parse_epoch(raw, "epoch_ns").ts)
    )
    ts = pl.coalesce(iso.ts, epoch)
    assumed = pl.when(iso.ts.is_not_null()).then(iso.assumed_tz).when(epoch.is_not_null())
    return ts, assumed.then(False)


def stage(raw: pl.Expr) -> pl.Expr:
    """``input`` | ``output`` from the many ways services name the stage."""
    low = raw.str.to_lowercase().str.strip_chars()
    return (
        pl.when(low.is_in(["input", "in", "prompt", "request", "user", "pre", "pre_call"]))
        .then(pl.lit("input"))
        .when(low.is_in(["output", "out", "completion", "response", "assistant", "post"]))
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


def regex_keys(text: pl.Expr, pattern: str) -> pl.Expr:
    """Every first capture group of ``pattern`` in ``text`` (a list, empty when none)."""
    return (
        text.str.extract_all(pattern)
        .list.eval(pl.element().str.extract(pattern, 1))
        .fill_null(pl.lit([], dtype=EMPTY_STRINGS))
    )


def list_max(values: pl.Expr) -> pl.Expr:
    """The largest number of a list of numeric strings (null when empty)."""
    return values.list.eval(pl.element().cast(pl.Float64, strict=False)).list.max()


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


def verdict_word(raw: pl.Expr) -> pl.Expr:
    """Map a caller's action text (``blocked``, ``deny``, ``anonymized`` ...) to a verdict."""
    low = raw.str.strip_chars().str.to_lowercase()
    return low.replace_strict(_VERDICT_WORDS, default=None, return_dtype=pl.String)


def wrapper_columns(text: pl.Expr, timezone: str = "UTC") -> dict[str, pl.Expr]:
    """Canonical columns from the wrapper a service writes around a policy response.

    Aliases (first found wins): ts ``ts|timestamp|time|@timestamp|created_at|logged_at``;
    request id ``request_id|requestId|x_request_id|x-request-id|req_id``; session
    ``session_id|sessionId|conversation_id|thread_id``; trace ``trace_id|traceId``; user
    ``user_id|user|userId``; stage ``stage|direction|phase|source``; host ``host|hostname|pod``.
    """
    ts_raw = jstr(text, keys("$", TS_KEYS))
    ts, assumed = timestamp(ts_raw, timezone)
    return {
        "ts_raw": ts_raw,
        "ts_source": ts,
        "ts_assumed_tz": assumed,
        "request_id": jstr(text, keys("$", REQUEST_ID_KEYS)),
        "session_id": jstr(text, keys("$", SESSION_ID_KEYS)),
        "trace_id": jstr(text, keys("$", TRACE_ID_KEYS)),
        "user_id": jstr(text, keys("$", USER_ID_KEYS)),
        "policy_stage": stage(jstr(text, keys("$", STAGE_KEYS))),
        "host": jstr(text, keys("$", HOST_KEYS)),
    }


def attrs(pairs: dict[str, pl.Expr]) -> pl.Expr:
    """``attributes`` from ``pairs``, leaving out nulls and empty texts."""
    return kv_list({k: nullify(v.cast(pl.String)) for k, v in pairs.items()})


def outcome_columns() -> list[pl.Expr]:
    """``status`` and ``severity`` of a check response: rate limited, error, else by verdict."""
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


def wrapped_object(text: pl.Expr, keys: Sequence[str], accept: str = r"^\{") -> pl.Expr:
    """The response a wrapper holds under one of ``keys`` (the first whose text matches
    ``accept``), else the record itself."""
    inner = [text.str.json_path_match(f"$.{k}") for k in keys]
    return pl.coalesce(pl.coalesce([pl.when(i.str.contains(accept)).then(i) for i in inner]), text)
