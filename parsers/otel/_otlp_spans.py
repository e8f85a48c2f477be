"""OTLP/JSON trace documents to events, vectorized: the polars twin of ``otlp_json/spans.py``
(log records: :mod:`parsers.otel._otlp_logs`).

Documents are decoded once with an explicit dtype (:data:`DOCUMENT`), then exploded: resources,
scopes, spans, span events, and each level's attributes into a long frame
(:func:`parsers.otel._otlp_attrs.long_attributes`). The attributes a span's mapping reads are
gathered into one column per key that occurs (spans are numbered ``0..n-1``: one index per key,
no pivot or join); the rules of ``spans.py`` (layer by convention, field mapping, which keys
count as mapped, content kept out of ``attributes``) are expressions over those columns, and
values read by several rules are computed once as columns of their own (eager polars does not
share sub-expressions). No Python runs per document, span or attribute.

The Python walker (``spans.py``, ``logs.py``) stays the reference and the fallback: documents
holding values whose decoded text cannot tell what the walker sees (see :func:`odd_documents`)
are left to it by the parser.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Final

import polars as pl

from parsers.otel._otlp_attrs import long_attributes
from parsers.otel._otlp_values import (
    ATTRIBUTES,
    RESOURCE_LOGS,
    finite,
    hex_id,
    int_text,
    int_value,
    nanos,
    odd_id,
    span_kind,
    status_code,
)
from parsers.otel.otlp_json.attrs import CONTENT
from parsers.otel.otlp_json.spans import HTTP_STATUS, LLM_OPERATIONS, VECTOR_DBS, VERDICTS
from timeline.parserkit.wide import pairs_expr
from timeline.schema import ID_STRUCT, KV_STRUCT

_SPAN: Final = pl.Struct(
    {
        "traceId": pl.String(),
        "spanId": pl.String(),
        "parentSpanId": pl.String(),
        "name": pl.String(),
        "kind": pl.String(),
        "startTimeUnixNano": pl.String(),
        "endTimeUnixNano": pl.String(),
        "attributes": ATTRIBUTES,
        "droppedAttributesCount": pl.String(),
        "droppedEventsCount": pl.String(),
        "droppedLinksCount": pl.String(),
        "events": pl.List(
            pl.Struct({"timeUnixNano": pl.String(), "name": pl.String(), "attributes": ATTRIBUTES})
        ),
        "links": pl.List(pl.Struct({"traceId": pl.String()})),
        "status": pl.Struct({"code": pl.String(), "message": pl.String()}),
    }
)
_SCOPE: Final = pl.Struct({"name": pl.String(), "version": pl.String(), "attributes": ATTRIBUTES})
DOCUMENT: Final = pl.Schema(
    {
        "resourceSpans": pl.List(
            pl.Struct(
                {
                    "resource": pl.Struct({"attributes": ATTRIBUTES}),
                    "scopeSpans": pl.List(pl.Struct({"scope": _SCOPE, "spans": pl.List(_SPAN)})),
                }
            )
        ),
        "resourceLogs": RESOURCE_LOGS,
    }
)
# Raw text the decoded document cannot reproduce exactly: these documents go to the Python walker.
ODD_TEXT: Final = (
    r'"(?:resourceMetrics|instrumentationLibrarySpans)"'
    r'|"(?:intValue|\w*TimeUnixNano|kind|code|dropped\w*Count|severityNumber)"\s*:\s*-?\d+(?:\.|[eE])'
    # texts that are not JSON strings (the walker ignores them, a decoded text would not);
    # AnyValue members that are null or not of their JSON type (a key/value list body embeds
    # them as JSON)
    r'|"(?:name|version|message|key|stringValue|bytesValue|eventName|severityText'
    r'|traceId|spanId|parentSpanId)"\s*:\s*[^"\s]'
    r'|"boolValue"\s*:\s*[^tf\s]'
    r'|"(?:intValue|doubleValue|arrayValue|kvlistValue)"\s*:\s*n'
)
# Key/value lists are decoded as log bodies only: a document holding one elsewhere is odd.
_KVLIST: Final = r'"kvlistValue"'
_BODY_KVLIST: Final = r'"body"\s*:\s*\{\s*"kvlistValue"'
# Raw JSON lines that decode to other values than their re-serialized text (what the general path
# decodes) does: escaped keys (``ODD_TEXT`` reads keys as written), surrogate escapes (not JSON to
# the validating parser), bare integers beyond 64 bits and ``-0`` (floats once re-serialized).
# (Two patterns: apart, each keeps the regex engine's fast literal search.)
RAW_RISK: Final = (
    r'\\u[0-9a-fA-F]{4}(?:[^"\\]|\\.)*"\s*:|\\u[dD][89a-fA-F]',
    r"[:\[,]\s*(?:-0[^.\d]|-\d{19}|\d{20})",
)
_HOST_KEYS: Final = ("host.name", "k8s.pod.name", "container.name", "service.name")
_COMMON_USED: Final = (
    "error.type",
    "llm.prompt_template.version",
    "session.id",
    "gen_ai.conversation.id",
    "user.id",
    "enduser.id",
)
_POLICY_USED: Final = (
    "rail.type",
    "guardrail.stage",
    "gen_ai.guardrail.stage",
    "rail.stop",
    "guardrails.rail.reason",
    "guardrail.reason",
    "rail.name",
    "guardrail.name",
    "gen_ai.guardrail.name",
    "guardrails.rail.name",
    "guardrail.categories",
    "categories",
    "guardrail.version",
    "rail.version",
    "guardrail.score",
    "metadata.score",
    "score",
)
_DECISION: Final = ("guardrails.governance.decision", "guardrail.decision")
_RETRIEVAL_USED: Final = (
    "db.collection.name",
    "db.vector.collection",
    "retrieval.index",
    "db.namespace",
    "retrieval.index_version",
    "index.version",
    "embedding.model_name",
    "reranker.top_k",
    "db.vector.query.top_k",
    "retrieval.top_k",
    "gen_ai.request.top_k",
)
_MODEL_FALLBACK: Final = ("llm.model_name", "embedding.model_name")
_INFERENCE_USED: Final = (
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.response.id",
    "gen_ai.response.finish_reasons",
    "llm.finish_reason",
    "gen_ai.server.time_to_first_token",
    "gen_ai.latency.time_to_first_token",
    "gen_ai.provider.name",
    "gen_ai.system",
    "llm.provider",
    "llm.system",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
_GATEWAY_USED: Final = (
    "http.response.status_code",
    "http.status_code",
    "http.route",
    "url.path",
    "http.target",
    "http.request.header.x-request-id",
    "http.request.header.x_request_id",
    "http.request.method",
    "http.method",
    "client.address",
    "http.client_ip",
    "net.sock.peer.addr",
    "net.peer.ip",
)
_PEEKED: Final = (
    "openinference.span.kind",
    "gen_ai.operation.name",
    "db.system.name",
    "db.system",
    "output.value",
    "input.value",
    "gen_ai.prompt",
    "gen_ai.input.messages",
    "gen_ai.completion",
    "gen_ai.output.messages",
    "llm.prompt_template.template",
)
MAPPED: Final = tuple(
    dict.fromkeys(
        _COMMON_USED
        + _POLICY_USED
        + _DECISION
        + _RETRIEVAL_USED
        + _MODEL_FALLBACK
        + _INFERENCE_USED
        + _GATEWAY_USED
        + _PEEKED
    )
)
_FIELDS: Final = ("text", "kind", "first", "size", "items")
_FIELD_TYPES: Final = {
    "text": pl.String(),
    "kind": pl.String(),
    "first": pl.String(),
    "size": pl.UInt32(),
    "items": pl.List(pl.String()),
}
_DOCS_RE: Final = (
    r"^(retrieval\.documents|reranker\.output_documents)\.(\d+)\.document\.(id|score)$"
)


def odd_documents(text: pl.Expr) -> pl.Expr:
    """True for documents the vectorized path leaves to the Python walker (metrics, old
    ``instrumentationLibrarySpans``, key/value lists other than log bodies, numbers with
    fractions where integers belong, non-text values where text belongs, null AnyValue members).
    Log records are vectorized by :func:`parsers.otel._otlp_logs.log_events`."""
    return text.str.contains(ODD_TEXT) | (
        text.str.count_matches(_KVLIST) > text.str.count_matches(_BODY_KVLIST)
    )


def decode(texts: pl.Series, *, one_line: bool = False) -> tuple[pl.DataFrame, list[int]]:
    """The documents (JSON, one per row) decoded with :data:`DOCUMENT`, and the positions of
    those whose values do not fit it (an object where text belongs, text where a list belongs)
    or that are not JSON: their rows are null. ``str.json_decode`` fails a whole batch on one
    such document, so a failing batch is halved until the documents that fail are alone.
    ``one_line``: the texts hold no line breaks (else they are replaced by spaces first)."""
    dtype = pl.Struct(DOCUMENT)
    flat = texts if one_line else texts.str.replace_all("\n", " ", literal=True)
    bad: list[int] = []

    def attempt(lo: int, hi: int) -> list[pl.Series]:
        try:
            return [flat.slice(lo, hi - lo).str.json_decode(dtype)]
        except pl.exceptions.PolarsError:
            if hi - lo == 1:
                bad.append(lo)
                return [pl.Series([None], dtype=dtype)]
            mid = (lo + hi) // 2
            return attempt(lo, mid) + attempt(mid, hi)

    if flat.len() == 0:
        return pl.DataFrame(schema=DOCUMENT), bad
    decoded = pl.concat(attempt(0, flat.len()))
    return decoded.struct.unnest(), bad


# ------------------------------------------------------------------------- attribute lookups


def _c(field: str, key: str) -> pl.Expr:
    return pl.col(f"{field}|{key}")


class _Value:
    """One attribute value as its fields (``text``, ``kind``, ``first``, ``size``, ``items``):
    of the first of several keys that holds one (:func:`_pick`), or of a struct column."""

    def __init__(self, keys: tuple[str, ...] = (), struct: pl.Expr | None = None) -> None:
        self.keys, self.struct = keys, struct

    def field(self, name: str) -> pl.Expr:
        """The field of the value (null when there is none)."""
        if self.struct is not None:
            return self.struct.struct.field(name)
        if not self.keys:
            return pl.lit(None, dtype=_FIELD_TYPES[name])
        if name == "text":
            return pl.coalesce([_c("text", k) for k in self.keys])
        # the field of the first key that holds a value (even a null field: not a coalesce)
        chosen: pl.Expr = pl.lit(None, dtype=_FIELD_TYPES[name])
        for k in reversed(self.keys):
            chosen = pl.when(_c("text", k).is_not_null()).then(_c(name, k)).otherwise(chosen)
        return chosen

    def is_not_null(self) -> pl.Expr:
        """True where there is a value."""
        if self.struct is not None:
            return self.struct.is_not_null()
        return self.field("text").is_not_null()


def _picker(frame: pl.DataFrame) -> Callable[..., _Value]:
    """``pick(*keys)``: the first key whose value is not None (``Bag.get``), among the keys
    :func:`_wide` gave ``frame`` columns for (the others are absent everywhere)."""
    present = {c.split("|", 1)[1] for c in frame.columns if c.startswith("text|")}

    def pick(*keys: str) -> _Value:
        return _Value(tuple(k for k in keys if k in present))

    return pick


def _text(p: _Value) -> pl.Expr:
    return p.field("text")


def _kind(p: _Value) -> pl.Expr:
    return p.field("kind")


def _as_int(p: _Value) -> pl.Expr:
    t, k = _text(p), _kind(p)
    number = t.cast(pl.Float64, strict=False)
    whole = pl.when(number.is_finite() & (number == number.floor())).then(
        number.cast(pl.Int64, strict=False)
    )
    return pl.when(k.is_in(["i", "s"])).then(int_value(t)).when(k == "d").then(whole)


def _as_float(p: _Value) -> pl.Expr:
    t, k = _text(p), _kind(p)
    return pl.when(k.is_in(["i", "d", "s"])).then(finite(t))


def _as_bool(p: _Value) -> pl.Expr:
    low = _text(p).str.strip_chars().str.to_lowercase()
    return pl.when(_kind(p).is_in(["b", "s"]) & low.is_in(["true", "false"])).then(low == "true")


def _verdict(p: _Value) -> pl.Expr:
    t, k = _text(p), _kind(p)
    word = t.str.strip_chars().str.to_lowercase()
    return (
        pl.when((k == "b") & (t == "true"))
        .then(pl.lit("block"))
        .when((k == "b") & (t == "false"))
        .then(pl.lit("allow"))
        .when(k.is_in(["s", "b", "y"]))
        .then(word.replace_strict(VERDICTS, default=None, return_dtype=pl.String))
    )


def _bool_verdict(b: pl.Expr) -> pl.Expr:
    return pl.when(b).then(pl.lit("block")).when(~b).then(pl.lit("allow"))


def _truthy(p: _Value) -> pl.Expr:
    t, k = _text(p), _kind(p)
    falsy = (
        (t == "")
        | ((k == "b") & (t == "false"))
        | ((k == "i") & (t == "0"))
        | ((k == "d") & (t.cast(pl.Float64, strict=False) == 0.0))
        | ((k == "a") & (p.field("size") == 0))
    )
    return t.is_not_null() & ~falsy.fill_null(False)


# ------------------------------------------------------------------------------ the frame


def _explode(frame: pl.DataFrame, column: str, index: str) -> pl.DataFrame:
    """One row per element of ``column`` (null elements dropped), numbered ``index``."""
    return (
        frame.explode(column, keep_nulls=False, empty_as_null=False)
        .filter(pl.col(column).is_not_null())
        .with_row_index(index)
    )


def resource_scopes(
    base: pl.DataFrame, top: str, scoped: str, items: str, alias: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The resources (``_r``: ``_res_attrs``, ``_scopes``) of the decoded documents ``base``
    (``_doc``, ``source_line``, ``top``: ``resourceSpans`` or ``resourceLogs``) and their scopes
    (``_s``, ``_r``: ``scope``, and the scope's ``items`` list, spans or log records, as
    ``alias``)."""
    resources = _explode(base.select("_doc", "source_line", top), top, "_r").select(
        "_r",
        "_doc",
        "source_line",
        pl.col(top).struct.field("resource").struct.field("attributes").alias("_res_attrs"),
        pl.col(top).struct.field(scoped).alias("_scopes"),
    )
    scopes = _explode(resources.select("_r", "_doc", "source_line", "_scopes"), "_scopes", "_s")
    scopes = scopes.select(
        "_s",
        "_r",
        "_doc",
        "source_line",
        pl.col("_scopes").struct.field("scope").alias("scope"),
        pl.col("_scopes").struct.field(items).alias(alias),
    )
    return resources, scopes


