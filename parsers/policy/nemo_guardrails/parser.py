"""NeMo Guardrails runtime logs (``INFO:nemoguardrails...runtime:Processing event: {...}``)."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.policy.nemo_guardrails.payload import decode_all
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source, marks
from timeline.parserkit.frame import severity
from timeline.parserkit.ids import id_list
from timeline.parserkit.kv import attributes
from timeline.parserkit.timestamps import parse_iso8601
from timeline.parserkit.tracebacks import is_continuation
from timeline.parserkit.verdicts import no_categories, verdict_severity, verdict_status

_HEADER: Final = (
    r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?P<logger>nemoguardrails[\w.]*):(?P<msg>.*)$"
)
_PROCESSING: Final = r"^Processing event: (\{.*)$"
_EVENT: Final = r"^Event :: (\w+) (\{.*)$"
# Plain messages that introduce multi-line text (``Prompt for generate_user_intent:``, ``Prompt
# Messages :: ...``, ``LLM Completion :: ...``, an opened ``"""`` block): any line after them up to
# the next header is theirs. After other plain messages only indented or traceback-shaped lines
# continue the message; any other line is a reject.
FREE_TEXT: Final = r'(?::\s*$| :: |"""|\b(?:[Pp]rompt|[Cc]ompletion)\b)'
# Actions that are rails (checks): their results become policy.check events.
RAIL_ACTIONS: Final = (
    r"check|moderation|guard|jailbreak|safety|sensitive|hallucination|protect|activefence"
)
# Result keys whose True means "something bad was found" (inverted polarity).
_NEGATIVE_KEYS: Final = r"^(?:is_|has_|contains|detected|jailbreak|triggered|found)"
# check_facts and friends return an accuracy score; below this it is a block.
FACT_THRESHOLD: Final = 0.5


