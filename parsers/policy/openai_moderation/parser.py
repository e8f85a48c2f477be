"""OpenAI ``/v1/moderations`` responses, bare or in a service's log wrapper, one per record."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.policy._common import (
    EMPTY_STRINGS,
    Records,
    attrs,
    json_records,
    json_sniff,
    jstr,
    list_max,
    outcome_columns,
    regex_keys,
    verdict_word,
    wrapped_object,
    wrapper_columns,
)
from timeline.parserkit.api import ParseResult as Result
from timeline.parserkit.api import Sample, Source
from timeline.parserkit.frame import id_list

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


def _response(text: pl.Expr) -> pl.Expr:
    """The moderation object: a wrapper's ``response`` (or alias), else the record itself."""
    return wrapped_object(text, RESPONSE_KEYS)


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
        if json_sniff(sample, ['"results"']) == 0.0:
            return 0.0
        return json_sniff(sample, ['"modr-', '"category_scores"', '"flagged"'], needed=2)

    def parse(self, source: Source) -> Result:
        """One event per top-level object; objects without ``results`` or ``error`` are rejected."""
        records = json_records(source.lines)
        text = pl.col("text")
        resp = pl.col("_resp")
        results = pl.col("_results")
        frame = records.frame.with_columns(_response(text).alias("_resp")).with_columns(
            resp.str.json_path_match("$.results").alias("_results"),
            resp.str.json_path_match("$.error").alias("_error"),
        )
        usable = pl.col("_results").str.starts_with("[") | pl.col("_error").str.starts_with("{")
        frame, rejects, merged = Records(frame, records.rejects).keep(
            usable, "not an OpenAI moderation response"
        )
        flagged = results.str.contains('"flagged":true')
        caller = verdict_word(jstr(text, ["$.verdict", "$.action", "$.decision"]))
        verdict = (
            pl.when(pl.col("_error").is_not_null())
            .then(None)
            .otherwise(
                pl.coalesce(
                    caller, pl.when(flagged).then(pl.lit("flag")).otherwise(pl.lit("allow"))
                )
            )
        )
        cats = (
            regex_keys(results, _CATEGORY_TRUE)
            .list.filter(pl.element() != "flagged")
            .list.eval(pl.element().replace(ALIASES))
            .list.unique(maintain_order=True)
        )
        wrapper = wrapper_columns(text, source.settings.timezone)
        mod_id = resp.str.json_path_match("$.id")
        error_type = pl.coalesce(
            pl.col("_error").str.json_path_match("$.code"),
            pl.col("_error").str.json_path_match("$.type"),
        )
        stage_out = wrapper["policy_stage"] == "output"
        input_text = jstr(text, ["$.input", "$.text", "$.content"])
        events = frame.select(
            "source_line",
            *[expr.alias(name) for name, expr in wrapper.items()],
            pl.lit("policy.check").alias("event_type"),
            pl.coalesce(
                jstr(text, ["$.policy_name", "$.policy"]), pl.lit("openai_moderation")
            ).alias("policy_name"),
            resp.str.json_path_match("$.model").alias("policy_version"),
            verdict.alias("verdict"),
            pl.when(pl.col("_error").is_null())
            .then(cats)
            .otherwise(pl.lit([], dtype=EMPTY_STRINGS))
            .alias("categories"),
            list_max(regex_keys(results, _SCORE)).alias("score"),
            error_type.alias("error_type"),
            pl.col("_error").str.json_path_match("$.message").alias("message"),
            pl.when(stage_out.fill_null(False))
            .then(None)
            .otherwise(input_text)
            .alias("prompt_text"),
            pl.when(stage_out.fill_null(False)).then(input_text).alias("completion_text"),
            id_list({"moderation_id": mod_id}).alias("ids"),
            attrs(
                {
                    "results": results.str.count_matches('"flagged":').cast(pl.String),
                    "flagged": flagged.cast(pl.String).str.to_lowercase(),
                    "category_applied_input_types": regex_keys(
                        results, r'"category_applied_input_types":(\{[^{}]*\})'
                    ).list.first(),
                }
            ).alias("attributes"),
            jstr(text, ["$.status_code", "$.status"])
            .cast(pl.Int64, strict=False)
            .alias("status_code"),
            jstr(text, ["$.duration_ms", "$.latency_ms"])
            .cast(pl.Float64, strict=False)
            .alias("duration_ms"),
        ).with_columns(
            *outcome_columns(),
        )
        return Result(events=events, rejects=rejects, merged_lines=merged)