def _common(resources: pl.DataFrame, scopes: pl.DataFrame) -> pl.DataFrame:
    """Per scope (``_s``): ``host`` and ``common`` (``resource.*`` then ``scope.*`` attributes)."""
    res = long_attributes(resources, "_r", "_res_attrs")
    host = (
        res.filter(pl.col("key").is_in(_HOST_KEYS) & pl.col("text").is_not_null())
        .filter(~((pl.col("kind") == "s") & (pl.col("text") == "")))
        .with_columns(
            pl.col("key").replace_strict({k: i for i, k in enumerate(_HOST_KEYS)}).alias("_rank")
        )
        .sort("owner", "_rank")
        .group_by("owner", maintain_order=True)
        .agg(pl.col("text").first().alias("host"))
        .rename({"owner": "_r"})
    )
    res_kv = res.filter(pl.col("text").is_not_null()).select(
        pl.col("owner").alias("_r"),
        pl.lit(0, dtype=pl.UInt32).alias("_sec"),
        "pos",
        ("resource." + pl.col("key")).alias("key"),
        pl.col("text").alias("value"),
    )
    scope_attrs = long_attributes(
        scopes.select("_s", pl.col("scope").struct.field("attributes").alias("_a")), "_s", "_a"
    )
    named = scopes.select(
        "_s",
        pl.col("scope").struct.field("name").alias("name"),
        pl.col("scope").struct.field("version").alias("version"),
    ).unpivot(index="_s", on=["name", "version"], variable_name="_f", value_name="value")
    named = named.filter(pl.col("value").is_not_null() & (pl.col("value") != "")).select(
        "_s",
        pl.lit(1, dtype=pl.UInt32).alias("_sec"),
        pl.when(pl.col("_f") == "name").then(0).otherwise(1).cast(pl.UInt32).alias("pos"),
        ("scope." + pl.col("_f")).alias("key"),
        "value",
    )
    scope_kv = scope_attrs.filter(pl.col("text").is_not_null()).select(
        pl.col("owner").alias("_s"),
        pl.lit(2, dtype=pl.UInt32).alias("_sec"),
        "pos",
        ("scope." + pl.col("key")).alias("key"),
        pl.col("text").alias("value"),
    )
    per_scope = scopes.select("_s", "_r")
    long = pl.concat(
        [
            per_scope.join(res_kv, on="_r", how="inner").drop("_r"),
            named,
            scope_kv,
        ],
        how="vertical_relaxed",
    ).sort("_s", "_sec", "pos", maintain_order=True)
    lists = long.group_by("_s", maintain_order=True).agg(
        pl.struct("key", "value").cast(KV_STRUCT).alias("common")
    )
    empty = pl.lit([], dtype=pl.List(KV_STRUCT))
    return (
        per_scope.join(host, on="_r", how="left", maintain_order="left")
        .join(lists, on="_s", how="left", maintain_order="left")
        .select("_s", "host", pl.col("common").fill_null(empty))
    )