class NemoGuardrailsParser:
    """NeMo Guardrails verbose runtime logs (Colang 1.0 runtime, 0.x to current).

    Each ``Processing event`` / ``Event ::`` payload is a Python dict literal, decoded with
    :func:`ast.literal_eval`. ``Event ::`` lines that repeat a ``Processing event`` line (same
    ``uid``) are skipped. Results of rail actions become ``policy.check`` events.
    """

    name = "nemo_guardrails"
    layer = "policy"
    description = "NeMo Guardrails verbose runtime log: Processing event / Event :: lines with Python-literal payloads"
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL):nemoguardrails"

    def sniff(self, sample: Sample) -> float:
        """Share of lines written by a ``nemoguardrails`` logger, boosted by event lines."""
        if not sample.lines:
            return 0.0
        frame = sample.frame()
        line = pl.col("line")
        hits = frame.select(
            line.str.contains(_HEADER).sum().alias("nemo"),
            line.str.contains(r":(?:Processing event: \{|Event :: \w+ \{)").sum().alias("events"),
        ).row(0)
        nemo, events = int(hits[0]), int(hits[1])
        if nemo == 0:
            return 0.0
        share = nemo / len(sample.lines)
        return min(0.99, 0.6 * share + (0.39 if events else 0.2))

    def parse(self, source: Source) -> ParseResult:
        """Events for headers; continuation lines of plain messages are merged."""
        lines = source.lines.with_columns(
            pl.col("line").str.extract_groups(_HEADER).alias("_h")
        ).unnest("_h")
        is_header = pl.col("level").is_not_null()
        lines = lines.with_columns(is_header.cum_sum().alias("_grp"))
        msg = pl.col("msg")
        lines = lines.with_columns(
            msg.str.extract(_PROCESSING, 1).alias("_pp"),
            msg.str.extract(_EVENT, 1).alias("_etype"),
            msg.str.extract(_EVENT, 2).alias("_ep"),
        ).with_columns(pl.coalesce("_pp", "_ep").alias("_payload"))
        headers = lines.filter(is_header)
        rest = lines.filter(~is_header)
        plain = headers.filter(pl.col("_payload").is_null())
        free_groups = plain.filter(msg.str.contains(FREE_TEXT)).get_column("_grp")
        grp = pl.col("_grp")
        merge_ok = (grp > 0) & (
            grp.is_in(free_groups.implode())
            | (grp.is_in(plain.get_column("_grp").implode()) & is_continuation(pl.col("line")))
        )
        continuation = rest.filter(merge_ok)
        stray = marks(rest.filter(~merge_ok), "not a NeMo Guardrails log line")
        tails = continuation.group_by("_grp").agg(pl.col("line").str.join("\n").alias("_tail"))

        payloads = headers.filter(pl.col("_payload").is_not_null())
        decoded = pl.concat(
            [payloads.select("source_line", "_etype"), decode_all(payloads.get_column("_payload"))],
            how="horizontal",
        )
        bad = marks(decoded.filter(~pl.col("ok")), "invalid event payload")
        decoded = decoded.filter(pl.col("ok")).with_columns(
            pl.coalesce("p_type", "_etype").alias("p_type"),
            pl.col("_etype").is_not_null().alias("_repeat_form"),
        )
        processed_uids = decoded.filter(~pl.col("_repeat_form")).get_column("p_uid")
        # An ``Event ::`` payload without a uid repeats nothing (is_in gives null: not a repeat).
        repeat = (
            pl.col("_repeat_form") & pl.col("p_uid").is_in(processed_uids.implode())
        ).fill_null(False)
        skipped = marks(decoded.filter(repeat), "repeat of a Processing event line")
        decoded = decoded.filter(~repeat)

        events = pl.concat(
            [
                self._payload_events(decoded, source),
                self._plain_events(headers.filter(pl.col("_payload").is_null()), tails),
            ],
            how="diagonal_relaxed",
        )
        rejects = pl.concat([stray, bad]).cast(MARK_SCHEMA)
        return ParseResult(
            events=events,
            rejects=rejects,
            skipped=skipped.cast(MARK_SCHEMA),
            merged_lines=continuation.height,
        )

    def _plain_events(self, headers: pl.DataFrame, tails: pl.DataFrame) -> pl.DataFrame:
        """``LEVEL:logger:message`` lines without a payload: server.log."""
        joined = headers.join(tails, on="_grp", how="left")
        return joined.select(
            "source_line",
            pl.lit("server.log").alias("event_type"),
            severity(pl.col("level")).alias("severity"),
            pl.concat_str([pl.col("msg"), pl.col("_tail")], separator="\n", ignore_nulls=True)
            .str.strip_chars()
            .alias("message"),
            attributes({"logger": pl.col("logger")}).alias("attributes"),
        )

    def _payload_events(self, frame: pl.DataFrame, source: Source) -> pl.DataFrame:
        """Decoded payloads: rail results become policy.check, the rest server.log."""
        etype = pl.col("p_type")
        action = pl.col("p_action_name")
        is_rail = action.str.contains(RAIL_ACTIONS).fill_null(False) & ~action.str.contains(
            r"^(?:generate|retrieve|create_event)"
        ).fill_null(False)
        finished = etype == "InternalSystemActionFinished"
        stopped = etype == "StopInternalSystemAction"
        check = is_rail & (finished | stopped)
        starts = (
            frame.filter(
                (pl.col("p_type") == "StartInternalSystemAction")
                & pl.col("p_action_uid").is_not_null()
            )
            .select(
                pl.col("p_action_uid"),
                pl.col("p_event_created_at").alias("_started_at"),
            )
            .unique("p_action_uid", keep="first", maintain_order=True)
        )
        frame = frame.join(starts, on="p_action_uid", how="left", maintain_order="left")
        created = parse_iso8601(pl.col("p_event_created_at"), source.settings.timezone)
        started = parse_iso8601(pl.col("_started_at"), source.settings.timezone).ts
        ended = parse_iso8601(pl.col("p_action_finished_at"), source.settings.timezone).ts
        duration = ((ended - started).dt.total_microseconds().cast(pl.Float64) / 1000.0).round(3)
        kind = pl.col("p_return_kind")
        value = pl.col("p_return_value")
        negative = pl.col("p_action_result_key").str.contains(_NEGATIVE_KEYS).fill_null(False)
        truthy = value == "true"
        number = value.cast(pl.Float64, strict=False)
        from_bool = pl.when(truthy != negative).then(pl.lit("allow")).otherwise(pl.lit("block"))
        verdict = (
            pl.when(~check)
            .then(None)
            .when(stopped)
            .then(pl.lit("block"))
            .when(kind.is_in(["bool", "bool_text"]))
            .then(from_bool)
            .when(kind == "dict")
            .then(
                pl.when(pl.col("p_allowed") == "true")
                .then(pl.lit("allow"))
                .when(pl.col("p_allowed") == "false")
                .then(pl.lit("block"))
            )
            .when(kind == "number")
            .then(pl.when(number < FACT_THRESHOLD).then(pl.lit("block")).otherwise(pl.lit("allow")))
            .when(action.str.starts_with("mask_") & (kind == "text"))
            .then(pl.lit("redact"))
        )
        failed = (pl.col("p_is_success") == "false") | (pl.col("p_status") == "failed")
        name_stage = (
            pl.when(action.str.contains("input|jailbreak"))
            .then(pl.lit("input"))
            .when(action.str.contains("output|facts|hallucination"))
            .then(pl.lit("output"))
        )
        stage = pl.coalesce(
            pl.col("p_param_source").replace_strict(
                {"input": "input", "output": "output"}, default=None, return_dtype=pl.String
            ),
            name_stage,
        )
        describe = pl.concat_str(
            [
                etype,
                pl.coalesce(action, pl.col("p_intent"), pl.col("p_script")),
            ],
            separator=" ",
            ignore_nulls=True,
        )
        events = frame.select(
            "source_line",
            pl.col("p_event_created_at").alias("ts_raw"),
            created.ts.alias("ts_source"),
            created.assumed_tz.alias("ts_assumed_tz"),
            pl.when(check)
            .then(pl.lit("policy.check"))
            .otherwise(pl.lit("server.log"))
            .alias("event_type"),
            pl.when(is_rail).then(action).alias("policy_name"),
            pl.when(is_rail).then(stage).alias("policy_stage"),
            verdict.alias("verdict"),
            pl.when(check)
            .then(pl.col("p_violations"))
            .otherwise(no_categories())
            .alias("categories"),
            pl.when(check & (kind == "number")).then(number).alias("score"),
            pl.when(finished).then(duration).alias("duration_ms"),
            pl.when(failed).then(pl.lit("error")).alias("_failed"),
            pl.when(failed).then(pl.coalesce("p_failure_reason", "p_status")).alias("error_type"),
            describe.alias("message"),
            pl.when(etype.is_in(["UserMessage", "UtteranceUserActionFinished"]))
            .then(pl.coalesce("p_text", "p_final_transcript"))
            .alias("prompt_text"),
            pl.when(etype.is_in(["BotMessage", "StartUtteranceBotAction"]))
            .then(pl.coalesce("p_text", "p_script"))
            .alias("completion_text"),
            id_list({"action_uid": pl.col("p_action_uid")}).alias("ids"),
            attributes(
                {
                    "nemo_event": etype,
                    "uid": pl.col("p_uid"),
                    "source_uid": pl.col("p_source_uid"),
                    "action_name": action,
                    "action_result_key": pl.col("p_action_result_key"),
                    # text results may hold user content (masked messages): kind only
                    "return_value": pl.when(kind != "text").then(value),
                    "return_kind": kind,
                    "intent": pl.col("p_intent"),
                    "action_finished_at": pl.col("p_action_finished_at"),
                    "logged_as": pl.when(pl.col("_repeat_form"))
                    .then(pl.lit("Event ::"))
                    .otherwise(pl.lit("Processing event")),
                }
            ).alias("attributes"),
        )
        return events.with_columns(
            pl.coalesce(pl.col("_failed"), verdict_status(pl.col("verdict"))).alias("status"),
            pl.when(pl.col("_failed").is_not_null())
            .then(pl.lit("ERROR"))
            .otherwise(verdict_severity(pl.col("verdict")))
            .alias("severity"),
        ).drop("_failed")
