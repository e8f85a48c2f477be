"""llama-stack shield responses printed as Python reprs (``RunShieldResponse(...)``)."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.policy.llama_guard.parser import CATEGORY_NAMES
from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason
from timeline.parserkit.kv import attributes
from timeline.parserkit.text import nullify, unquote
from timeline.parserkit.timestamps import parse_iso8601
from timeline.parserkit.verdicts import (
    CONFIDENCE_SCORE,
    no_categories,
    verdict_severity,
    verdict_status,
)

_STR: Final = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\""""
_ARGS: Final = rf"""(?:[^()'"]|{_STR}|\((?:[^()'"]|{_STR})*\))*"""
_SHIELD: Final = rf"(?:Sheid|Shield)Response\({_ARGS}\)"
_HEAD: Final = (
    r"(?P<prefix>.*?)(?P<kind>SafetyRunShieldsResponse|RunShieldResponse)\((?P<body>.*)\)\s*$"
)
_TS: Final = r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
_LEVELS: Final = {"error": "block", "warn": "flag", "warning": "flag", "info": "allow"}
_BEDROCK_LEAF: Final = r"\{[^{}]*'type': '[^']*'[^{}]*'action': '[^']*'[^{}]*\}"


def _unquote(expr: pl.Expr) -> pl.Expr:
    """The text of a Python string literal (``'it\\'s'``); ``None`` -> null."""
    return unquote(nullify(expr, ("None",)), "'\"")


def _codes(code: pl.Expr) -> pl.Expr:
    """``'S1,S10'`` -> ``["S1", "S10"]`` (empty list when null)."""
    return (
        code.str.replace_all(r"\s", "")
        .str.split(",")
        .list.filter(pl.element() != "")
        .fill_null(no_categories())
    )


def _names(code: pl.Expr) -> pl.Expr:
    """Llama Guard 3 category names of the codes, comma-joined."""
    return (
        _codes(code)
        .list.eval(
            pl.element().replace_strict(CATEGORY_NAMES, default=None, return_dtype=pl.String)
        )
        .list.drop_nulls()
        .list.join(",")
    )


def _arg(body: pl.Expr, name: str, value: str) -> pl.Expr:
    return body.str.extract(rf"\b{name}=({value})", 1)