def _wide(spans: pl.DataFrame, attrs: pl.DataFrame) -> pl.DataFrame:
    """``spans`` plus ``<field>|<key>`` columns for the keys of :data:`MAPPED` present (a pivot without
    the pivot: spans are numbered ``0..n-1`` by ``_p``, so each key's values are gathered into
    place through one index per key)."""
    mapped = attrs.filter(pl.col("key").is_in(MAPPED))
    height = spans.height
    frames = [spans]
    if mapped.height:
        for (key, *_), part in mapped.partition_by("key", as_dict=True).items():
            where = pl.repeat(None, height, dtype=pl.UInt32, eager=True).scatter(
                part.get_column("owner"), pl.int_range(part.height, eager=True, dtype=pl.UInt32)
            )
            frames.append(part.select(pl.col(f).gather(where).alias(f"{f}|{key}") for f in _FIELDS))
    return pl.concat(frames, how="horizontal")


def _triggered(attrs: pl.DataFrame) -> pl.DataFrame:
    """Per span, the first key named ``triggered`` / ``*.triggered`` and its value."""
    key = pl.col("key")
    return (
        attrs.filter((key == "triggered") | key.str.ends_with(".triggered"))
        .group_by("owner", maintain_order=True)
        .agg(pl.all().first())
        .select(
            pl.col("owner").alias("_p"),
            pl.col("key").alias("_trig_key"),
            pl.struct("text", "kind", "first", "size", "items").alias("_trig"),
        )
    )


