"""NeMo Guardrails tracing output from its FileSystem adapter (``trace.jsonl``): one event per span."""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.kv import attributes
from timeline.parserkit.records import TERSE_REASONS, read_records, signature_score
from timeline.parserkit.text import nullify, on_rows
from timeline.parserkit.timestamps import parse_epoch
from timeline.parserkit.verdicts import verdict_severity, verdict_status

# Span times are seconds relative to the first rail; values above this are epoch seconds.
EPOCH_FLOOR: Final = 1e9


_NESTED: Final = ("$.attributes", "$.error")

# Every JSON path a span is read at (each becomes one column, see ``_events``).
_PATHS: Final = (
    "$.name",
    "$.start_time",
    "$.duration",
    "$.attributes['rail.name']",
    "$.attributes['rail.type']",
    "$.attributes['gen_ai.request.model']",
    "$.attributes['gen_ai.response.model']",
    "$.attributes['rail.stop']",
    "$.error.occurred",
    "$.metrics",
    "$.span_id",
    "$.parent_id",
    "$.attributes['gen_ai.provider.name']",
    "$.attributes['gen_ai.usage.input_tokens']",
    "$.attributes['gen_ai.usage.output_tokens']",
    "$.attributes['gen_ai.response.finish_reasons']",
    "$.attributes['gen_ai.response.id']",
    "$.error.type",
    "$.span_type",
    "$.span_kind",
    "$.end_time",
    "$.attributes['rail.decisions']",
    "$.attributes['action.name']",
    "$.attributes['gen_ai.operation.name']",
    "$.error.message",
)


def _read_paths(spans: pl.DataFrame) -> pl.DataFrame:
    """One column per :data:`_PATHS` item (``_p0``, ``_p1``...).

    Paths under ``$.attributes`` and ``$.error`` are read from that object's text (taken once)
    rather than from the whole span: the same values (the object's text is its JSON, read back),
    at a fraction of the parsing. Where the value is not an object (a string, an array), or the
    probe cannot tell, the path is read from the span as before."""
    span = pl.col("_span")
    plain = {i: p for i, p in enumerate(_PATHS) if not p.startswith(_NESTED)}
    spans = spans.with_columns(
        [_get(span, p).alias(f"_p{i}") for i, p in plain.items()]
        + [span.str.json_path_match(f"$.{n}").alias(f"_{n}") for n in ("attributes", "error")]
    )
    for nested in ("attributes", "error"):
        text = pl.col(f"_{nested}")
        # an object: its text starts with ``{`` and, in the span, it has a member (or is
        # empty); a string value that looks like one has no member for ``.*`` to reach
        spans = on_rows(
            spans,
            text.str.starts_with("{"),
            {"_probe": span.str.json_path_match(f"$.{nested}.*")},
        )
        is_object = text.str.starts_with("{") & ((text == "{}") | pl.col("_probe").is_not_null())
        spans = spans.with_columns(is_object.fill_null(False).alias("_object"))
        paths = {i: p for i, p in enumerate(_PATHS) if p.startswith(f"$.{nested}")}
        spans = on_rows(
            spans,
            pl.col("_object"),
            {f"_p{i}": _get(text, "$" + p[len(f"$.{nested}") :]) for i, p in paths.items()},
        )
        spans = on_rows(
            spans,
            text.is_not_null() & ~pl.col("_object"),
            {f"_q{i}": _get(span, p) for i, p in paths.items()},
        )
        spans = spans.with_columns(
            [pl.coalesce(f"_p{i}", f"_q{i}").alias(f"_p{i}") for i in paths]
        ).drop("_probe", "_object", *[f"_q{i}" for i in paths])
    return spans


def _get(span: pl.Expr, path: str) -> pl.Expr:
    return nullify(span.str.json_path_match(path))


def _path(path: str) -> pl.Expr:
    """The column holding ``path``'s value (:data:`_PATHS`)."""
    return pl.col(f"_p{_PATHS.index(path)}")


