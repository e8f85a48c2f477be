"""OpenAI ``/v1/moderations`` responses, bare or in a service's log wrapper, one per record."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.ids import id_list
from timeline.parserkit.kv import attributes
from timeline.parserkit.records import TERSE_REASONS, read_records, signature_score
from timeline.parserkit.text import captures, list_max
from timeline.parserkit.verdicts import no_categories, outcome_columns, verdict_word
from timeline.parserkit.wrappers import (
    RESPONSE_COLUMN,
    WRAPPER_PATHS,
    Response,
    first_decoded,
    first_decoded_key,
    wrapper_columns_from,
)

# The underscore aliases the API repeats beside the slash names; the slash form is kept.
ALIASES: Final = {
    "self_harm": "self-harm",
    "self_harm_intent": "self-harm/intent",
    "self_harm_instructions": "self-harm/instructions",
    "sexual_minors": "sexual/minors",
    "hate_threatening": "hate/threatening",
    "harassment_threatening": "harassment/threatening",
    "violence_graphic": "violence/graphic",
    "illicit_violent": "illicit/violent",
}
RESPONSE_KEYS: Final = ("response", "moderation", "body", "result")
_CATEGORY_TRUE: Final = r'"([^"]+)":true'
_SCORE: Final = r'"[^"]+":(-?\d[\d.eE+-]*)'
# The moderation object: a wrapper's ``response`` (or alias), else the record itself.
RESPONSE: Final = Response(
    RESPONSE_KEYS,
    ("$.id", "$.model", "$.error.code", "$.error.type", "$.error.message"),
    response_heads=("$.error",),
)
VERDICT_PATHS: Final = ("$.verdict", "$.action", "$.decision")
INPUT_PATHS: Final = ("$.input", "$.text", "$.content")
POLICY_PATHS: Final = ("$.policy_name", "$.policy")
STATUS_PATHS: Final = ("$.status_code", "$.status")
DURATION_PATHS: Final = ("$.duration_ms", "$.latency_ms")
PATHS: Final = (
    *WRAPPER_PATHS,
    *VERDICT_PATHS,
    *INPUT_PATHS,
    *POLICY_PATHS,
    *STATUS_PATHS,
    *DURATION_PATHS,
    *RESPONSE.paths(),
)


class OpenAIModerationParser:
    """OpenAI moderation responses (``modr-`` ids), one event per response."""

    name = "openai_moderation"
    layer = "policy"
    description = "OpenAI /v1/moderations responses, bare or in a request-id wrapper (JSON lines or pretty-printed)"
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^\{"

    def sniff(self, sample: Sample) -> float:
        """Needs ``"results"`` plus a ``modr-`` id or ``"category_scores"``."""
        if signature_score(sample, ['"results"']) == 0.0:
            return 0.0
        return signature_score(sample, ['"modr-', '"category_scores"', '"flagged"'], needed=2)

    def parse(self, source: Source) -> ParseResult:
        """One event per top-level object; objects without ``results`` or ``error`` are rejected."""
        results = pl.col("_results")
        error = pl.col("_error")
        read = read_records(source.lines, PATHS, reasons=TERSE_REASONS, heads=RESPONSE.heads())
        frame = RESPONSE.attach(read.frame)
        frame = frame.with_columns(
            frame.get_column(RESPONSE_COLUMN).str.json_path_match("$.results").alias("_results"),
            RESPONSE.head("$.error").alias("_error"),
        )
        records = replace(read, frame=frame)
        usable = results.str.starts_with("[") | error.str.starts_with("{")
        kept = records.keep(usable, "not an OpenAI moderation response")
        flagged = results.str.contains('"flagged":true')
        caller = verdict_word(first_decoded(VERDICT_PATHS))
        verdict = (
            pl.when(error.is_not_null())
            .then(None)
            .otherwise(
                pl.coalesce(
                    caller, pl.when(flagged).then(pl.lit("flag")).otherwise(pl.lit("allow"))
                )
            )
        )
        cats = (
            captures(results, _CATEGORY_TRUE)
            .list.filter(pl.element() != "flagged")
            .list.eval(pl.element().replace(ALIASES))
            .list.unique(maintain_order=True)
        )
        wrapper = wrapper_columns_from(first_decoded_key, source.settings.timezone)
        mod_id = RESPONSE.value("$.id")
        error_type = pl.coalesce(RESPONSE.value("$.error.code"), RESPONSE.value("$.error.type"))
        stage_out = wrapper["policy_stage"] == "output"
        input_text = first_decoded(INPUT_PATHS)
        events = kept.frame.select(
            "source_line",
            *[expr.alias(name) for name, expr in wrapper.items()],
            pl.lit("policy.check").alias("event_type"),
            pl.coalesce(first_decoded(POLICY_PATHS), pl.lit("openai_moderation")).alias(
                "policy_name"
            ),
            RESPONSE.value("$.model").alias("policy_version"),
            verdict.alias("verdict"),
            pl.when(error.is_null()).then(cats).otherwise(no_categories()).alias("categories"),
            list_max(captures(results, _SCORE)).alias("score"),
            error_type.alias("error_type"),
            RESPONSE.value("$.error.message").alias("message"),
            pl.when(stage_out.fill_null(False))
            .then(None)
            .otherwise(input_text)
            .alias("prompt_text"),
            pl.when(stage_out.fill_null(False)).then(input_text).alias("completion_text"),
            id_list({"moderation_id": mod_id}).alias("ids"),
            attributes(
                {
                    "results": results.str.count_matches('"flagged":').cast(pl.String),
                    "flagged": flagged.cast(pl.String).str.to_lowercase(),
                    "category_applied_input_types": captures(
                        results, r'"category_applied_input_types":(\{[^{}]*\})'
                    ).list.first(),
                }
            ).alias("attributes"),
            first_decoded(STATUS_PATHS).cast(pl.Int64, strict=False).alias("status_code"),
            first_decoded(DURATION_PATHS).cast(pl.Float64, strict=False).alias("duration_ms"),
        ).with_columns(
            *outcome_columns(),
        )
        return kept.result(events)