def _fingerprints(templates: pl.Series) -> pl.Series:
    """``tmpl-`` + 12 hex of sha256, computed once per distinct template text."""
    distinct = templates.drop_nulls().unique()
    table = {t: "tmpl-" + hashlib.sha256(t.encode("utf-8")).hexdigest()[:12] for t in distinct}
    return templates.replace_strict(table, default=None, return_dtype=pl.String)


def _rows(spans: pl.DataFrame) -> pl.DataFrame:
    """The span events' canonical columns (one row per span), plus what ``used`` needs."""
    pick = _picker(spans)
    name = pl.col("_name")
    message = pl.when(name != "").then(name)
    code = status_code(pl.col("_status_code"))
    start, end = pl.col("_start"), pl.col("_end")
    kind = span_kind(pl.col("_kind"))
    oi = (
        pl.when(_truthy(pick("openinference.span.kind")))
        .then(_text(pick("openinference.span.kind")).str.to_uppercase())
        .fill_null("")
    )
    op = (
        pl.when(_truthy(pick("gen_ai.operation.name")))
        .then(_text(pick("gen_ai.operation.name")).str.to_lowercase())
        .fill_null("")
    )
    db = (
        pl.when(_truthy(pick("db.system.name", "db.system")))
        .then(_text(pick("db.system.name", "db.system")).str.to_lowercase())
        .fill_null("")
    )
    has_trig = pl.col("_trig_key").is_not_null()
    # each of these is read several times below: computed once, read as columns
    spans = spans.with_columns(
        oi.alias("_oi"),
        op.alias("_op"),
        db.alias("_db"),
        kind.alias("_span_kind"),
        code.alias("_code"),
        message.alias("_message"),
    )
    oi, op, db, kind = pl.col("_oi"), pl.col("_op"), pl.col("_db"), pl.col("_span_kind")
    group = (
        pl.when(
            (oi == "GUARDRAIL")
            | name.is_in(["guardrails.rail", "guardrails.input", "guardrails.output"])
            | pick("rail.type", "rail.name", "rail.stop").is_not_null()
            | has_trig
            | (op == "guardrail")
        )
        .then(pl.lit("policy"))
        .when(
            oi.is_in(["RETRIEVER", "RERANKER"])
            | op.is_in(["retrieval", "retrieve"])
            | db.is_in(list(VECTOR_DBS))
        )
        .then(pl.lit("retrieval"))
        .when((oi == "EMBEDDING") | op.is_in(["embeddings", "embedding"]))
        .then(pl.lit("embedding"))
        .when((oi == "LLM") | op.is_in(list(LLM_OPERATIONS)))
        .then(pl.lit("inference"))
        .when(
            (oi == "")
            & (op == "")
            & pick("gen_ai.request.model", "gen_ai.response.model").is_not_null()
        )
        .then(pl.lit("inference"))
        .when((kind == "server") & pick("http.request.method", "http.method").is_not_null())
        .then(pl.lit("gateway"))
        .otherwise(pl.lit("other"))
    )
    spans = spans.with_columns(group.alias("_group"))
    g = pl.col("_group")
    status0 = pl.when(pl.col("_code") == "error").then(pl.lit("error")).otherwise(pl.lit("ok"))
    # policy
    spans = spans.with_columns(
        _text(pick("rail.type", "guardrail.stage", "gen_ai.guardrail.stage")).alias("_stage0"),
        _bool_verdict(_as_bool(pick("rail.stop"))).alias("_v1"),
        _verdict(pick(*_DECISION)).alias("_v2"),
    )
    stage0 = pl.col("_stage0")
    by_name = pl.when(name.is_in(["guardrails.input", "guardrails.output"])).then(
        name.str.split(".").list.get(1, null_on_oob=True)
    )
    stage = (
        pl.when(stage0.is_not_null() & (stage0 != ""))
        .then(stage0)
        .otherwise(pl.coalesce(by_name, stage0))
    )
    v1, v2 = pl.col("_v1"), pl.col("_v2")
    v3 = _bool_verdict(_as_bool(_Value(struct=pl.col("_trig"))))
    v4 = _verdict(pick("output.value"))
    verdict = pl.coalesce(v1, v2, pl.when(has_trig).then(v3), v4)
    reason = _text(pick("guardrails.rail.reason", "guardrail.reason"))
    pname = _text(
        pick("rail.name", "guardrail.name", "gen_ai.guardrail.name", "guardrails.rail.name")
    )
    cats = pick("guardrail.categories", "categories")
    spans = spans.with_columns(
        stage.alias("_stage"),
        verdict.alias("_verdict"),
        (v1.is_null()).alias("_asked_decision"),
        (v1.is_null() & v2.is_null() & has_trig).alias("_asked_trig"),
    )
    is_pol = g == "policy"
    # retrieval: top_k etc.
    is_ret = g == "retrieval"
    # inference
    is_inf = g.is_in(["inference", "embedding"])
    req_model = pick("gen_ai.request.model")
    resp_model = pick("gen_ai.response.model")
    fallback_model = pick(*_MODEL_FALLBACK)
    model = (
        pl.when(_truthy(resp_model))
        .then(_text(resp_model))
        .when(_truthy(req_model))
        .then(_text(req_model))
        .otherwise(_text(fallback_model))
    )
    response_id = _text(pick("gen_ai.response.id"))
    reasons = pick("gen_ai.response.finish_reasons", "llm.finish_reason")
    finish = (
        pl.when((_kind(reasons) == "a") & (reasons.field("size") > 0))
        .then(reasons.field("first"))
        .otherwise(_text(reasons))
    )
    ttft = _as_float(
        pick("gen_ai.server.time_to_first_token", "gen_ai.latency.time_to_first_token")
    )
    template = pick("llm.prompt_template.template")
    # gateway
    http_code = _as_int(pick("http.response.status_code", "http.status_code"))
    route = _text(pick("http.route", "url.path", "http.target"))
    rid = pick("http.request.header.x-request-id", "http.request.header.x_request_id")
    rid_text = pl.when(_kind(rid) == "a").then(rid.field("first")).otherwise(_text(rid))
    inf_type = (
        pl.when(status0 == "error")
        .then(pl.lit("inference.error"))
        .otherwise(pl.lit("inference.response"))
    )
    layer = pl.when(is_inf).then(pl.lit("inference")).otherwise(g)
    event_type = (
        pl.when(is_pol)
        .then(pl.lit("policy.check"))
        .when(is_ret)
        .then(pl.lit("retrieval.query"))
        .when(is_inf)
        .then(inf_type)
        .when(g == "gateway")
        .then(pl.lit("http.request"))
        .otherwise(pl.lit("server.log"))
    )
    verdict_col = pl.col("_verdict")
    stage_col = pl.col("_stage")
    spans = spans.with_columns(
        event_type.alias("event_type"),
        http_code.alias("_http_code"),
        response_id.alias("_response_id"),
        rid_text.alias("_rid_text"),
        model.alias("_model"),
    )
    event_type, http_code = pl.col("event_type"), pl.col("_http_code")
    response_id, rid_text, model = pl.col("_response_id"), pl.col("_rid_text"), pl.col("_model")
    http_status = (
        pl.when(http_code.is_null())
        .then(status0)
        .otherwise(
            http_code.cast(pl.String).replace_strict(
                {str(k): v for k, v in HTTP_STATUS.items()}, default=None, return_dtype=pl.String
            )
        )
    )
    http_status = pl.coalesce(
        http_status,
        pl.when(http_code >= 400).then(pl.lit("error")).otherwise(pl.lit("ok")),
    )
    status = (
        pl.when(is_pol & (verdict_col == "block"))
        .then(pl.lit("blocked"))
        .when(g == "gateway")
        .then(http_status)
        .otherwise(status0)
    )
    at_end = event_type.str.ends_with(".response") | event_type.str.ends_with(".error")
    moved = at_end & end.is_not_null()
    response_id_ok = response_id.is_not_null() & (response_id != "")
    ids_inf = pl.when(is_inf & response_id_ok).then(response_id)
    rid_ok = (g == "gateway") & rid_text.is_not_null() & (rid_text != "")
    inf_model = pl.when(is_inf).then(model)
    out = spans.with_columns(
        pl.when(moved).then(end).otherwise(start).alias("_ns"),
        pl.when(moved)
        .then(pl.col("_end_raw"))
        .when(start.is_not_null())
        .then(pl.col("_start_raw"))
        .alias("ts_raw"),
        layer.alias("layer"),
        event_type.alias("event_type"),
        pl.when(pl.col("_code") == "error").then(pl.lit("ERROR")).alias("severity"),
        status.alias("status"),
        pl.when(g == "gateway").then(http_code).alias("status_code"),
        _text(pick("error.type")).alias("error_type"),
        pl.when(is_pol & reason.is_not_null() & (reason != ""))
        .then(reason)
        .otherwise(pl.col("_message"))
        .alias("message"),
        pl.when(is_inf).then(response_id).when(g == "gateway").then(rid_text).alias("request_id"),
        _text(pick("session.id", "gen_ai.conversation.id")).alias("session_id"),
        _text(pick("user.id", "enduser.id")).alias("user_id"),
        pl.when(start.is_not_null() & end.is_not_null())
        .then((end - start).cast(pl.Float64) / 1e6)
        .alias("duration_ms"),
        pl.when(g == "gateway")
        .then(_text(pick("http.request.method", "http.method")))
        .alias("http_method"),
        pl.when((g == "gateway") & route.is_not_null() & (route != ""))
        .then(route.str.split("?").list.first())
        .alias("http_route"),
        pl.when(g == "gateway")
        .then(_text(pick("client.address", "http.client_ip", "net.sock.peer.addr", "net.peer.ip")))
        .alias("client_address"),
        inf_model.alias("model"),
        pl.when(is_inf)
        .then(_text(pick("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")))
        .alias("provider"),
        pl.when(is_inf & (_kind(template) == "s") & (_text(template) != ""))
        .then(_text(template))
        .alias("_template"),
        # OpenInference puts the template version on any span (CHAIN, RETRIEVER, LLM).
        _text(pick("llm.prompt_template.version")).alias("prompt_template_version"),
        pl.when(is_inf)
        .then(
            _as_int(
                pick(
                    "gen_ai.usage.input_tokens",
                    "gen_ai.usage.prompt_tokens",
                    "llm.token_count.prompt",
                )
            )
        )
        .alias("input_tokens"),
        pl.when(is_inf)
        .then(
            _as_int(
                pick(
                    "gen_ai.usage.output_tokens",
                    "gen_ai.usage.completion_tokens",
                    "llm.token_count.completion",
                )
            )
        )
        .alias("output_tokens"),
        pl.when(is_inf).then(ttft * 1000.0).alias("ttft_ms"),
        pl.when(is_inf).then(finish).alias("finish_reason"),
        pl.when(is_ret)
        .then(
            _text(
                pick(
                    "db.collection.name", "db.vector.collection", "retrieval.index", "db.namespace"
                )
            )
        )
        .alias("index_name"),
        pl.when(is_ret)
        .then(_text(pick("retrieval.index_version", "index.version")))
        .alias("index_version"),
        pl.when(is_ret)
        .then(_text(pick("embedding.model_name")))
        .when(g == "embedding")
        .then(model)
        .alias("embedding_model"),
        pl.when(is_ret)
        .then(
            _as_int(
                pick(
                    "reranker.top_k",
                    "db.vector.query.top_k",
                    "retrieval.top_k",
                    "gen_ai.request.top_k",
                )
            )
        )
        .alias("top_k"),
        pl.when(is_pol)
        .then(
            pl.when(pname.is_not_null() & (pname != "")).then(pname).otherwise(pl.col("_message"))
        )
        .alias("policy_name"),
        pl.when(is_pol)
        .then(_text(pick("guardrail.version", "rail.version")))
        .alias("policy_version"),
        pl.when(is_pol & stage_col.is_in(["input", "output"]))
        .then(stage_col)
        .alias("policy_stage"),
        pl.when(is_pol).then(verdict_col).alias("verdict"),
        pl.when(is_pol & (_kind(cats) == "a")).then(cats.field("items")).alias("categories"),
        pl.when(is_pol)
        .then(_as_float(pick("guardrail.score", "metadata.score", "score")))
        .alias("score"),
        pl.when(is_pol)
        .then(_text(pick("input.value")))
        .when(is_inf)
        .then(_text(pick("input.value", "gen_ai.prompt", "gen_ai.input.messages")))
        .alias("prompt_text"),
        pl.when(is_inf)
        .then(_text(pick("output.value", "gen_ai.completion", "gen_ai.output.messages")))
        .alias("completion_text"),
        pl.when(ids_inf.str.starts_with("chatcmpl-"))
        .then(pl.lit("chatcmpl_id"))
        .when(ids_inf.is_not_null())
        .then(pl.lit("gen_ai_response_id"))
        .when(rid_ok)
        .then(pl.lit("x_request_id"))
        .alias("_id_kind"),
        pl.coalesce(ids_inf, pl.when(rid_ok).then(rid_text)).alias("_id_value"),
        # which conditional keys count as mapped
        (is_inf & ~_truthy(resp_model) & ~_truthy(req_model)).alias("_asked_model"),
        (
            is_inf
            & _text(resp_model).is_not_null()
            & _text(req_model).is_not_null()
            & (_text(resp_model) != _text(req_model))
        ).alias("_free_request_model"),
        (is_inf & (_kind(reasons) == "a") & (reasons.field("size") > 1)).alias("_free_finish"),
        (is_pol & stage_col.is_not_null() & ~stage_col.is_in(["input", "output"])).alias(
            "_free_rail_type"
        ),
    )
    out = out.with_columns(
        pl.when(pl.col("_id_value").is_not_null())
        .then(
            pl.concat_list(
                pl.struct(kind=pl.col("_id_kind"), value=pl.col("_id_value")).cast(ID_STRUCT)
            )
        )
        .otherwise(pl.lit([], dtype=pl.List(ID_STRUCT)))
        .alias("ids"),
    )
    return out.with_columns(_fingerprints(out.get_column("_template")).alias("prompt_template"))


