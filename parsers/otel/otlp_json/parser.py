"""OpenTelemetry OTLP/JSON: the Collector file exporter's JSON lines and pretty-printed ``.json``.

Each document is a ``TracesData`` (``{"resourceSpans": [...]}``) or ``LogsData``
(``{"resourceLogs": [...]}``); ``MetricsData`` documents are skipped. All events of a document
take the line where the document starts; the other lines of a pretty-printed document are
merged into it.

Documents are found by :func:`timeline.parserkit.records.read_records` (``documents=True``),
except JSON lines that are trace documents of their own (the Collector file exporter's layout):
those are decoded straight from the line (:func:`_fast_lines`) and ``read_records`` sees a
``{}`` in their place, so they are not parsed twice (once to validate, once to decode). Lines
whose text the validating parser would read differently (escaped keys, surrogate escapes,
integers beyond 64 bits, ``-0``: :data:`parsers.otel._otlp_spans.RAW_RISK`) take the general
path. One known difference remains: a JSON object with a repeated key keeps the first value on
the direct path and the last one on the general path and in the walker.
Trace and log documents are decoded once each with an explicit dtype and exploded into events by
polars expressions (:mod:`parsers.otel._otlp_spans`, :mod:`parsers.otel._otlp_logs`; a
document's log records follow its spans): no Python per document, span, record or attribute.
The Python walker (``spans.py``, ``logs.py``: decode with the C JSON decoder, walk the tree) is
the reference and handles what the vectorized path leaves to it: metrics documents (skipped) and
the rare documents whose values the decoded text cannot reproduce exactly (key/value lists other
than log bodies, non-canonical base64 ids, numbers with fractions where integers belong,
non-text values where text belongs; see ``odd_documents``). Documents that do not name an OTLP
kind are rejected without being walked.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import polars as pl

from parsers.otel._fields import derive_fields
from parsers.otel._otlp_logs import log_events
from parsers.otel._otlp_spans import RAW_RISK, decode, odd_documents, span_events
from parsers.otel.otlp_json.logs import log_row
from parsers.otel.otlp_json.spans import Row, resource_context, span_rows
from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.records import RecordReasons, read_records
from timeline.schema import ID_STRUCT, KV_STRUCT

_EVENT_SCHEMA: Final = pl.Schema(
    {
        "source_line": pl.Int64(),
        "_ns": pl.Int64(),
        "ts_raw": pl.String(),
        "layer": pl.String(),
        "event_type": pl.String(),
        "severity": pl.String(),
        "status": pl.String(),
        "status_code": pl.Int64(),
        "error_type": pl.String(),
        "message": pl.String(),
        "request_id": pl.String(),
        "trace_id": pl.String(),
        "span_id": pl.String(),
        "parent_span_id": pl.String(),
        "session_id": pl.String(),
        "user_id": pl.String(),
        "host": pl.String(),
        "duration_ms": pl.Float64(),
        "http_method": pl.String(),
        "http_route": pl.String(),
        "client_address": pl.String(),
        "model": pl.String(),
        "provider": pl.String(),
        "prompt_template": pl.String(),
        "prompt_template_version": pl.String(),
        "input_tokens": pl.Int64(),
        "output_tokens": pl.Int64(),
        "ttft_ms": pl.Float64(),
        "finish_reason": pl.String(),
        "index_name": pl.String(),
        "index_version": pl.String(),
        "embedding_model": pl.String(),
        "top_k": pl.Int64(),
        "doc_ids": pl.List(pl.String),
        "doc_scores": pl.List(pl.Float64),
        "policy_name": pl.String(),
        "policy_version": pl.String(),
        "policy_stage": pl.String(),
        "verdict": pl.String(),
        "categories": pl.List(pl.String),
        "score": pl.Float64(),
        "prompt_text": pl.String(),
        "completion_text": pl.String(),
        "ids": pl.List(ID_STRUCT),
        "attributes": pl.List(KV_STRUCT),
    }
)
_REASONS: Final = RecordReasons(
    not_object="not a JSON document",
    outside="not a JSON document",
    invalid="not valid JSON",
    unterminated="not valid JSON",
)
_KINDS: Final = ("resourceSpans", "resourceLogs", "resourceMetrics")
# A document that names none of the kinds cannot be one: rejected without decoding it again.
_NAMED_KIND: Final = r'"resource(?:Spans|Logs|Metrics)"\s*:'
_JSONL_HEAD: Final = re.compile(r'^\[?\{\s*"resource(?:Spans|Logs|Metrics)"\s*:')
_PRETTY_KEY: Final = re.compile(r'^\{?\s*"resource(?:Spans|Logs|Metrics)"\s*:')


def _fast_lines(lines: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
    """Which ``lines`` are trace documents of their own that decode as they are (JSON lines), and
    those documents decoded, one row per such line in order. Lines the re-serialized text could
    read differently (:data:`RAW_RISK`) or that the walker takes (:func:`odd_documents`) are
    left to the general path."""
    line = pl.col("line")
    # the regexes run on the lines that open a document only (most lines of a pretty-printed
    # file do not)
    opening = lines.select(line.str.starts_with("{").fill_null(False)).to_series()
    where = opening.arg_true()
    checked = (
        lines.select(line.gather(where))
        .select(
            (
                line.str.contains(_NAMED_KIND)
                & ~odd_documents(line)
                & ~pl.any_horizontal([line.str.contains(risk) for risk in RAW_RISK])
            ).fill_null(False)
        )
        .to_series()
    )
    candidate = pl.repeat(False, lines.height, eager=True).scatter(where, checked)
    decoded, failed = decode(lines.get_column("line").filter(candidate), one_line=True)
    if failed:
        kept = pl.repeat(True, decoded.height, eager=True).scatter(failed, False)
        decoded = decoded.filter(kept)
        candidate = candidate.scatter(candidate.arg_true().gather(failed), False)
    return candidate, decoded


def _list(value: Any, key: str) -> list[Any]:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, list) else []


def document_rows(value: Any, source_line: int) -> list[Row]:
    """Every event of one decoded OTLP/JSON document."""
    rows: list[Row] = []
    for resource_spans in _list(value, "resourceSpans"):
        resource = resource_spans.get("resource") if isinstance(resource_spans, dict) else None
        for scope_spans in _list(resource_spans, "scopeSpans") + _list(
            resource_spans, "instrumentationLibrarySpans"
        ):
            scope = (
                scope_spans.get("scope") or scope_spans.get("instrumentationLibrary")
                if isinstance(scope_spans, dict)
                else None
            )
            ctx = resource_context(source_line, resource or {}, scope)
            for span in _list(scope_spans, "spans"):
                rows.extend(span_rows(ctx, span))
    for resource_logs in _list(value, "resourceLogs"):
        resource = resource_logs.get("resource") if isinstance(resource_logs, dict) else None
        for scope_logs in _list(resource_logs, "scopeLogs"):
            scope = scope_logs.get("scope") if isinstance(scope_logs, dict) else None
            ctx = resource_context(source_line, resource or {}, scope)
            for record in _list(scope_logs, "logRecords"):
                row = log_row(ctx, record)
                if row is not None:
                    rows.append(row)
    return rows


def _is_otlp(value: Any) -> bool:
    return isinstance(value, dict) and any(key in value for key in _KINDS)


def _empty_reason(value: dict[str, Any]) -> str:
    if "resourceMetrics" in value:
        return "OTLP metrics are not parsed"
    return "OTLP document without spans or log records"


class OtlpJsonParser:
    """OTLP/JSON traces and logs; each span's layer comes from its GenAI / OpenInference / HTTP attributes."""

    name = "otlp_json"
    layer = "other"
    description = "OpenTelemetry OTLP/JSON traces and logs (Collector file exporter, pretty .json)"
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^\{"

    def sniff(self, sample: Sample) -> float:
        """High when lines open OTLP/JSON documents (JSON lines, or a pretty-printed head)."""
        lines = [line.strip() for line in sample.lines if line.strip()]
        if not lines:
            return 0.0
        marked = sum(1 for line in lines if _JSONL_HEAD.match(line))
        if marked == len(lines):
            return 0.98
        if marked and marked * 2 >= len(lines):
            return 0.9
        if lines[0] in ("{", "[") and any(_PRETTY_KEY.match(line) for line in lines[1:4]):
            return 0.95
        return 0.0

    def parse(self, source: Source) -> ParseResult:
        """Parse the whole file (multi-line documents)."""
        lines = source.lines
        fast, decoded = _fast_lines(lines)
        # Lines decoded already are not validated again: ``read_records`` sees a cheap ``{}`` in
        # their place (one one-line record each, as the line itself), their text is put back.
        held = lines.with_columns(
            pl.when(pl.lit(fast)).then(pl.lit("{}")).otherwise(pl.col("line")).alias("line")
        )
        documents = read_records(held, reasons=_REASONS, documents=True, max_lines=None)
        fast_lines = lines.filter(pl.lit(fast)).select(
            "source_line", pl.col("line").alias("_raw"), pl.lit(True).alias("_fast")
        )
        docs = (
            documents.frame.select("source_line", "text")
            .with_row_index("_doc")
            .join(fast_lines, on="source_line", how="left", maintain_order="left")
            .with_columns(
                pl.coalesce("_raw", "text").alias("text"), pl.col("_fast").fill_null(False)
            )
        )
        text = pl.col("text")
        named = text.str.contains(_NAMED_KIND)
        general = docs.filter(~pl.col("_fast")).filter(
            named & text.str.starts_with("{") & ~odd_documents(text)
        )
        parts: list[pl.DataFrame] = []
        done: set[int] = set()
        if general.height or decoded.height:
            general_decoded, failed = decode(general.get_column("text"))
            fast_docs = docs.filter(pl.col("_fast")).get_column("_doc")
            base = pl.concat(
                [
                    pl.concat([fast_docs.to_frame(), decoded], how="horizontal"),
                    pl.concat([general.select("_doc"), general_decoded], how="horizontal"),
                ]
            ).join(docs.select("_doc", "source_line"), on="_doc", how="left")
            rows, odd = span_events(base)
            logs, logs_odd = log_events(base)
            odd |= logs_odd | set(general.get_column("_doc").gather(failed).to_list())
            rows = rows.filter(~pl.col("_doc").is_in(list(odd)))
            parts.append(rows)
            if logs.height:
                # a document's log records follow its spans
                before = rows.group_by("_doc").agg(pl.len().cast(pl.Int64).alias("_before"))
                logs = logs.filter(~pl.col("_doc").is_in(list(odd)))
                logs = logs.join(before, on="_doc", how="left", maintain_order="left")
                parts.append(
                    logs.with_columns(
                        pl.col("_seq") + pl.col("_before").fill_null(0),
                        *(
                            pl.lit(None, dtype=dtype).alias(name)
                            for name, dtype in _EVENT_SCHEMA.items()
                            if name not in logs.columns
                        ),
                    )
                )
            done = set(pl.concat([part.get_column("_doc") for part in parts]).unique().to_list())
        slow_docs = docs.filter(named & ~pl.col("_doc").is_in(list(done)))
        walked: list[Row] = []
        reject: dict[int, str] = {}
        skip: dict[int, str] = {}
        for doc, first_line, raw in slow_docs.select("_doc", "source_line", "text").iter_rows():
            value = json.loads(raw)
            if not _is_otlp(value):
                reject[doc] = "not an OTLP JSON document"
                continue
            found = document_rows(value, first_line)
            if not found:
                skip[doc] = _empty_reason(value)
            for seq, row in enumerate(found):
                row["_doc"], row["_seq"] = doc, seq
            walked.extend(found)
        if walked:
            parts.append(self._walked(walked))
        found_marks = pl.DataFrame(
            {
                "_doc": [*reject, *skip],
                "_reject": [*reject.values(), *(None for _ in skip)],
                "_skip": [*(None for _ in reject), *skip.values()],
            },
            schema={"_doc": pl.UInt32, "_reject": pl.String, "_skip": pl.String},
        )
        marks = (
            docs.select("_doc", named.alias("_named"))
            .join(found_marks, on="_doc", how="left", maintain_order="left")
            .select(
                pl.when("_named")
                .then(pl.col("_reject"))
                .otherwise(pl.lit("not an OTLP JSON document"))
                .alias("_reject"),
                "_skip",
            )
        )
        documents = (
            documents.with_columns(
                pl.lit(marks.get_column("_reject")), pl.lit(marks.get_column("_skip"))
            )
            .reject(pl.col("_reject"))
            .skip(pl.col("_skip"))
        )
        events = (
            pl.concat(
                [part.select("_doc", "_seq", *_EVENT_SCHEMA.names()) for part in parts],
                how="vertical_relaxed",
            ).sort("_doc", "_seq", maintain_order=True)
            if parts
            else pl.DataFrame(schema=_EVENT_SCHEMA)
        )
        frame = self._finish(events.select(_EVENT_SCHEMA.names()))
        return documents.result(derive_fields(frame))

    @staticmethod
    def _walked(rows: list[Row]) -> pl.DataFrame:
        """The Python walker's rows as a frame (with ``_doc`` and ``_seq``)."""
        schema = _EVENT_SCHEMA | {"_doc": pl.UInt32(), "_seq": pl.Int64()}
        return pl.DataFrame(
            [{k: row.get(k) for k in schema.names()} for row in rows], schema=schema
        )

    @staticmethod
    def _finish(frame: pl.DataFrame) -> pl.DataFrame:
        frame = frame.cast(_EVENT_SCHEMA)
        return frame.with_columns(
            (pl.col("_ns") // 1_000)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
            .alias("ts_source"),
            pl.when(pl.col("_ns").is_not_null()).then(pl.lit(False)).alias("ts_assumed_tz"),
            pl.col("duration_ms").round(6),
        ).drop("_ns")
