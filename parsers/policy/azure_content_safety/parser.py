"""Azure AI Content Safety responses (text:analyze, shieldPrompt, detectProtectedMaterial)."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.ids import id_list
from timeline.parserkit.jsonpaths import decode_lines, jp
from timeline.parserkit.kv import attributes
from timeline.parserkit.records import TERSE_REASONS, read_records, signature_score
from timeline.parserkit.text import captures
from timeline.parserkit.verdicts import no_categories, outcome_columns, verdict_word
from timeline.parserkit.wrappers import (
    RESPONSE_COLUMN,
    WRAPPER_PATHS,
    Response,
    first_decoded,
    first_decoded_key,
    wrapper_columns_from,
)

RESPONSE_KEYS: Final = ("response", "result", "body", "analysis")
_LEAF: Final = r'\{[^{}]*"category":"[^"]*"[^{}]*\}'
_BLOCKLIST: Final = r'"blocklistName":"([^"]*)"'

RESPONSE: Final = Response(
    RESPONSE_KEYS,
    ("$.error.code", "$.error.innererror.code", "$.error.message"),
    response_heads=("$.error",),
)
VERDICT_PATHS: Final = ("$.verdict", "$.action", "$.decision")
INPUT_PATHS: Final = ("$.input", "$.text", "$.content")
POLICY_PATHS: Final = ("$.policy_name", "$.policy")
VERSION_PATHS: Final = ("$.api_version", "$['api-version']", "$.policy_version")
DURATION_PATHS: Final = ("$.duration_ms", "$.latency_ms")
APIM_PATHS: Final = ("$['apim-request-id']", "$.apim_request_id")
STATUS_PATHS: Final = ("$.status_code", "$.status")
PATHS: Final = (
    *WRAPPER_PATHS,
    *VERDICT_PATHS,
    *INPUT_PATHS,
    *POLICY_PATHS,
    *VERSION_PATHS,
    *DURATION_PATHS,
    *APIM_PATHS,
    *STATUS_PATHS,
    *RESPONSE.paths(),
)


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
        resp = pl.col(RESPONSE_COLUMN)
        read = read_records(source.lines, PATHS, reasons=TERSE_REASONS, heads=RESPONSE.heads())
        records = replace(read, frame=RESPONSE.attach(read.frame))
        analyze = resp.str.contains(r'"(?:categoriesAnalysis|blocklistsMatch|hateResult)"')
        shield = resp.str.contains('"userPromptAnalysis"|"documentsAnalysis"')
        material = resp.str.contains('"protectedMaterialAnalysis"')
        error = RESPONSE.head("$.error")
        usable = analyze | shield | material | error.str.starts_with("{")
        kept = records.keep(usable, "not an Azure Content Safety response")
        kept = replace(
            kept,
            frame=kept.frame.with_columns(self._leaf_lists(kept.frame.select(resp).to_series())),
        )
        levels = pl.col("_levels")
        blocklists = captures(resp, _BLOCKLIST).list.unique(maintain_order=True)
        top = levels.list.max()
        user_attack = resp.str.contains('"userPromptAnalysis":\\{"attackDetected":true')
        doc_attack = resp.str.contains('"documentsAnalysis":\\[[^\\]]*"attackDetected":true')
        protected = resp.str.contains('"protectedMaterialAnalysis":\\{"detected":true')
        flagged_names = pl.col("_flagged")
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
        verdict = pl.coalesce(verdict_word(first_decoded(VERDICT_PATHS)), computed)
        policy = (
            pl.when(shield)
            .then(pl.lit("azure_prompt_shields"))
            .when(material)
            .then(pl.lit("azure_protected_material"))
            .otherwise(pl.lit("azure_content_safety"))
        )
        wrapper = wrapper_columns_from(first_decoded_key, source.settings.timezone)
        stage_out = (wrapper["policy_stage"] == "output").fill_null(False)
        input_text = first_decoded(INPUT_PATHS)
        error_code = pl.coalesce(
            RESPONSE.value("$.error.code"), RESPONSE.value("$.error.innererror.code")
        )
        severities = pl.col("_severities").list.join(",")
        events = kept.frame.select(
            "source_line",
            *[expr.alias(name) for name, expr in wrapper.items()],
            pl.lit("policy.check").alias("event_type"),
            pl.coalesce(first_decoded(POLICY_PATHS), policy).alias("policy_name"),
            first_decoded(VERSION_PATHS).alias("policy_version"),
            verdict.alias("verdict"),
            categories.alias("categories"),
            (top.cast(pl.Float64) / 7.0).alias("score"),
            error_code.alias("error_type"),
            RESPONSE.value("$.error.message").alias("message"),
            pl.when(stage_out).then(None).otherwise(input_text).alias("prompt_text"),
            pl.when(stage_out).then(input_text).alias("completion_text"),
            first_decoded(DURATION_PATHS).cast(pl.Float64, strict=False).alias("duration_ms"),
            id_list({"apim_request_id": first_decoded(APIM_PATHS)}).alias("ids"),
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
            first_decoded(STATUS_PATHS).cast(pl.Int64, strict=False).alias("status_code"),
        ).with_columns(
            *outcome_columns(),
        )
        return kept.result(events)

    def _leaf_lists(self, responses: pl.Series) -> list[pl.Series]:
        """Per response, from its category leaves (``{"category": ..., "severity": ...}``, each
        decoded once): the severities (``_levels``), the categories at ``flag_severity`` or more
        (``_flagged``) and ``category:severity`` texts (``_severities``)."""
        leaves = responses.str.extract_all(_LEAF)
        flat = pl.DataFrame(
            {"row": pl.int_range(leaves.len(), eager=True), "leaf": leaves}
        ).explode("leaf", empty_as_null=True, keep_nulls=True)
        decoded = decode_lines(flat.get_column("leaf"), ["$.severity", "$.category"])
        severity, category = jp("$.severity"), jp("$.category")
        level = severity.cast(pl.Int64, strict=False)
        present = pl.col("leaf").is_not_null()
        lists = (
            pl.concat([flat, decoded], how="horizontal")
            .group_by("row", maintain_order=True)
            .agg(
                level.filter(present).alias("_levels"),
                category.filter(present & (level >= self.flag_severity)).alias("_flagged"),
                (category + pl.lit(":") + severity).filter(present).alias("_severities"),
            )
        )
        return [lists.get_column(c) for c in ("_levels", "_flagged", "_severities")]