def keys_matching(attrs: pl.DataFrame, pattern: str) -> pl.Series:
    """The distinct ``key`` values of ``attrs`` that ``pattern`` matches, as one list (for
    ``is_in``): the regex runs once per distinct key, not once per attribute."""
    distinct = attrs.get_column("key").unique()
    return distinct.filter(distinct.str.contains(pattern)).implode()


def _used(attrs: pl.DataFrame, spans: pl.DataFrame) -> pl.Expr:
    """Per span attribute row: the key was read by the span's mapping (``Bag.used``)."""
    key, g = pl.col("key"), pl.col("_group")
    is_inf = g.is_in(["inference", "embedding"])
    return (
        key.is_in(_COMMON_USED)
        | (
            (g == "policy")
            & (
                (key.is_in(_POLICY_USED) & ~((key == "rail.type") & pl.col("_free_rail_type")))
                | (key.is_in(_DECISION) & pl.col("_asked_decision"))
                | ((key == pl.col("_trig_key")) & pl.col("_asked_trig")).fill_null(False)
            )
        )
        | (
            (g == "retrieval")
            & (key.is_in(_RETRIEVAL_USED) | key.is_in(keys_matching(attrs, _DOCS_ANY)))
        )
        | (
            is_inf
            & (
                (
                    key.is_in(_INFERENCE_USED)
                    & ~((key == "gen_ai.request.model") & pl.col("_free_request_model"))
                    & ~((key == "gen_ai.response.finish_reasons") & pl.col("_free_finish"))
                )
                | (key.is_in(_MODEL_FALLBACK) & pl.col("_asked_model"))
            )
        )
        | ((g == "gateway") & key.is_in(_GATEWAY_USED))
    )


