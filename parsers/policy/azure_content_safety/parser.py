"""Azure AI Content Safety responses (text:analyze, shieldPrompt, detectProtectedMaterial)."""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.ids import id_list
from timeline.parserkit.kv import attributes
from timeline.parserkit.records import TERSE_REASONS, read_records, signature_score
from timeline.parserkit.text import captures
from timeline.parserkit.verdicts import no_categories, outcome_columns, verdict_word
from timeline.parserkit.wrappers import first_path, wrapped_object, wrapper_columns

RESPONSE_KEYS: Final = ("response", "result", "body", "analysis")
_LEAF: Final = r'\{[^{}]*"category":"[^"]*"[^{}]*\}'
_BLOCKLIST: Final = r'"blocklistName":"([^"]*)"'


def _response(text: pl.Expr) -> pl.Expr:
    return wrapped_object(text, RESPONSE_KEYS)


class AzureContentSafetyParser:
    """Azure AI Content Safety responses logged one per record with the caller's request id.

    ``severity`` is 0..7 (0, 2, 4, 6 with the default four-level output); ``score`` is the
    highest severity divided by 7. The verdict is ``block`` at ``block_severity`` (4, medium)
    or on any blocklist match, ``flag`` at ``flag_severity`` (2, low), else ``allow``; a
    verdict the caller logged (``verdict`` / ``action`` / ``decision``) wins.
    """

    name = "azure_content_safety"
    layer = "policy"
    description = "Azure AI Content Safety text:analyze / shieldPrompt / detectProtectedMaterial responses (JSON)"
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^\{"

    def __init__(self, block_severity: int = 4, flag_severity: int = 2) -> None:
        self.block_severity = block_severity
        self.flag_severity = flag_severity

    def sniff(self, sample: Sample) -> float:
        """Needs a Content Safety response key."""
        return signature_score(
            sample,
            [
                '"categoriesAnalysis"',
                '"blocklistsMatch"',
                '"userPromptAnalysis"',
                '"protectedMaterialAnalysis"',
                '"hateResult"',
            ],
        )

    def parse(self, source: Source) -> ParseResult:
        """One event per response; objects that are no Content Safety response are rejected."""
        text = pl.col("text")
        resp = pl.col("_resp")
        records = read_records(source.lines, reasons=TERSE_REASONS).with_columns(
            _response(text).alias("_resp")
        )
        analyze = resp.str.contains(r'"(?:categoriesAnalysis|blocklistsMatch|hateResult)"')
        shield = resp.str.contains('"userPromptAnalysis"|"documentsAnalysis"')
        material = resp.str.contains('"protectedMaterialAnalysis"')
        error = resp.str.json_path_match("$.error")
        usable = analyze | shield | material | error.str.starts_with("{")
        kept = records.keep(usable, "not an Azure Content Safety response")
        leaves = resp.str.extract_all(_LEAF)
        levels = leaves.list.eval(
            pl.element().str.json_path_match("$.severity").cast(pl.Int64, strict=False)
        )
        blocklists = captures(resp, _BLOCKLIST).list.unique(maintain_order=True)
        top = levels.list.max()
        user_attack = resp.str.contains('"userPromptAnalysis":\\{"attackDetected":true')
        doc_attack = resp.str.contains('"documentsAnalysis":\\[[^\\]]*"attackDetected":true')
        protected = resp.str.contains('"protectedMaterialAnalysis":\\{"detected":true')
        leaf_level = pl.element().str.json_path_match("$.severity").cast(pl.Int64, strict=False)
        flagged_names = leaves.list.filter(leaf_level >= self.flag_severity).list.eval(
            pl.element().str.json_path_match("$.category")
        )
        categories = pl.concat_list(
            flagged_names,
            blocklists.list.eval(pl.lit("blocklist:") + pl.element()),
            pl.when(user_attack).then(pl.lit(["user_prompt_attack"])).otherwise(no_categories()),
            pl.when(doc_attack).then(pl.lit(["document_attack"])).otherwise(no_categories()),
            pl.when(protected).then(pl.lit(["protected_material"])).otherwise(no_categories()),
        )
        computed = (
            pl.when(error.is_not_null())
            .then(None)
            .when(
                (top >= self.block_severity)
                | (blocklists.list.len() > 0)
                | user_attack
                | doc_attack
                | protected
            )
            .then(pl.lit("block"))
            .when(top >= self.flag_severity)
            .then(pl.lit("flag"))
            .otherwise(pl.lit("allow"))
        )
        verdict = pl.coalesce(
            verdict_word(first_path(text, ["$.verdict", "$.action", "$.decision"])), computed
        )
        policy = (
            pl.when(shield)
            .then(pl.lit("azure_prompt_shields"))
            .when(material)
            .then(pl.lit("azure_protected_material"))
            .otherwise(pl.lit("azure_content_safety"))
        )
        wrapper = wrapper_columns(text, source.settings.timezone)
        stage_out = (wrapper["policy_stage"] == "output").fill_null(False)
        input_text = first_path(text, ["$.input", "$.text", "$.content"])
        error_code = pl.coalesce(
            error.str.json_path_match("$.code"), error.str.json_path_match("$.innererror.code")
        )
        severities = leaves.list.eval(
            pl.element().str.json_path_match("$.category")
            + pl.lit(":")
            + pl.element().str.json_path_match("$.severity")
        ).list.join(",")
        events = kept.frame.select(
            "source_line",
            *[expr.alias(name) for name, expr in wrapper.items()],
            pl.lit("policy.check").alias("event_type"),
            pl.coalesce(first_path(text, ["$.policy_name", "$.policy"]), policy).alias(
                "policy_name"
            ),
            first_path(text, ["$.api_version", "$['api-version']", "$.policy_version"]).alias(
                "policy_version"
            ),
            verdict.alias("verdict"),
            categories.alias("categories"),
            (top.cast(pl.Float64) / 7.0).alias("score"),
            error_code.alias("error_type"),
            error.str.json_path_match("$.message").alias("message"),
            pl.when(stage_out).then(None).otherwise(input_text).alias("prompt_text"),
            pl.when(stage_out).then(input_text).alias("completion_text"),
            first_path(text, ["$.duration_ms", "$.latency_ms"])
            .cast(pl.Float64, strict=False)
            .alias("duration_ms"),
            id_list(
                {"apim_request_id": first_path(text, ["$['apim-request-id']", "$.apim_request_id"])}
            ).alias("ids"),
            attributes(
                {
                    "severities": severities,
                    "max_severity": top,
                    "blocklists": blocklists.list.join(","),
                    "blocklist_items": captures(resp, r'"blocklistItemId":"([^"]*)"').list.join(
                        ","
                    ),
                }
            ).alias("attributes"),
            first_path(text, ["$.status_code", "$.status"])
            .cast(pl.Int64, strict=False)
            .alias("status_code"),
        ).with_columns(
            *outcome_columns(),
        )
        return kept.result(events)
