"""Amazon Bedrock Guardrails assessments: ApplyGuardrail responses and InvokeModel/Converse traces."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.ids import id_list
from timeline.parserkit.kv import attributes
from timeline.parserkit.records import TERSE_REASONS, read_records, signature_score
from timeline.parserkit.text import captures, nullify
from timeline.parserkit.verdicts import (
    CONFIDENCE_SCORE,
    no_categories,
    stage,
    verdict_severity,
    verdict_status,
    verdict_word,
)
from timeline.parserkit.wrappers import (
    RESPONSE_COLUMN,
    WRAPPER_PATHS,
    Response,
    first_decoded,
    first_decoded_key,
    wrapper_columns_from,
)

RESPONSE_KEYS: Final = ("response", "output", "body", "result")
_LEAF: Final = r"\{[^{}]*\}"


def _list_of(key: str) -> str:
    """Regex for the JSON array held by ``key`` (arrays of flat objects only)."""
    return rf'"{key}":\[[^\[\]]*\]'


RESPONSE: Final = Response(
    RESPONSE_KEYS,
    (
        "$.action",
        "$['amazon-bedrock-guardrailAction']",
        "$.stopReason",
        "$.actionReason",
        "$.source",
    ),
    accept='"assessments"|amazon-bedrock-trace|"guardrail"',
)
VERDICT_PATHS: Final = ("$.verdict", "$.decision")
CONTENT_PATHS: Final = ("$.content[0].text.text", "$.input", "$.text")
GUARDRAIL_PATHS: Final = ("$.guardrailIdentifier", "$.guardrailId", "$.guardrail_id")
VERSION_PATHS: Final = ("$.guardrailVersion", "$.guardrail_version")
AWS_ID_PATHS: Final = ("$['x-amzn-RequestId']", "$.aws_request_id", "$.amzn_request_id")
PATHS: Final = (
    *WRAPPER_PATHS,
    *VERDICT_PATHS,
    *CONTENT_PATHS,
    *GUARDRAIL_PATHS,
    *VERSION_PATHS,
    *AWS_ID_PATHS,
    *RESPONSE.paths(),
)


def _leaves(resp: pl.Expr, pattern: str) -> pl.Expr:
    """Every flat object inside the arrays that ``pattern`` matches."""
    return resp.str.extract_all(pattern).list.join(",").str.extract_all(_LEAF)


def _field(name: str) -> pl.Expr:
    return pl.element().str.json_path_match(f"$.{name}")


def _hit() -> pl.Expr:
    """A leaf that acted (any action but NONE) or says it detected something."""
    action = _field("action").fill_null("NONE")
    return (action != "NONE") | (_field("detected") == "true")


def _named(leaves: pl.Expr, prefix: str, field: str) -> pl.Expr:
    return leaves.list.filter(_hit()).list.eval(pl.lit(prefix) + _field(field))


class BedrockGuardrailsParser:
    """Bedrock Guardrails assessments, one event per logged response or trace.

    Verdict: ``block`` when the guardrail intervened with a BLOCKED action, ``redact`` when it
    intervened only by anonymizing, ``flag`` when it did not intervene but a policy reports a
    detection (detect mode), else ``allow``. ``score`` is the highest content-filter
    confidence (NONE 0, LOW 1/3, MEDIUM 2/3, HIGH 1).
    """

    name = "bedrock_guardrails"
    layer = "policy"
    description = "Amazon Bedrock Guardrails ApplyGuardrail responses and InvokeModel/Converse guardrail traces (JSON)"
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^\{"

    def sniff(self, sample: Sample) -> float:
        """Needs a guardrail action or assessment key, written as JSON."""
        return signature_score(
            sample,
            [
                '"GUARDRAIL_INTERVENED"',
                '"amazon-bedrock-guardrailAction"',
                '"guardrailProcessingLatency"',
                '"contentPolicy"',
                '"inputAssessment"',
                '"guardrailIdentifier"',
            ],
        )

    def parse(self, source: Source) -> ParseResult:
        """One event per record holding a guardrail action or assessments."""
        resp = pl.col(RESPONSE_COLUMN)
        read = read_records(source.lines, PATHS, reasons=TERSE_REASONS, heads=RESPONSE.heads())
        records = replace(read, frame=RESPONSE.attach(read.frame))
        action_raw = pl.coalesce(
            RESPONSE.value("$.action"),
            RESPONSE.value("$['amazon-bedrock-guardrailAction']"),
            RESPONSE.value("$.stopReason"),
        )
        assessed = resp.str.contains(
            r'"(?:assessments|inputAssessment|outputAssessments|contentPolicy|topicPolicy|wordPolicy|sensitiveInformationPolicy)"'
        )
        usable = assessed | action_raw.is_not_null()
        kept = records.keep(usable, "not a Bedrock Guardrails response")
        # Values read by several outputs are computed once, as columns (eager polars does not
        # share sub-expressions between the expressions of one select).
        frame = kept.frame.with_columns(
            action_raw.alias("_action"),
            _leaves(resp, r'"contentPolicy":\{[^\[\]]*?"filters":\[[^\[\]]*\]').alias("_filters"),
            _leaves(resp, r'"contextualGroundingPolicy":\{[^\[\]]*?"filters":\[[^\[\]]*\]').alias(
                "_grounding"
            ),
            captures(resp, r'"guardrailProcessingLatency":(\d+(?:\.\d+)?)')
            .list.eval(pl.element().cast(pl.Float64, strict=False))
            .alias("_latency"),
        )
        action_raw = pl.col("_action")
        filters = pl.col("_filters")
        grounding = pl.col("_grounding")
        latency = pl.col("_latency")
        topics = _leaves(resp, _list_of("topics"))
        custom = _leaves(resp, _list_of("customWords"))
        managed = _leaves(resp, _list_of("managedWordLists"))
        pii = _leaves(resp, _list_of("piiEntities"))
        regexes = _leaves(resp, _list_of("regexes"))
        categories = pl.concat_list(
            filters.list.filter(_hit()).list.eval(_field("type")),
            _named(topics, "topic:", "name"),
            custom.list.filter(_hit()).list.eval(pl.lit("word:custom")),
            _named(managed, "word:", "type"),
            _named(pii, "pii:", "type"),
            _named(regexes, "regex:", "name"),
            _named(grounding, "grounding:", "type"),
        ).list.unique(maintain_order=True)
        score = filters.list.eval(
            _field("confidence").replace_strict(
                CONFIDENCE_SCORE, default=None, return_dtype=pl.Float64
            )
        ).list.max()
        action_up = action_raw.str.to_uppercase()
        intervened = action_up.str.contains("INTERVENED")
        blocked = resp.str.contains('"action":"BLOCKED"')
        anonymized = resp.str.contains('"action":"ANONYMIZED"')
        detected = resp.str.contains('"detected":true')
        computed = (
            pl.when(intervened.fill_null(blocked | anonymized))
            .then(pl.when(anonymized & ~blocked).then(pl.lit("redact")).otherwise(pl.lit("block")))
            .when(detected)
            .then(pl.lit("flag"))
            .otherwise(pl.lit("allow"))
        )
        verdict = pl.coalesce(verdict_word(first_decoded(VERDICT_PATHS)), computed)
        guardrail_in_trace = resp.str.extract(
            r'"(?:input|inputAssessment|outputAssessments)":\{"([^"]+)":', 1
        )
        has_in = resp.str.contains(r'"(?:input|inputAssessment)":\{')
        has_out = resp.str.contains(r'"outputAssessments":\{|"outputs":\[\{"[^"]+":\{')
        trace_stage = (
            pl.when(has_in & ~has_out)
            .then(pl.lit("input"))
            .when(has_out & ~has_in)
            .then(pl.lit("output"))
        )
        wrapper = wrapper_columns_from(first_decoded_key, source.settings.timezone)
        wrapper["policy_stage"] = pl.coalesce(
            wrapper["policy_stage"], stage(nullify(RESPONSE.value("$.source"))), trace_stage
        )
        stage_out = (wrapper["policy_stage"] == "output").fill_null(False)
        content = first_decoded(CONTENT_PATHS)
        events = frame.select(
            "source_line",
            *[expr.alias(name) for name, expr in wrapper.items()],
            pl.lit("policy.check").alias("event_type"),
            pl.coalesce(
                first_decoded(GUARDRAIL_PATHS),
                guardrail_in_trace,
                pl.lit("bedrock_guardrails"),
            ).alias("policy_name"),
            first_decoded(VERSION_PATHS).alias("policy_version"),
            verdict.alias("verdict"),
            categories.fill_null(no_categories()).alias("categories"),
            score.alias("score"),
            pl.when(latency.list.len() > 0).then(latency.list.sum()).alias("duration_ms"),
            pl.when(stage_out).then(None).otherwise(content).alias("prompt_text"),
            pl.when(stage_out).then(content).alias("completion_text"),
            id_list({"aws_request_id": first_decoded(AWS_ID_PATHS)}).alias("ids"),
            attributes(
                {
                    "action": action_raw,
                    "action_reason": RESPONSE.value("$.actionReason"),
                    "content_filters": filters.list.eval(
                        _field("type")
                        + pl.lit(":")
                        + _field("confidence")
                        + pl.lit(":")
                        + _field("action")
                    ).list.join(","),
                    "grounding_scores": grounding.list.eval(
                        _field("type") + pl.lit(":") + _field("score")
                    ).list.join(","),
                    "assessments": latency.list.len(),
                }
            ).alias("attributes"),
        ).with_columns(
            verdict_status(pl.col("verdict")).alias("status"),
            verdict_severity(pl.col("verdict")).alias("severity"),
        )
        return kept.result(events)