_DOCS_ANY: Final = (
    r"^(?:retrieval\.documents|reranker\.output_documents)\.\d+\."
    r"document\.(?:id|score|content|metadata)$"
)


def _documents(attrs: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """Per retrieval span (``_p``): ``doc_ids`` and ``doc_scores`` in document order."""
    prefix = (
        pl.when(pl.col("_oi") == "RERANKER")
        .then(pl.lit("reranker.output_documents"))
        .otherwise(pl.lit("retrieval.documents"))
    )
    who = spans.filter(pl.col("_group") == "retrieval").select(
        "_p",
        prefix.alias("_prefix"),
    )
    named = attrs.filter(pl.col("key").is_in(keys_matching(attrs, _DOCS_RE)))
    parts = named.with_columns(pl.col("key").str.extract_groups(_DOCS_RE).alias("_m")).filter(
        pl.col("_m").struct.field("1").is_not_null()
    )
    empty = pl.DataFrame(
        schema={"_p": pl.UInt32(), "doc_ids": pl.List(pl.String), "doc_scores": pl.List(pl.Float64)}
    )
    if parts.height == 0 or who.height == 0:
        return empty
    parts = (
        parts.select(
            pl.col("owner").alias("_p"),
            "pos",
            pl.col("_m").struct.field("1").alias("_prefix"),
            pl.col("_m").struct.field("2").cast(pl.Int64, strict=False).alias("_n"),
            pl.col("_m").struct.field("3").alias("_what"),
            "text",
            pl.struct("text", "kind").alias("_v"),
        )
        .join(who, on=["_p", "_prefix"], how="inner")
        .sort("_p", "_n", "pos", maintain_order=True)
    )
    ids = parts.filter(pl.col("_what") == "id")
    scores = parts.filter(pl.col("_what") == "score").with_columns(
        _as_float(_Value(struct=pl.col("_v"))).alias("_score")
    )
    last_score = scores.group_by("_p", "_n", maintain_order=True).agg(pl.col("_score").last())
    id_lists = ids.group_by("_p", maintain_order=True).agg(
        pl.col("text").fill_null("").alias("doc_ids"),
        pl.col("_n").alias("_order"),
    )
    score_order = scores.group_by("_p", maintain_order=True).agg(pl.col("_n").alias("_sorder"))
    has_scores = scores.select("_p").unique()
    ordered = (
        who.select("_p")
        .join(id_lists, on="_p", how="left")
        .join(score_order, on="_p", how="left")
        .with_columns(pl.coalesce(pl.col("_order"), pl.col("_sorder")).alias("_ord"))
        .with_row_index("_row")
    )
    exploded = (
        ordered.select("_row", "_p", "_ord")
        .explode("_ord")
        .with_row_index("_k")
        .join(last_score, left_on=["_p", "_ord"], right_on=["_p", "_n"], how="left")
        .sort("_k")
    )
    lists = exploded.group_by("_row", maintain_order=True).agg(
        pl.col("_score").alias("_scores"), pl.col("_score").null_count().alias("_missing")
    )
    result = ordered.join(lists, on="_row", how="left").with_columns(
        pl.col("_p").is_in(has_scores.get_column("_p").implode()).alias("_has")
    )
    return result.select(
        "_p",
        "doc_ids",
        pl.when(pl.col("_has") & (pl.col("_missing") == 0) & (pl.col("_scores").list.len() > 0))
        .then(pl.col("_scores"))
        .alias("doc_scores"),
    )


_EXTRA: Final = (
    "span.name",
    "span.kind",
    "span.status_code",
    "span.status_message",
    "span.events",
    "span.links",
    "span.droppedAttributesCount",
    "span.droppedEventsCount",
    "span.droppedLinksCount",
)
_DROPPED: Final = ("droppedAttributesCount", "droppedEventsCount", "droppedLinksCount")
_EMPTY_KV: Final = pl.lit([], dtype=pl.List(KV_STRUCT))


def _rest(attrs: pl.DataFrame, used: pl.Expr, owners: pl.DataFrame, owner: str) -> pl.DataFrame:
    """Per owner, the attributes no mapping read (content left out), in first-seen key order."""
    kept = attrs.filter(
        ~used
        & ~pl.col("key").is_in(keys_matching(attrs, CONTENT.pattern))
        & pl.col("text").is_not_null()
    )
    lists = kept.group_by("owner", maintain_order=True).agg(
        pl.struct(pl.col("key"), pl.col("text").alias("value")).cast(KV_STRUCT).alias("_rest")
    )
    return (
        owners.select(owner)
        .join(lists.rename({"owner": owner}), on=owner, how="left", maintain_order="left")
        .select(pl.col("_rest").fill_null(_EMPTY_KV))
    )


def concat_kv(frame: pl.DataFrame, lists: Sequence[pl.Expr]) -> pl.Series:
    """Per row of ``frame``, the ``List(KV_STRUCT)`` expressions ``lists`` concatenated (what
    ``pl.concat_list`` gives, which is slow on lists of structs): their elements exploded with
    their row and list number, sorted (stably) and gathered back per row."""
    row = pl.int_range(pl.len(), dtype=pl.UInt32).alias("_r")
    parts = [
        frame.select(row, pl.lit(i, dtype=pl.UInt32).alias("_l"), expr.alias("_kv")).explode(
            "_kv", keep_nulls=False, empty_as_null=False
        )
        for i, expr in enumerate(lists)
    ]
    long = pl.concat(parts).sort("_r", "_l", maintain_order=True)
    gathered = long.group_by("_r", maintain_order=True).agg(pl.col("_kv").cast(KV_STRUCT))
    return (
        frame.select(row)
        .join(gathered, on="_r", how="left", maintain_order="left")
        .select(pl.col("_kv").fill_null(_EMPTY_KV))
        .to_series()
    )


def span_events(base: pl.DataFrame) -> tuple[pl.DataFrame, set[int]]:
    """Events of the decoded trace documents ``base`` (``_doc``, ``source_line``,
    ``resourceSpans`` of :data:`DOCUMENT`), with ``_doc`` and ``_seq`` (order within the
    document), and the ``_doc`` values whose documents hold values only the Python walker
    reproduces exactly (their rows must be dropped)."""
    resources, scopes = resource_scopes(base, "resourceSpans", "scopeSpans", "spans", "_spans")
    spans = _explode(scopes.select("_s", "_doc", "source_line", "_spans"), "_spans", "_p")
    sp = pl.col("_spans").struct.field
    spans = spans.select(
        "_p",
        "_s",
        "_doc",
        "source_line",
        sp("name").fill_null("").alias("_name"),
        sp("kind").alias("_kind"),
        sp("startTimeUnixNano").alias("_start_raw"),
        sp("endTimeUnixNano").alias("_end_raw"),
        nanos(sp("startTimeUnixNano")).alias("_start"),
        nanos(sp("endTimeUnixNano")).alias("_end"),
        hex_id(sp("traceId"), 16).alias("trace_id"),
        hex_id(sp("spanId"), 8).alias("span_id"),
        hex_id(sp("parentSpanId"), 8).alias("parent_span_id"),
        (odd_id(sp("traceId"), 16) | odd_id(sp("spanId"), 8) | odd_id(sp("parentSpanId"), 8)).alias(
            "_odd_id"
        ),
        sp("status").struct.field("code").alias("_status_code"),
        sp("status").struct.field("message").alias("_status_message"),
        sp("events").alias("_events"),
        sp("links").list.len().alias("_links"),
        *[sp(k).alias(f"_{k}") for k in _DROPPED],
        sp("attributes").alias("_attrs"),
    )
    context = _common(resources, scopes)
    spans = spans.join(context, on="_s", how="left", maintain_order="left")
    attrs = long_attributes(spans, "_p", "_attrs")
    odd = set(
        spans.filter(pl.col("_odd_id")).get_column("_doc").to_list()
        + spans.join(
            attrs.filter(pl.col("odd")).select(pl.col("owner").alias("_p")).unique(), on="_p"
        )
        .get_column("_doc")
        .to_list()
    )
    spans = _wide(spans.drop("_attrs"), attrs)
    spans = spans.join(_triggered(attrs), on="_p", how="left", maintain_order="left")
    if "_trig" not in spans.columns or spans.get_column("_trig").dtype == pl.Null:
        spans = spans.with_columns(
            pl.lit(None, dtype=pl.String).alias("_trig_key"),
            pl.lit(None, dtype=_TRIG).alias("_trig"),
        )
    spans = _rows(spans)
    spans = spans.drop([c for c in spans.columns if "|" in c])
    # attributes: the span's own facts, unmapped attributes, resource and scope
    flags = spans.select(
        pl.col("_p").alias("owner"),
        "_group",
        "_free_rail_type",
        "_asked_decision",
        "_asked_trig",
        "_trig_key",
        "_free_request_model",
        "_free_finish",
        "_asked_model",
    )
    joined = attrs.join(flags, on="owner", how="left", maintain_order="left")
    rest = _rest(joined, _used(joined, spans), spans, "_p")
    docs_cols = _documents(attrs, spans)
    events_len = pl.col("_events").list.len().fill_null(0)
    extra = pairs_expr(
        {
            "span.name": pl.when(pl.col("_name") != "").then(pl.col("_name")),
            "span.kind": pl.col("_span_kind"),
            "span.status_code": pl.col("_code"),
            "span.status_message": pl.when(pl.col("_status_message") != "").then(
                pl.col("_status_message")
            ),
            "span.events": pl.when(events_len > 0).then(events_len.cast(pl.String)),
            "span.links": pl.when(pl.col("_links").fill_null(0) > 0).then(
                pl.col("_links").cast(pl.String)
            ),
            **{
                f"span.{k}": pl.when(int_text(pl.col(f"_{k}")).fill_null("0") != "0").then(
                    pl.col(f"_{k}")
                )
                for k in _DROPPED
            },
        }
    )
    spans = pl.concat([spans, rest], how="horizontal")
    spans = spans.join(docs_cols, on="_p", how="left", maintain_order="left").with_columns(
        concat_kv(spans, [extra, pl.col("_rest"), pl.col("common")]).alias("attributes"),
        pl.lit(0, dtype=pl.Int64).alias("_sub"),
    )
    events = _span_event_rows(spans)
    rows = pl.concat([spans.select(_OUT), events.select(_OUT)], how="vertical_relaxed")
    rows = rows.sort("_p", "_sub", maintain_order=True)
    rows = rows.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).over("_doc").alias("_seq")
    ).drop("_p", "_sub")
    return rows, odd


