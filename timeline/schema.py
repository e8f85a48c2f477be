"""The canonical event schema (v1): one row per event, every layer, every source.

This module is the single definition of the schema. The Arrow schema written to Parquet,
the polars schema used while processing, and ``docs/schema.md`` (checked by a test) all
come from :data:`FIELDS`.

Two nested types exist in the polars frames:

* ``ids``: ``list[struct{kind, value}]``, every identifier seen on the event;
* ``attributes``: ``list[struct{key, value}]`` while processing, written to Parquet as
  ``map<string, string>`` so that DuckDB can say ``attributes['x']``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

SCHEMA_VERSION: Final = "1"

Kind = Literal[
    "string",
    "int64",
    "float64",
    "bool",
    "timestamp",
    "list<string>",
    "list<float64>",
    "ids",
    "attributes",
]

LAYERS: Final = ("gateway", "policy", "retrieval", "inference", "other")
SEVERITIES: Final = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
ALL_LAYERS: Final = "all"


@dataclass(frozen=True)
class Field:
    """One column of the canonical schema."""

    name: str
    kind: Kind
    group: str
    doc: str
    example: str
    layers: str = ALL_LAYERS


def _f(
    name: str, kind: Kind, group: str, doc: str, example: str, layers: str = ALL_LAYERS
) -> Field:
    return Field(name, kind, group, doc, example, layers)


FIELDS: Final[tuple[Field, ...]] = (
    # provenance
    _f(
        "event_id",
        "string",
        "provenance",
        "Deterministic id: first 12 hex digits of the input file's sha256, the 1-based line, and the event's index on that line. Same input, same id.",
        "3fa9c2d1e0b4:120:0",
    ),
    _f(
        "source_file",
        "string",
        "provenance",
        "The input file, relative to the working directory when it lies below it, else absolute; `-` for stdin.",
        "exports/gateway/access.log.gz",
    ),
    _f(
        "source_line",
        "int64",
        "provenance",
        "1-based line number of the event in the (decompressed) input; the first line of a multi-line record.",
        "120",
    ),
    _f(
        "parser",
        "string",
        "provenance",
        "Name of the parser that produced the event.",
        "nginx_combined",
    ),
    _f(
        "host",
        "string",
        "provenance",
        "The machine, pod or container that wrote the line, when the source or its envelope says"
        " so (OTel resource host.name, k8s pod, ...); else, as a last resort, the file's name"
        " without extensions, flagged with the attribute host_from = file_name.",
        "vllm-7d9f-abcde",
    ),
    _f(
        "raw",
        "string",
        "provenance",
        "The original text of the record. Kept only with `timeline build --keep-content`; null otherwise.",
        '10.0.0.1 - - [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.0"',
    ),
    # time
    _f(
        "ts",
        "timestamp",
        "time",
        "Event time in UTC (microseconds), after clock correction; equals `ts_source` until correlation corrects it. For a record covering an interval, `*.response` and `*.error` events end at `ts`, every other event (requests, checks, queries, spans) begins at it; `duration_ms` is the length.",
        "2025-03-02T10:15:04.123456Z",
    ),
    _f(
        "ts_source",
        "timestamp",
        "time",
        "Event time in UTC as parsed (or inherited, see `ts_inherited`), before any clock correction.",
        "2025-03-02T10:15:04.123456Z",
    ),
    _f(
        "ts_raw",
        "string",
        "time",
        "The timestamp text exactly as it appeared in the source.",
        "02/Mar/2025:11:15:04 +0100",
    ),
    _f(
        "ts_assumed_tz",
        "bool",
        "time",
        "True when the source gave no UTC offset and the configured zone (default UTC) was assumed.",
        "false",
    ),
    _f(
        "ts_inherited",
        "bool",
        "time",
        "True when the event had no time of its own and `ts_source` (so `ts`) is the time of the "
        "nearest earlier timed event of the same file (e.g. uvicorn's untimed lines inside a vLLM "
        "log, or a line whose time does not parse): the event happened then or later, it was not "
        "measured. `ts_raw` keeps what the line printed, if anything. Null for a measured time and "
        "for an event left without a time (no earlier timed line in its file); filter with "
        "`ts_inherited IS TRUE` / `IS NOT TRUE`.",
        "true",
    ),
    _f(
        "ts_precision_ms",
        "float64",
        "time",
        "How precise the parsed timestamp text was, in milliseconds: the true time lies in "
        "[ts, ts + ts_precision_ms). 1000 for whole seconds, 1 for milliseconds, 0.001 for "
        "microseconds, 1e-6 for nanoseconds (read from the printed fraction, or an epoch number's "
        "unit). An inherited time (`ts_inherited`) keeps the precision of the stamp it inherited, "
        "but the event happened then or later: correlation treats it as open-ended. Null when "
        "unknown (e.g. a time taken from an envelope), treated as exact. Clock-skew evidence and "
        "the causal-violation count treat every stamp as that interval; ordering moves an event "
        "within it only when coarser than 1 ms.",
        "1000.0",
    ),
    _f("duration_ms", "float64", "time", "How long the operation took, in milliseconds.", "812.5"),
    _f(
        "ts_at_end",
        "bool",
        "time",
        "True when `ts` marks the end of the operation (the source logged it on completion), so it "
        "spans [ts - duration_ms, ts]; null means the default: `*.response` and `*.error` events end "
        "at `ts`, others begin at it.",
        "true",
    ),
    _f(
        "clock_offset_ms",
        "float64",
        "time",
        "Correction added to `ts_source` to obtain `ts` (0 when none).",
        "0.0",
    ),
    # what
    _f("layer", "string", "what", "gateway | policy | retrieval | inference | other.", "gateway"),
    _f(
        "event_type",
        "string",
        "what",
        "What happened: http.request (ts = request start, e.g. Envoy START_TIME), http.response (ts = response sent, e.g. nginx $time_local), policy.check, retrieval.query, inference.request, inference.first_token, inference.response, inference.error, deploy.change, server.start, server.metrics, server.log.",
        "http.response",
    ),
    _f(
        "severity",
        "string",
        "what",
        "OpenTelemetry severity text: TRACE, DEBUG, INFO, WARN, ERROR, FATAL.",
        "INFO",
    ),
    _f(
        "status",
        "string",
        "what",
        "Outcome: ok | error | blocked | timeout | cancelled | rate_limited | ...",
        "ok",
    ),
    _f(
        "status_code",
        "int64",
        "what",
        "Numeric status as the source gave it (usually HTTP).",
        "200",
    ),
    _f(
        "error_type",
        "string",
        "what",
        "Error class or code when the event is an error.",
        "context_length_exceeded",
    ),
    _f(
        "message",
        "string",
        "what",
        "Human-readable message of the event.",
        "Finished request chatcmpl-1",
    ),
    # ids
    _f(
        "request_id",
        "string",
        "ids",
        "The request id the source calls its own (x-request-id, chatcmpl-..., ...).",
        "c219f6da-8a6c-4c30-8f0e-2bd2f6fa5b1e",
    ),
    _f(
        "trace_id",
        "string",
        "ids",
        "W3C / OpenTelemetry trace id (32 hex digits).",
        "5b8efff798038103d269b633813fc60c",
    ),
    _f("span_id", "string", "ids", "Span id (16 hex digits).", "eee19b7ec3c1b174"),
    _f("parent_span_id", "string", "ids", "Parent span id.", "eee19b7ec3c1b173"),
    _f("session_id", "string", "ids", "Conversation or session id.", "sess-42"),
    _f(
        "user_id",
        "string",
        "ids",
        "End user or API key owner, as the source identifies it.",
        "team-a",
    ),
    _f(
        "ids",
        "ids",
        "ids",
        "Every identifier seen on the event as {kind, value}, input to alias resolution.",
        '[{"kind": "x_request_id", "value": "c219f6da-..."}]',
    ),
    # gateway
    _f("http_method", "string", "gateway", "HTTP request method.", "POST", "gateway"),
    _f(
        "http_route",
        "string",
        "gateway",
        "Request path (without the query string).",
        "/v1/chat/completions",
        "gateway",
    ),
    _f(
        "client_address",
        "string",
        "gateway",
        "Client address (first hop of X-Forwarded-For when given).",
        "203.0.113.7",
        "gateway",
    ),
    _f(
        "upstream",
        "string",
        "gateway",
        "Upstream host, cluster or service the gateway forwarded to.",
        "vllm:8000",
        "gateway",
    ),
    # inference
    _f(
        "model",
        "string",
        "inference",
        "Model name (requested or served).",
        "meta-llama/Llama-3.1-8B-Instruct",
        "inference",
    ),
    _f(
        "model_revision",
        "string",
        "inference",
        "Model revision, version or fingerprint.",
        "fp_44709d6fcb",
        "inference",
    ),
    _f("provider", "string", "inference", "Serving system or vendor.", "vllm", "inference"),
    _f(
        "prompt_template",
        "string",
        "inference",
        "Prompt template name.",
        "support-answer",
        "inference",
    ),
    _f(
        "prompt_template_version",
        "string",
        "inference",
        "Prompt template version.",
        "v7",
        "inference",
    ),
    _f("input_tokens", "int64", "inference", "Prompt tokens.", "512", "inference"),
    _f("output_tokens", "int64", "inference", "Completion tokens.", "128", "inference"),
    _f(
        "ttft_ms", "float64", "inference", "Time to first token, milliseconds.", "84.0", "inference"
    ),
    _f(
        "finish_reason",
        "string",
        "inference",
        "Why generation stopped: stop, length, content_filter, ...",
        "stop",
        "inference",
    ),
    # retrieval
    _f(
        "index_name",
        "string",
        "retrieval",
        "Index or collection queried.",
        "kb-articles",
        "retrieval",
    ),
    _f(
        "index_version",
        "string",
        "retrieval",
        "Index version or build id.",
        "2025-03-01",
        "retrieval",
    ),
    _f(
        "embedding_model",
        "string",
        "retrieval",
        "Embedding model used for the query.",
        "bge-small-en-v1.5",
        "retrieval",
    ),
    _f("top_k", "int64", "retrieval", "Number of documents requested.", "5", "retrieval"),
    _f(
        "doc_ids",
        "list<string>",
        "retrieval",
        "Ids of the documents returned, in rank order.",
        '["kb-1", "kb-9"]',
        "retrieval",
    ),
    _f(
        "doc_scores",
        "list<float64>",
        "retrieval",
        "Scores of the documents returned, in rank order.",
        "[0.83, 0.71]",
        "retrieval",
    ),
    _f(
        "docs_returned",
        "int64",
        "retrieval",
        "Number of documents the retrieval returned: the length of `doc_ids` when the source"
        " lists them, else its reported hit count (the `total_hits` attribute). Filled by"
        " `timeline build` for retrieval events; null when the source says neither.",
        "2",
        "retrieval",
    ),
    # policy
    _f(
        "policy_name",
        "string",
        "policy",
        "Guardrail, rail or moderation model name.",
        "self_check_input",
        "policy",
    ),
    _f(
        "policy_version",
        "string",
        "policy",
        "Version of the policy or its model.",
        "text-moderation-007",
        "policy",
    ),
    _f("policy_stage", "string", "policy", "input | output.", "input", "policy"),
    _f("verdict", "string", "policy", "allow | block | flag | redact.", "block", "policy"),
    _f(
        "categories",
        "list<string>",
        "policy",
        "Categories the check flagged.",
        '["S1", "S10"]',
        "policy",
    ),
    _f(
        "score",
        "float64",
        "policy",
        "Highest score or confidence reported by the check.",
        "0.97",
        "policy",
    ),
    # content
    _f(
        "prompt_text",
        "string",
        "content",
        "Prompt text. Kept only with `timeline build --keep-content`; null otherwise.",
        "How do I ...",
        "inference, policy, gateway",
    ),
    _f(
        "completion_text",
        "string",
        "content",
        "Completion text. Kept only with `timeline build --keep-content`; null otherwise.",
        "You can ...",
        "inference, policy, gateway",
    ),
    _f(
        "prompt_hash",
        "string",
        "content",
        "Salted sha256 (hex) of the prompt text, so that redacted prompts can still be joined.",
        "9b1c0a7e4d2f...",
        "inference, policy, gateway",
    ),
    # everything else
    _f(
        "attributes",
        "attributes",
        "attributes",
        "Everything else the parser found, as a map of string to string.",
        '{"user_agent": "curl/8.0", "bytes_sent": "612"}',
    ),
    # correlation (filled by the correlation stage; null in a --no-correlate build's events.parquet)
    _f(
        "correlation_id",
        "string",
        "correlation",
        "The request this event belongs to.",
        "r-5f3a9b2c10d4",
    ),
    _f("correlation_method", "string", "correlation", "id | alias | heuristic | none.", "alias"),
    _f(
        "correlation_confidence",
        "float64",
        "correlation",
        "Confidence of the attachment, 0..1.",
        "1.0",
    ),
    _f("seq", "int64", "correlation", "Order of the event within its request, from 0.", "3"),
    _f(
        "offset_ms",
        "float64",
        "correlation",
        "Milliseconds since the request's first event.",
        "41.2",
    ),
)

FIELD_NAMES: Final[tuple[str, ...]] = tuple(f.name for f in FIELDS)
FIELDS_BY_NAME: Final[dict[str, Field]] = {f.name: f for f in FIELDS}

_KV = pl.Struct({"key": pl.String, "value": pl.String})
_ID = pl.Struct({"kind": pl.String, "value": pl.String})

_POLARS: Final[dict[Kind, pl.DataType]] = {
    "string": pl.String(),
    "int64": pl.Int64(),
    "float64": pl.Float64(),
    "bool": pl.Boolean(),
    "timestamp": pl.Datetime("us", "UTC"),
    "list<string>": pl.List(pl.String),
    "list<float64>": pl.List(pl.Float64),
    "ids": pl.List(_ID),
    "attributes": pl.List(_KV),
}

_ARROW: Final[dict[Kind, pa.DataType]] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "list<string>": pa.list_(pa.string()),
    "list<float64>": pa.list_(pa.float64()),
    "ids": pa.list_(pa.struct([("kind", pa.string()), ("value", pa.string())])),
    "attributes": pa.map_(pa.string(), pa.string()),
}

# What a reader of docs/schema.md sees as the type of each kind.
DOC_TYPES: Final[dict[Kind, str]] = {
    "string": "string",
    "int64": "int64",
    "float64": "float64",
    "bool": "bool",
    "timestamp": "timestamp[us, UTC]",
    "list<string>": "list<string>",
    "list<float64>": "list<float64>",
    "ids": "list<struct<kind: string, value: string>>",
    "attributes": "map<string, string>",
}

POLARS_SCHEMA: Final = pl.Schema({f.name: _POLARS[f.kind] for f in FIELDS})
ARROW_SCHEMA: Final = pa.schema([pa.field(f.name, _ARROW[f.kind]) for f in FIELDS])

KV_STRUCT: Final = _KV
ID_STRUCT: Final = _ID

REJECT_SCHEMA: Final = pl.Schema(
    {
        "source_file": pl.String(),
        "source_line": pl.Int64(),
        "parser": pl.String(),
        "reason": pl.String(),
        "excerpt": pl.String(),
        "line_length": pl.Int64(),
    }
)


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` with exactly the canonical columns, in order, with canonical types.

    Missing columns become typed nulls. A column that is not canonical is a programming error
    in a parser and raises ``ValueError`` naming it.
    """
    extra = [c for c in frame.columns if c not in POLARS_SCHEMA]
    if extra:
        raise ValueError(f"not canonical columns: {', '.join(sorted(extra))}")
    exprs = []
    for name, dtype in POLARS_SCHEMA.items():
        if name in frame.columns:
            col = pl.col(name)
            exprs.append(col if frame.schema[name] == dtype else col.cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(exprs)


def empty_events() -> pl.DataFrame:
    """An empty frame with the canonical schema."""
    return pl.DataFrame(schema=POLARS_SCHEMA)


def to_arrow(frame: pl.DataFrame) -> pa.Table:
    """Convert a conformed polars frame to an Arrow table with :data:`ARROW_SCHEMA`.

    The only conversion beyond a cast is ``attributes``: list of key/value structs becomes a map.
    """
    table = frame.to_arrow()
    columns = []
    for field in ARROW_SCHEMA:
        column = table.column(field.name)
        if pa.types.is_map(field.type):
            column = _list_of_kv_to_map(column)
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=ARROW_SCHEMA)


def _list_of_kv_to_map(column: pa.ChunkedArray) -> pa.ChunkedArray:
    chunks = []
    for chunk in column.chunks:
        list_chunk = chunk.cast(pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())])))
        keys, values = list_chunk.values.flatten()
        if keys.null_count:  # a map key cannot be null: an attribute without a name is ""
            keys = pc.fill_null(keys, "")
        chunks.append(
            pa.MapArray.from_arrays(
                list_chunk.offsets,
                keys,
                values,
                mask=list_chunk.is_null() if list_chunk.null_count else None,
            )
        )
    if not chunks:
        return pa.chunked_array([], type=pa.map_(pa.string(), pa.string()))
    return pa.chunked_array(chunks, type=pa.map_(pa.string(), pa.string()))
