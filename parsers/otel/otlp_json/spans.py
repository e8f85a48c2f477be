"""Map one OTLP span to canonical events: layer and type from GenAI / OpenInference / HTTP conventions.

A span becomes ONE event with ``duration_ms`` = end - start, at its start time; except spans typed
``inference.response`` / ``inference.error``, which are placed at their end time, because the schema
says response events end at ``ts`` (correlation places inner layers inside the gateway span with
it). Span events
named like a first token, and ``exception`` span events, become extra events of the same line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from parsers.otel.otlp_json.attrs import Bag
from parsers.otel.otlp_json.values import (
    as_bool,
    as_float,
    as_int,
    hex_id,
    key_values,
    nanos,
    span_kind,
    status_code,
)
from timeline.parserkit.values import json_text

Row = dict[str, Any]

VECTOR_DBS: Final = frozenset(
    {
        "qdrant",
        "milvus",
        "chroma",
        "chromadb",
        "pinecone",
        "weaviate",
        "elasticsearch",
        "opensearch",
        "pgvector",
        "lancedb",
        "redis",
        "vespa",
        "faiss",
        "marqo",
        "mongodb_atlas",
    }
)
LLM_OPERATIONS: Final = frozenset(
    {"chat", "text_completion", "completion", "generate_content", "generate", "chat.completions"}
)
VERDICTS: Final = {
    "allow": "allow",
    "allowed": "allow",
    "pass": "allow",
    "passed": "allow",
    "approve": "allow",
    "approved": "allow",
    "safe": "allow",
    "continue": "allow",
    "block": "block",
    "blocked": "block",
    "deny": "block",
    "denied": "block",
    "reject": "block",
    "rejected": "block",
    "stop": "block",
    "refuse": "block",
    "unsafe": "block",
    "flag": "flag",
    "flagged": "flag",
    "warn": "flag",
    "redact": "redact",
    "redacted": "redact",
    "mask": "redact",
    "masked": "redact",
}
HTTP_STATUS: Final = {429: "rate_limited", 408: "timeout", 504: "timeout", 499: "cancelled"}


@dataclass(frozen=True)
class Context:
    """What every span of one scope shares: resource and scope attributes, line, host."""

    source_line: int
    host: str | None
    common: list[dict[str, str]]


def resource_context(source_line: int, resource: Any, scope: Any) -> Context:
    """The shared part: ``resource.*`` and ``scope.*`` attributes and the host."""
    res = key_values(resource.get("attributes") if isinstance(resource, dict) else None)
    common = [
        {"key": f"resource.{key}", "value": shown}
        for key in res
        if (shown := json_text(res[key])) is not None
    ]
    if isinstance(scope, dict):
        for key in ("name", "version"):
            if isinstance(scope.get(key), str) and scope[key]:
                common.append({"key": f"scope.{key}", "value": scope[key]})
        for k, value in key_values(scope.get("attributes")).items():
            if (shown := json_text(value)) is not None:
                common.append({"key": f"scope.{k}", "value": shown})
    host = next(
        (
            json_text(res[k])
            for k in ("host.name", "k8s.pod.name", "container.name", "service.name")
            if res.get(k) not in (None, "")
        ),
        None,
    )
    return Context(source_line, host, common)


def verdict_of(value: Any) -> str | None:
    """allow | block | flag | redact from a decision word, or None."""
    if isinstance(value, bool):
        return "block" if value else "allow"
    if isinstance(value, str):
        return VERDICTS.get(value.strip().lower())
    return None


def _kind(bag: Bag, name: str, kind: str | None) -> str:
    """policy | retrieval | embedding | inference | gateway | other, by convention priority."""
    oi = str(bag.peek("openinference.span.kind") or "").upper()
    op = str(bag.peek("gen_ai.operation.name") or "").lower()
    if (
        oi == "GUARDRAIL"
        or name in ("guardrails.rail", "guardrails.input", "guardrails.output")
        or bag.peek("rail.type", "rail.name", "rail.stop") is not None
        or _triggered_key(bag) is not None
        or op == "guardrail"
    ):
        return "policy"
    db = str(bag.peek("db.system.name", "db.system") or "").lower()
    if oi in ("RETRIEVER", "RERANKER") or op in ("retrieval", "retrieve") or db in VECTOR_DBS:
        return "retrieval"
    if oi == "EMBEDDING" or op in ("embeddings", "embedding"):
        return "embedding"
    if oi == "LLM" or op in LLM_OPERATIONS:
        return "inference"
    if not oi and not op and bag.peek("gen_ai.request.model", "gen_ai.response.model") is not None:
        return "inference"
    if kind == "server" and bag.peek("http.request.method", "http.method") is not None:
        return "gateway"
    return "other"


def _triggered_key(bag: Bag) -> str | None:
    for key in bag.values:
        if key == "triggered" or key.endswith(".triggered"):
            return key
    return None


def span_rows(ctx: Context, span: Any) -> list[Row]:
    """The events of one span (the span itself first)."""
    if not isinstance(span, dict):
        return []
    bag = Bag(key_values(span.get("attributes")))
    raw_name = span.get("name")
    name: str = raw_name if isinstance(raw_name, str) else ""
    kind = span_kind(span.get("kind"))
    start = nanos(span.get("startTimeUnixNano"))
    end = nanos(span.get("endTimeUnixNano"))
    raw_status = span.get("status")
    status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
    code = status_code(status.get("code"))
    group = _kind(bag, name, kind)
    row: Row = {
        "source_line": ctx.source_line,
        "_ns": start,
        "ts_raw": json_text(span.get("startTimeUnixNano")) if start is not None else None,
        "message": name or None,
        "trace_id": hex_id(span.get("traceId"), 16),
        "span_id": hex_id(span.get("spanId"), 8),
        "parent_span_id": hex_id(span.get("parentSpanId"), 8),
        "host": ctx.host,
        "duration_ms": (end - start) / 1e6 if start is not None and end is not None else None,
        "status": "error" if code == "error" else "ok",
        "severity": "ERROR" if code == "error" else None,
        "error_type": json_text(bag.get("error.type")),
        "session_id": json_text(bag.get("session.id", "gen_ai.conversation.id")),
        "user_id": json_text(bag.get("user.id", "enduser.id")),
        # OpenInference puts the template version on any span (CHAIN, RETRIEVER, LLM).
        "prompt_template_version": json_text(bag.get("llm.prompt_template.version")),
    }
    ids: list[dict[str, str]] = []
    if group == "policy":
        _policy(row, bag, name)
    elif group == "retrieval":
        _retrieval(row, bag)
    elif group in ("inference", "embedding"):
        _inference(row, bag, ids, embedding=group == "embedding")
    elif group == "gateway":
        _gateway(row, bag, ids)
    else:
        row.update(layer="other", event_type="server.log")
    row["ids"] = ids
    if str(row.get("event_type", "")).endswith((".response", ".error")) and end is not None:
        row["_ns"] = end
        row["ts_raw"] = json_text(span.get("endTimeUnixNano"))
    extra: list[dict[str, str]] = [
        {"key": "span.name", "value": name} if name else {},
        {"key": "span.kind", "value": kind} if kind else {},
        {"key": "span.status_code", "value": code},
        {"key": "span.status_message", "value": status["message"]}
        if isinstance(status.get("message"), str) and status["message"]
        else {},
    ]
    raw_events, raw_links = span.get("events"), span.get("links")
    events: list[Any] = raw_events if isinstance(raw_events, list) else []
    links: list[Any] = raw_links if isinstance(raw_links, list) else []
    if events:
        extra.append({"key": "span.events", "value": str(len(events))})
    if links:
        extra.append({"key": "span.links", "value": str(len(links))})
    extra += [{"key": f"span.{k}", "value": str(span[k])} for k in _DROPPED if as_int(span.get(k))]
    row["attributes"] = [kv for kv in extra if kv] + bag.rest() + ctx.common
    rows = [row]
    for event in events:
        rows.extend(_span_event(ctx, row, event, start))
    return rows


_DROPPED: Final = ("droppedAttributesCount", "droppedEventsCount", "droppedLinksCount")


def _policy(row: Row, bag: Bag, name: str) -> None:
    stage = json_text(bag.get("rail.type", "guardrail.stage", "gen_ai.guardrail.stage"))
    if name in ("guardrails.input", "guardrails.output"):
        stage = stage or name.split(".", 1)[1]
    triggered = _triggered_key(bag)
    verdict = (
        verdict_of(as_bool(bag.get("rail.stop")))
        or verdict_of(bag.get("guardrails.governance.decision", "guardrail.decision"))
        or (verdict_of(as_bool(bag.get(triggered))) if triggered else None)
        or verdict_of(bag.peek("output.value"))
    )
    reason = json_text(bag.get("guardrails.rail.reason", "guardrail.reason"))
    policy_name = json_text(
        bag.get("rail.name", "guardrail.name", "gen_ai.guardrail.name", "guardrails.rail.name")
    )
    categories = bag.get("guardrail.categories", "categories")
    row.update(
        layer="policy",
        event_type="policy.check",
        policy_name=policy_name or row["message"],
        policy_version=json_text(bag.get("guardrail.version", "rail.version")),
        policy_stage=stage if stage in ("input", "output") else None,
        verdict=verdict,
        score=as_float(bag.get("guardrail.score", "metadata.score", "score")),
        categories=[str(c) for c in categories] if isinstance(categories, list) else None,
        prompt_text=json_text(bag.peek("input.value")),
    )
    if stage is not None and stage not in ("input", "output"):
        bag.used.discard("rail.type")
    if reason:
        row["message"] = reason
    if verdict == "block":
        row["status"] = "blocked"


def _documents(bag: Bag, prefix: str) -> tuple[list[str] | None, list[float] | None]:
    ids = bag.indexed(prefix, "document.id")
    scores = bag.indexed(prefix, "document.score")
    bag.indexed(prefix, "document.content")
    bag.indexed(prefix, "document.metadata")
    doc_ids = [json_text(v) or "" for _, v in ids] or None
    by_index = dict(scores)
    order = [i for i, _ in ids] or [i for i, _ in scores]
    doc_scores = [as_float(by_index.get(i)) for i in order] if scores else None
    clean = [s for s in doc_scores or [] if s is not None]
    return doc_ids, clean if doc_scores and len(clean) == len(doc_scores) else None


def _retrieval(row: Row, bag: Bag) -> None:
    reranker = str(bag.peek("openinference.span.kind") or "").upper() == "RERANKER"
    prefix = "reranker.output_documents" if reranker else "retrieval.documents"
    doc_ids, doc_scores = _documents(bag, prefix)
    row.update(
        layer="retrieval",
        event_type="retrieval.query",
        index_name=json_text(
            bag.get("db.collection.name", "db.vector.collection", "retrieval.index", "db.namespace")
        ),
        index_version=json_text(bag.get("retrieval.index_version", "index.version")),
        embedding_model=json_text(bag.get("embedding.model_name")),
        top_k=as_int(
            bag.get(
                "reranker.top_k", "db.vector.query.top_k", "retrieval.top_k", "gen_ai.request.top_k"
            )
        ),
        doc_ids=doc_ids,
        doc_scores=doc_scores,
    )


def _inference(row: Row, bag: Bag, ids: list[dict[str, str]], embedding: bool) -> None:
    request_model = bag.get("gen_ai.request.model")
    response_model = bag.get("gen_ai.response.model")
    model = json_text(
        response_model or request_model or bag.get("llm.model_name", "embedding.model_name")
    )
    response_id = json_text(bag.get("gen_ai.response.id"))
    if response_id:
        kind = "chatcmpl_id" if response_id.startswith("chatcmpl-") else "gen_ai_response_id"
        ids.append({"kind": kind, "value": response_id})
    reasons = bag.get("gen_ai.response.finish_reasons", "llm.finish_reason")
    finish = reasons[0] if isinstance(reasons, list) and reasons else reasons
    template = bag.peek("llm.prompt_template.template")
    ttft_s = as_float(
        bag.get("gen_ai.server.time_to_first_token", "gen_ai.latency.time_to_first_token")
    )
    row.update(
        layer="inference",
        event_type="inference.error" if row["status"] == "error" else "inference.response",
        request_id=response_id,
        model=model,
        embedding_model=model if embedding else None,
        provider=json_text(
            bag.get("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
        ),
        prompt_template=_fingerprint(template),
        input_tokens=as_int(
            bag.get(
                "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"
            )
        ),
        output_tokens=as_int(
            bag.get(
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.completion_tokens",
                "llm.token_count.completion",
            )
        ),
        finish_reason=json_text(finish),
        ttft_ms=ttft_s * 1000.0 if ttft_s is not None else None,
        prompt_text=json_text(bag.peek("input.value", "gen_ai.prompt", "gen_ai.input.messages")),
        completion_text=json_text(
            bag.peek("output.value", "gen_ai.completion", "gen_ai.output.messages")
        ),
    )
    if response_model is not None and request_model is not None and response_model != request_model:
        bag.used.discard("gen_ai.request.model")
    if isinstance(reasons, list) and len(reasons) > 1:
        bag.used.discard("gen_ai.response.finish_reasons")


def _fingerprint(template: Any) -> str | None:
    """A short stable name for a prompt template text (the text itself is content)."""
    if not isinstance(template, str) or not template:
        return None
    return "tmpl-" + hashlib.sha256(template.encode("utf-8")).hexdigest()[:12]


def _gateway(row: Row, bag: Bag, ids: list[dict[str, str]]) -> None:
    code = as_int(bag.get("http.response.status_code", "http.status_code"))
    route = json_text(bag.get("http.route", "url.path", "http.target"))
    request_id = bag.get("http.request.header.x-request-id", "http.request.header.x_request_id")
    if isinstance(request_id, list):
        request_id = request_id[0] if request_id else None
    if json_text(request_id):
        ids.append({"kind": "x_request_id", "value": str(request_id)})
    status = row["status"]
    if code is not None:
        status = HTTP_STATUS.get(code, "error" if code >= 400 else "ok")
    row.update(
        layer="gateway",
        event_type="http.request",
        http_method=json_text(bag.get("http.request.method", "http.method")),
        http_route=route.split("?", 1)[0] if route else None,
        status_code=code,
        status=status,
        client_address=json_text(
            bag.get("client.address", "http.client_ip", "net.sock.peer.addr", "net.peer.ip")
        ),
        request_id=json_text(request_id),
    )


def _span_event(ctx: Context, span_row: Row, event: Any, start: int | None) -> list[Row]:
    """An extra event for a first-token or exception span event; others are only counted."""
    if not isinstance(event, dict):
        return []
    raw_name = event.get("name")
    name: str = raw_name if isinstance(raw_name, str) else ""
    low = name.lower().replace("_", " ")
    at = nanos(event.get("timeUnixNano"))
    bag = Bag(key_values(event.get("attributes")))
    base: Row = {
        "source_line": ctx.source_line,
        "_ns": at,
        "ts_raw": json_text(event.get("timeUnixNano")) if at is not None else None,
        "trace_id": span_row.get("trace_id"),
        "span_id": span_row.get("span_id"),
        "parent_span_id": span_row.get("parent_span_id"),
        "host": ctx.host,
        "request_id": span_row.get("request_id"),
        "model": span_row.get("model"),
        "provider": span_row.get("provider"),
        "ids": span_row.get("ids", []),
        "message": name,
    }
    if name == "exception":
        base.update(
            layer=span_row.get("layer"),
            event_type="inference.error" if span_row.get("layer") == "inference" else "server.log",
            severity="ERROR",
            status="error",
            error_type=json_text(bag.get("exception.type")),
            message=json_text(bag.get("exception.message")) or name,
        )
    elif "first token" in low:
        base.update(
            layer="inference",
            event_type="inference.first_token",
            ttft_ms=(at - start) / 1e6 if at is not None and start is not None else None,
        )
    else:
        return []
    base["attributes"] = [{"key": "span.event_name", "value": name}, *bag.rest(), *ctx.common]
    return [base]