_TRIG: Final = pl.Struct(
    {
        "text": pl.String(),
        "kind": pl.String(),
        "first": pl.String(),
        "size": pl.UInt32(),
        "items": pl.List(pl.String()),
    }
)
_OUT: Final = (
    "_p",
    "_sub",
    "_doc",
    "source_line",
    "_ns",
    "ts_raw",
    "layer",
    "event_type",
    "severity",
    "status",
    "status_code",
    "error_type",
    "message",
    "request_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "session_id",
    "user_id",
    "host",
    "duration_ms",
    "http_method",
    "http_route",
    "client_address",
    "model",
    "provider",
    "prompt_template",
    "prompt_template_version",
    "input_tokens",
    "output_tokens",
    "ttft_ms",
    "finish_reason",
    "index_name",
    "index_version",
    "embedding_model",
    "top_k",
    "doc_ids",
    "doc_scores",
    "policy_name",
    "policy_version",
    "policy_stage",
    "verdict",
    "categories",
    "score",
    "prompt_text",
    "completion_text",
    "ids",
    "attributes",
)


def _span_event_rows(spans: pl.DataFrame) -> pl.DataFrame:
    """The extra events of exception and first-token span events (others are only counted)."""
    ev = (
        spans.select("_p", "_start", "layer", "_events")
        .explode("_events", keep_nulls=False, empty_as_null=False)
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("_p").alias("_sub"))
        .filter(pl.col("_events").is_not_null())
    )
    name = pl.col("_events").struct.field("name").fill_null("")
    low = name.str.to_lowercase().str.replace_all("_", " ", literal=True)
    ev = ev.with_columns(
        name.alias("_ename"),
        (name == "exception").alias("_exc"),
        low.str.contains("first token", literal=True).alias("_first"),
    ).filter(pl.col("_exc") | pl.col("_first"))
    columns = [c for c in _OUT if c not in ("_sub",)]
    if ev.height == 0:
        return pl.DataFrame(schema=spans.select(_OUT).schema)
    ev = ev.with_row_index("_ev")
    attrs = long_attributes(
        ev.select("_ev", pl.col("_events").struct.field("attributes").alias("_a")), "_ev", "_a"
    )
    exc_fields = (
        attrs.filter(pl.col("key").is_in(["exception.type", "exception.message"]))
        .pivot(on="key", index="owner", values="text")
        .rename({"owner": "_ev"})
    )
    for k in ("exception.type", "exception.message"):
        if k not in exc_fields.columns:
            exc_fields = exc_fields.with_columns(pl.lit(None, dtype=pl.String).alias(k))
    ev = ev.join(exc_fields, on="_ev", how="left", maintain_order="left")
    flags = ev.select(pl.col("_ev").alias("owner"), "_exc")
    joined = attrs.join(flags, on="owner", how="left", maintain_order="left")
    used = pl.col("_exc") & pl.col("key").is_in(["exception.type", "exception.message"])
    rest = _rest(joined, used, ev, "_ev")
    ev = pl.concat([ev, rest], how="horizontal")
    span_cols = spans.select(
        "_p",
        "_doc",
        "source_line",
        "trace_id",
        "span_id",
        "parent_span_id",
        "host",
        "request_id",
        "model",
        "provider",
        "ids",
        "common",
    )
    ev = ev.join(span_cols, on="_p", how="left", maintain_order="left")
    at = nanos(pl.col("_events").struct.field("timeUnixNano"))
    exc = pl.col("_exc")
    message = pl.col("exception.message")
    out = ev.with_columns(
        at.alias("_ns"),
        pl.when(at.is_not_null())
        .then(pl.col("_events").struct.field("timeUnixNano"))
        .alias("ts_raw"),
        pl.when(exc).then(pl.col("layer")).otherwise(pl.lit("inference")).alias("layer"),
        pl.when(exc & (pl.col("layer") == "inference"))
        .then(pl.lit("inference.error"))
        .when(exc)
        .then(pl.lit("server.log"))
        .otherwise(pl.lit("inference.first_token"))
        .alias("event_type"),
        pl.when(exc).then(pl.lit("ERROR")).alias("severity"),
        pl.when(exc).then(pl.lit("error")).alias("status"),
        pl.when(exc).then(pl.col("exception.type")).alias("error_type"),
        pl.when(exc & message.is_not_null() & (message != ""))
        .then(message)
        .otherwise(pl.col("_ename"))
        .alias("message"),
        pl.when(~exc & at.is_not_null() & pl.col("_start").is_not_null())
        .then((at - pl.col("_start")).cast(pl.Float64) / 1e6)
        .alias("ttft_ms"),
        pl.concat_list(
            pl.concat_list(pl.struct(key=pl.lit("span.event_name"), value=pl.col("_ename"))).cast(
                pl.List(KV_STRUCT)
            ),
            pl.col("_rest"),
            pl.col("common"),
        ).alias("attributes"),
    )
    missing = [c for c in columns if c not in out.columns]
    out = out.with_columns(pl.lit(None).alias(c) for c in missing)
    schema = spans.select(_OUT).schema
    return out.select(_OUT).cast(schema)