class NemoGuardrailsTraceParser:
    """``trace.jsonl`` of NeMo Guardrails' FileSystem tracing adapter.

    Layouts: the original adapter (pretty-printed with ``indent=2``, legacy spans with
    ``metrics``), and the later one (one line per interaction, ``schema_version`` 1.0 legacy
    spans or 2.0 OpenTelemetry-style spans with ``span_kind`` and ``attributes``). One event per
    span with ``duration_ms``; rail spans become ``policy.check``, LLM spans inference events.
    """

    name = "nemo_guardrails_trace"
    layer = "policy"
    description = (
        "NeMo Guardrails FileSystem tracing adapter output (trace.jsonl): one event per span"
    )
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^\{"

    def sniff(self, sample: Sample) -> float:
        """Needs ``"spans"`` and the span keys of the adapter."""
        if signature_score(sample, ['"spans"']) == 0.0:
            return 0.0
        return signature_score(
            sample,
            ['"span_id"', '"parent_id"', '"duration"', '"trace_id"', '"start_time"'],
            needed=4,
        )

    def parse(self, source: Source) -> ParseResult:
        """Split each interaction into its spans (by index, vectorized per index)."""
        text = pl.col("text")
        spans = pl.col("_spans")
        records = read_records(source.lines, reasons=TERSE_REASONS).with_columns(
            text.str.json_path_match("$.spans").alias("_spans")
        )
        records = records.keep(
            spans.str.starts_with("["), "not a NeMo Guardrails trace record"
        ).skip(pl.when(~spans.str.contains(r"\{")).then(pl.lit("trace without spans")))
        kept = records.frame.select("source_line", "_spans")
        counts = kept.select(spans.str.count_matches(r'"span_id":').max()).item()
        parts = []
        for index in range(max(int(counts or 0), 1)):
            part = kept.select(
                "source_line",
                spans.str.json_path_match(f"$[{index}]").alias("_span"),
                pl.lit(index, dtype=pl.Int64).alias("_index"),
            ).filter(pl.col("_span").str.starts_with("{"))
            parts.append(part)
        spans_frame = pl.concat(parts).sort("source_line", "_index", maintain_order=True)
        # the record's own fields: read once per record, not once per span index
        header = records.frame.select(
            "source_line",
            text.str.json_path_match("$.trace_id").alias("trace_id"),
            text.str.json_path_match("$.schema_version").alias("_schema"),
        )
        spans_frame = spans_frame.join(
            header, on="source_line", how="left", maintain_order="left"
        ).select("source_line", "trace_id", "_schema", "_span", "_index")
        return records.result(self._events(spans_frame))

    def _events(self, spans: pl.DataFrame) -> pl.DataFrame:
        # Each JSON path is read once into a column (an eager select repeats a repeated
        # expression, and every read parses the span's text).
        spans = _read_paths(spans)
        name = _path("$.name")
        start = _path("$.start_time").cast(pl.Float64, strict=False)
        duration_s = _path("$.duration").cast(pl.Float64, strict=False)
        rail_name = pl.coalesce(
            _path("$.attributes['rail.name']"), name.str.extract(r"^rail: (.+)$", 1)
        )
        rail_type = _path("$.attributes['rail.type']")
        is_rail = (name == "guardrails.rail") | name.str.starts_with("rail: ")
        is_action = (name == "guardrails.action") | name.str.starts_with("action: ")
        is_request = name.is_in(["guardrails.request", "interaction"])
        model = pl.coalesce(
            _path("$.attributes['gen_ai.request.model']"),
            _path("$.attributes['gen_ai.response.model']"),
            name.str.extract(r"^LLM: (.+)$", 1),
        )
        is_llm = model.is_not_null() & ~is_rail & ~is_action & ~is_request
        stop = _path("$.attributes['rail.stop']")
        verdict = (
            pl.when(~is_rail)
            .then(None)
            .when(stop == "true")
            .then(pl.lit("block"))
            .when(stop == "false")
            .then(pl.lit("allow"))
        )
        stage_text = pl.coalesce(rail_type, rail_name)
        stage = (
            pl.when(stage_text.str.contains(r"(?i)\binput\b|jailbreak"))
            .then(pl.lit("input"))
            .when(stage_text.str.contains(r"(?i)\boutput\b|fact|hallucination"))
            .then(pl.lit("output"))
        )
        error = _path("$.error.occurred") == "true"
        legacy_tokens = _path("$.metrics").str.extract(r'_prompt_tokens_total":(\d+)', 1)
        legacy_out = _path("$.metrics").str.extract(r'_completion_tokens_total":(\d+)', 1)
        epoch = parse_epoch(start.cast(pl.String), "epoch_s").ts
        event_type = (
            pl.when(is_rail)
            .then(pl.lit("policy.check"))
            .when(is_llm)
            .then(pl.lit("inference.response"))
            .otherwise(pl.lit("server.log"))
        )
        events = spans.select(
            "source_line",
            pl.when(start > EPOCH_FLOOR).then(start.cast(pl.String)).alias("ts_raw"),
            pl.when(start > EPOCH_FLOOR).then(epoch).alias("ts_source"),
            pl.when(start > EPOCH_FLOOR).then(pl.lit(False)).alias("ts_assumed_tz"),
            pl.when(is_llm).then(pl.lit("inference")).otherwise(pl.lit("policy")).alias("layer"),
            event_type.alias("event_type"),
            nullify(pl.col("trace_id")).alias("trace_id"),
            _path("$.span_id").alias("span_id"),
            _path("$.parent_id").alias("parent_span_id"),
            (duration_s * 1000.0).alias("duration_ms"),
            name.alias("message"),
            pl.when(is_rail).then(rail_name).alias("policy_name"),
            pl.when(is_rail).then(stage).alias("policy_stage"),
            verdict.alias("verdict"),
            pl.when(is_llm).then(model).alias("model"),
            pl.when(is_llm).then(_path("$.attributes['gen_ai.provider.name']")).alias("provider"),
            pl.when(is_llm)
            .then(pl.coalesce(_path("$.attributes['gen_ai.usage.input_tokens']"), legacy_tokens))
            .cast(pl.Int64, strict=False)
            .alias("input_tokens"),
            pl.when(is_llm)
            .then(pl.coalesce(_path("$.attributes['gen_ai.usage.output_tokens']"), legacy_out))
            .cast(pl.Int64, strict=False)
            .alias("output_tokens"),
            pl.when(is_llm)
            .then(
                _path("$.attributes['gen_ai.response.finish_reasons']").str.extract(r'"([^"]+)"', 1)
            )
            .alias("finish_reason"),
            pl.when(is_llm).then(_path("$.attributes['gen_ai.response.id']")).alias("request_id"),
            pl.when(error).then(pl.lit("error")).alias("_error"),
            pl.when(error)
            .then(pl.coalesce(_path("$.error.type"), pl.lit("error")))
            .alias("error_type"),
            attributes(
                {
                    "schema_version": pl.col("_schema"),
                    "span_type": _path("$.span_type"),
                    "span_kind": _path("$.span_kind"),
                    "span_index": pl.col("_index"),
                    "start_offset_s": pl.when(start <= EPOCH_FLOOR).then(start),
                    "end_offset_s": pl.when(start <= EPOCH_FLOOR).then(_path("$.end_time")),
                    "rail_type": rail_type,
                    "rail_decisions": _path("$.attributes['rail.decisions']"),
                    "action_name": pl.coalesce(
                        _path("$.attributes['action.name']"), name.str.extract(r"^action: (.+)$", 1)
                    ),
                    "operation": _path("$.attributes['gen_ai.operation.name']"),
                    "error_message": _path("$.error.message"),
                    "metrics": nullify(_path("$.metrics"), ["{}"]),
                }
            ).alias("attributes"),
        )
        return events.with_columns(
            pl.coalesce(pl.col("_error"), verdict_status(pl.col("verdict"))).alias("status"),
            pl.when(pl.col("_error").is_not_null())
            .then(pl.lit("ERROR"))
            .otherwise(verdict_severity(pl.col("verdict")))
            .alias("severity"),
        ).drop("_error")