def _args(frame: pl.DataFrame, args: dict[str, pl.Expr], unquoted: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` plus the argument texts as columns (each extracted once), ``unquoted`` ones
    read as Python string literals."""
    return frame.with_columns(**args).with_columns(_unquote(pl.col(c)).alias(c) for c in unquoted)


class LlamaStackShieldParser:
    """``SafetyRunShieldsResponse`` / ``RunShieldResponse`` reprs from llama-stack clients and apps.

    One event per shield response (a ``SafetyRunShieldsResponse`` holds one per shield).
    """

    name = "llama_stack_shield"
    layer = "policy"
    description = (
        "llama-stack shield responses printed as Python reprs (Llama Guard and Bedrock shields)"
    )

    def sniff(self, sample: Sample) -> float:
        """Share of lines holding a shield response repr."""
        if not sample.lines:
            return 0.0
        hits = sum(
            1 for line in sample.lines if "ShieldResponse(" in line or "ShieldsResponse(" in line
        )
        return 0.97 * hits / len(sample.lines)

    def parse(self, source: Source) -> ParseResult:
        """Regex over the reprs; truncated or foreign lines are rejected."""
        lines = source.lines
        line = pl.col("line")
        frame = lines.with_columns(line.str.extract_groups(_HEAD).alias("_m"))
        kind = pl.col("_m").struct.field("kind")
        reason = first_reason(
            [
                (~line.str.contains(r"Shields?Response\("), "not a llama-stack shield response"),
                (kind.is_null(), "truncated shield response"),
            ]
        )
        frame = frame.with_columns(reason.alias("_reason"))
        rejects = marks(frame.filter(pl.col("_reason").is_not_null()), pl.col("_reason"))
        good = frame.filter(pl.col("_reason").is_null()).with_columns(
            kind.alias("_kind"),
            pl.col("_m").struct.field("body").alias("_body"),
            pl.col("_m").struct.field("prefix").str.extract(_TS, 1).alias("ts_raw"),
        )
        listed = pl.col("_body").str.contains(r"^\s*responses=\[")
        readable = pl.col("_body").str.extract_all(_SHIELD).list.len() > 0
        empty = good.filter(listed & ~readable)
        rejects = pl.concat(
            [rejects, marks(empty, "shield response list without a readable response")]
        )
        many = good.filter(listed & readable)
        one = good.filter(~listed)
        events = pl.concat([self._many(many), self._one(one)], how="diagonal_relaxed").sort(
            "source_line", maintain_order=True
        )
        ts = parse_iso8601(pl.col("ts_raw"), source.settings.timezone)
        events = events.with_columns(
            ts.ts.alias("ts_source"),
            ts.assumed_tz.alias("ts_assumed_tz"),
            pl.lit("policy.check").alias("event_type"),
            verdict_status(pl.col("verdict")).alias("status"),
            verdict_severity(pl.col("verdict")).alias("severity"),
        )
        return ParseResult(events=events, rejects=rejects)

    def _many(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``SafetyRunShieldsResponse(responses=[...])``: one event per shield response."""
        body = pl.col("_shield")
        exploded = _args(
            frame.with_columns(pl.col("_body").str.extract_all(_SHIELD).alias("_shield")).explode(
                "_shield"
            ),
            {
                "_is_violation": _arg(body, "is_violation", "True|False"),
                "_code": _arg(body, "violation_type", _STR + "|None"),
                "_shield_type": _arg(body, "shield_type", _STR),
                "_message": _arg(body, "violation_return_message", _STR + "|None"),
            },
            unquoted=("_code", "_shield_type", "_message"),
        )
        is_violation = pl.col("_is_violation")
        code = pl.col("_code")
        verdict = (
            pl.when(is_violation == "True")
            .then(pl.lit("block"))
            .when(is_violation == "False")
            .then(pl.lit("allow"))
        )
        return exploded.select(
            "source_line",
            "ts_raw",
            pl.coalesce("_shield_type", pl.lit("llama_stack_shield")).alias("policy_name"),
            verdict.alias("verdict"),
            _codes(code).alias("categories"),
            pl.col("_message").alias("message"),
            attributes(
                {
                    "repr": pl.col("_kind"),
                    "category_names": _names(code),
                    "shield_index": pl.int_range(pl.len()).over("source_line"),
                }
            ).alias("attributes"),
        )

    def _one(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``RunShieldResponse(violation=None | SafetyViolation(...))``."""
        body = pl.col("_body")
        frame = _args(
            frame,
            {
                "_level": _arg(body, "violation_level", _STR),
                "_message": _arg(body, "user_message", _STR + "|None"),
            },
            unquoted=("_level", "_message"),
        )
        level = pl.coalesce(
            body.str.extract(r"violation_level=<ViolationLevel\.\w+: '(\w+)'>", 1), "_level"
        ).str.to_lowercase()
        violated = body.str.contains(r"violation=SafetyViolation\(")
        code = body.str.extract(r"""['"]violation_type['"]: ['"]([^'"]*)['"]""", 1)
        leaves = body.str.extract_all(_BEDROCK_LEAF)
        acted = leaves.list.filter(~pl.element().str.contains("'action': 'NONE'"))
        bedrock_types = acted.list.eval(pl.element().str.extract(r"'type': '(\w+)'", 1))
        bedrock = body.str.contains("'contentPolicy'|'topicPolicy'|'guardrailProcessingLatency'")
        confidence = leaves.list.eval(
            pl.element()
            .str.extract(r"'confidence': '(\w+)'", 1)
            .replace_strict(CONFIDENCE_SCORE, default=None, return_dtype=pl.Float64)
        ).list.max()
        categories = pl.concat_list(
            _codes(code),
            bedrock_types,
        )
        verdict = (
            pl.when(~violated)
            .then(pl.lit("allow"))
            .otherwise(level.replace_strict(_LEVELS, default="block", return_dtype=pl.String))
        )
        return frame.select(
            "source_line",
            "ts_raw",
            pl.when(bedrock)
            .then(pl.lit("bedrock_guardrail"))
            .otherwise(pl.lit("llama_stack_shield"))
            .alias("policy_name"),
            verdict.alias("verdict"),
            categories.alias("categories"),
            pl.when(bedrock).then(confidence).alias("score"),
            body.str.extract(r"'guardrailProcessingLatency': (\d+(?:\.\d+)?)", 1)
            .cast(pl.Float64)
            .alias("duration_ms"),
            pl.col("_message").alias("message"),
            attributes(
                {
                    "repr": pl.col("_kind"),
                    "violation_level": level,
                    "category_names": _names(code),
                }
            ).alias("attributes"),
        )
