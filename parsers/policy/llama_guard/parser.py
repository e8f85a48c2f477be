"""Llama Guard verdicts (``safe`` / ``unsafe\\nS1,S10``) as a service logs them, in JSON records."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.jsonpaths import column_name, jp, key_path
from timeline.parserkit.kv import kv_column
from timeline.parserkit.records import TERSE_REASONS, read_records
from timeline.parserkit.text import clean, nullify
from timeline.parserkit.timestamps import parse_guess, with_parsed
from timeline.parserkit.verdicts import (
    no_categories,
    stage,
    verdict_severity,
    verdict_status,
    verdict_word,
)

# Llama Guard 3 hazard taxonomy (MLCommons), from the Llama Guard 3 model card.
CATEGORY_NAMES: Final = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex-Related Crimes",
    "S4": "Child Sexual Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Suicide & Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}

# Field aliases: canonical role -> JSON keys tried in order (dotted paths allowed).
DEFAULT_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "output": ("output", "response", "generated_text", "completion", "guard_output", "result"),
    "ts": ("ts", "timestamp", "time", "@timestamp", "created_at"),
    "request_id": ("request_id", "requestId", "x_request_id", "req_id", "id"),
    "session_id": ("session_id", "conversation_id", "thread_id"),
    "trace_id": ("trace_id", "traceId"),
    "user_id": ("user_id", "user"),
    "model": ("model", "model_id", "guard_model"),
    "stage": ("stage", "direction", "role", "phase"),
    "verdict": ("verdict", "action", "decision"),
    "score": ("score", "unsafe_score", "unsafe_prob", "probability"),
    "latency": ("latency_ms", "duration_ms", "elapsed_ms"),
    "input": ("input", "prompt", "text", "content"),
    "policy_version": ("policy_version", "guard_version", "categories_version"),
}

_COLUMNS: Final = (
    "source_line",
    "ts_raw",
    "ts_source",
    "ts_assumed_tz",
    "request_id",
    "session_id",
    "trace_id",
    "user_id",
    "event_type",
    "policy_name",
    "policy_version",
    "policy_stage",
    "verdict",
    "categories",
    "score",
    "duration_ms",
    "error_type",
    "message",
    "prompt_text",
    "completion_text",
    "attributes",
    "status",
    "severity",
)
_VERDICT: Final = r"^\s*(safe|unsafe)\s*(?:\n\s*([A-Za-z]\d+(?:\s*,\s*[A-Za-z]\d+)*))?\s*$"


def _paths(names: Sequence[str]) -> list[str]:
    dotted = [n for n in names if "." in n]
    plain = [n for n in names if "." not in n]
    return [*(key_path(n) for n in plain), *(f"$.{n}" for n in dotted)]


class LlamaGuardParser:
    """Llama Guard outputs logged as JSON with a request id; field names through aliases.

    Pass ``aliases`` (role -> keys) to read a service whose field names differ; unnamed roles
    keep :data:`DEFAULT_ALIASES`.
    """

    name = "llama_guard"
    layer = "policy"
    description = (
        "Llama Guard safe/unsafe verdicts (S1..S14) logged as JSON records with a request id"
    )
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^\{"

    def __init__(self, aliases: Mapping[str, Sequence[str]] | None = None) -> None:
        merged = dict(DEFAULT_ALIASES)
        merged.update({k: tuple(v) for k, v in (aliases or {}).items()})
        self.aliases: dict[str, tuple[str, ...]] = merged

    def _get(self, role: str, present: set[str] | None = None) -> pl.Expr:
        """The first present alias of ``role`` (every alias is decoded with the records; with
        ``present``, only the paths that have a value in some record are read)."""
        paths = [p for p in _paths(self.aliases[role]) if present is None or p in present]
        if not paths:
            return pl.lit(None, dtype=pl.String)
        return pl.coalesce([nullify(jp(p)) for p in paths])

    def sniff(self, sample: Sample) -> float:
        """A Llama Guard model name, or an output field holding ``safe`` / ``unsafe``."""
        if not sample.lines or not sample.lines[0].lstrip().startswith("{"):
            return 0.0
        outputs = "|".join(re.escape(k.rsplit(".", 1)[-1]) for k in self.aliases["output"])
        text = "\n".join(sample.lines)
        guard = re.search(r"(?i)llama[-_ ]?guard", text) is not None
        said = re.search(rf'"(?:{outputs})"\s*:\s*"\s*(?:safe|unsafe)\b', text) is not None
        if guard and said:
            return 0.95
        return 0.85 if said else 0.0

    def parse(self, source: Source) -> ParseResult:
        """One event per record that holds a Llama Guard output."""
        paths = [p for names in self.aliases.values() for p in _paths(names)]
        records = read_records(source.lines, paths, reasons=TERSE_REASONS)
        # Aliases a chunk never uses are left out of every coalesce (most services log one).
        height = records.frame.height
        present = {
            p for p in paths if records.frame.get_column(column_name(p)).null_count() < height
        }
        records = records.with_columns(self._get("output", present).alias("_output"))
        records = records.with_columns(
            pl.col("_output").str.replace_all("\\n", "\n", literal=True).alias("_out")
        )
        kept = records.keep(pl.col("_out").is_not_null(), "not a Llama Guard verdict record")
        # Every role's value once (an expression used by several columns runs once per use).
        frame = kept.frame.with_columns(
            *[
                self._get(role, present).alias(f"_{role}")
                for role in self.aliases
                if role != "output"
            ],
            pl.col("_out").str.extract_groups(_VERDICT).alias("_parts"),
        )
        parsed = parse_guess(pl.col("_ts"), source.settings.timezone)
        frame = with_parsed(frame, parsed, "_ts_source", "_ts_assumed_tz")
        frame = frame.with_columns(
            _per_value(
                frame,
                "_stage",
                stage(pl.col("_stage").str.replace(r"(?i)^agent$", "output")),
            ).alias("_stage_value"),
            pl.col("_parts").struct.field("1").alias("_said"),
            pl.col("_parts").struct.field("2").alias("_codes_text"),
            pl.col("_parts")
            .struct.field("2")
            .str.replace_all(r"\s", "")
            .str.to_uppercase()
            .str.split(",")
            .fill_null(no_categories())
            .alias("_codes"),
        )
        said = pl.col("_said")
        codes = pl.col("_codes")
        stage_value = pl.col("_stage_value")
        caller = verdict_word(pl.col("_verdict"))
        verdict = pl.coalesce(
            caller,
            pl.when(said == "unsafe")
            .then(pl.lit("block"))
            .when(said == "safe")
            .then(pl.lit("allow")),
        )
        invalid = said.is_null()
        stage_out = (stage_value == "output").fill_null(False)
        content = pl.col("_input")
        # a few distinct category lists: their names are looked up once each
        names = _per_value(
            frame,
            "_codes_text",
            pl.col("_codes_text")
            .str.replace_all(r"\s", "")
            .str.to_uppercase()
            .str.split(",")
            .list.eval(
                pl.element().replace_strict(CATEGORY_NAMES, default=None, return_dtype=pl.String)
            )
            .list.drop_nulls()
            .list.join(","),
        )
        events = frame.select(
            "source_line",
            pl.col("_ts").alias("ts_raw"),
            pl.col("_ts_source").alias("ts_source"),
            pl.col("_ts_assumed_tz").alias("ts_assumed_tz"),
            pl.col("_request_id").alias("request_id"),
            pl.col("_session_id").alias("session_id"),
            pl.col("_trace_id").alias("trace_id"),
            pl.col("_user_id").alias("user_id"),
            pl.lit("policy.check").alias("event_type"),
            pl.coalesce(pl.col("_model"), pl.lit("llama_guard")).alias("policy_name"),
            pl.col("_policy_version").alias("policy_version"),
            stage_value.alias("policy_stage"),
            verdict.alias("verdict"),
            codes.alias("categories"),
            pl.col("_score").cast(pl.Float64, strict=False).alias("score"),
            pl.col("_latency").cast(pl.Float64, strict=False).alias("duration_ms"),
            pl.when(invalid).then(pl.lit("invalid_guard_output")).alias("error_type"),
            pl.when(invalid).then(pl.col("_out").str.slice(0, 200)).alias("message"),
            pl.when(stage_out).then(None).otherwise(content).alias("prompt_text"),
            pl.when(stage_out).then(content).alias("completion_text"),
        ).with_columns(
            pl.when(pl.col("error_type").is_not_null())
            .then(pl.lit("error"))
            .otherwise(verdict_status(pl.col("verdict")))
            .alias("status"),
            pl.when(pl.col("error_type").is_not_null())
            .then(pl.lit("ERROR"))
            .otherwise(verdict_severity(pl.col("verdict")))
            .alias("severity"),
            kv_column(
                frame,
                {
                    k: clean(v.cast(pl.String))
                    for k, v in {
                        "guard_output": said,
                        "category_names": names,
                        "escaped_newline": pl.when(
                            pl.col("_output").str.contains("\\n", literal=True)
                        ).then(pl.lit("true")),
                    }.items()
                },
            ),
        )
        return kept.result(events.select(_COLUMNS))


def _per_value(frame: pl.DataFrame, column: str, expr: pl.Expr) -> pl.Expr:
    """``expr`` (text from ``column`` alone, null for a null) computed once per distinct value
    of ``column`` (a low-cardinality column: stages, category lists), mapped back per row."""
    values = frame.select(pl.col(column).unique().drop_nulls()).to_series()
    mapped = values.to_frame(column).select(expr).to_series()
    return pl.col(column).replace_strict(values, mapped, default=None, return_dtype=pl.String)
