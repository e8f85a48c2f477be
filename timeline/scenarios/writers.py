"""Write requests as real log formats, each line with the request it truly belongs to.

Every writer returns ``(time, line, truth)`` rows: ``time`` orders the file, ``truth`` is
``(request key, "id" | "heuristic")`` or None for lines that belong to no request. A source's clock
skew is applied to the times it prints, never to the truth.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from timeline.scenarios.model import BASE_TIME, Request

Truth = tuple[str, str] | None
Row = tuple[float, str, Truth]


def at(ms: float, skew_ms: float = 0.0) -> datetime:
    """The time a source with ``skew_ms`` prints for true time ``ms``."""
    return BASE_TIME + timedelta(milliseconds=ms + skew_ms)


def iso_ms(ms: float, skew_ms: float = 0.0) -> str:
    """``2025-03-02T10:15:04.123Z`` (milliseconds truncated, as loggers do)."""
    t = at(math.floor(ms + skew_ms), 0.0)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def nginx_combined(reqs: Iterable[Request]) -> list[Row]:
    """The edge proxy: nginx ``combined``, no request id; time is when the response was sent."""
    rows: list[Row] = []
    for r in reqs:
        end = r.steps["edge"].end
        stamp = at(end).strftime("%d/%b/%Y:%H:%M:%S +0000")
        line = (
            f'{r.client} - - [{stamp}] "POST {r.route} HTTP/1.1" {r.status} {200 + r.output_tokens * 4} '
            f'"-" "{r.user_agent}"'
        )
        rows.append((end, line, (r.key, "heuristic")))
    return rows


def envoy_text(reqs: Iterable[Request]) -> list[Row]:
    """Envoy's default access-log format: start time, duration, x-request-id, XFF."""
    rows: list[Row] = []
    for r in reqs:
        gw = r.steps["gateway"]
        start = math.floor(gw.start)
        duration = math.ceil(gw.end) - start
        flags = "-" if r.status < 500 else "UC"
        upstream = "-" if r.input_verdict == "block" else "10.2.0.15:8000"
        line = (
            f'[{iso_ms(start)}] "POST {r.route} HTTP/1.1" {r.status} {flags} 812 {200 + r.output_tokens * 4} '
            f'{duration} {max(duration - 2, 0)} "{r.client}" "{r.user_agent}" "{r.rid}" "api.example.net" '
            f'"{upstream}"'
        )
        rows.append((gw.start, line, (r.key, "id")))
    return rows


def litellm_spend(reqs: Iterable[Request], chatcmpl: dict[str, str]) -> list[Row]:
    """LiteLLM proxy SpendLogs rows as JSON lines; ``request_id`` is the model's chatcmpl id."""
    rows: list[Row] = []
    for r in reqs:
        if "inference" not in r.steps:
            continue
        gw, inf = r.steps["gateway"], r.steps["inference"]
        start = gw.start + 0.4
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        row = {
            "request_id": chatcmpl[r.key],
            "call_type": "acompletion",
            "api_key": "5f1c0b2e" * 8,
            "spend": round((r.input_tokens + r.output_tokens) * 2e-7, 8),
            "total_tokens": r.input_tokens + r.output_tokens,
            "prompt_tokens": r.input_tokens,
            "completion_tokens": r.output_tokens,
            "startTime": at(start).strftime(fmt),
            "endTime": at(inf.end + 0.3).strftime(fmt),
            "completionStartTime": at(inf.start + 80).strftime(fmt),
            "model": r.model,
            "model_id": "deploy-vllm-a",
            "model_group": r.model,
            "api_base": "http://vllm-a:8000/v1",
            "custom_llm_provider": "hosted_vllm",
            "session_id": r.session,
            "cache_hit": "None",
            "metadata": json.dumps({"status": "success", "user_api_key_alias": "support-bot"}),
            "proxy_server_request": json.dumps({"headers": {"x-request-id": r.rid}}),
            "messages": "[]",
            "response": "{}",
        }
        rows.append((start, json.dumps(row), (r.key, "id")))
    return rows


def llama_guard(reqs: Iterable[Request], drop_input_id: Collection[str] = ()) -> list[Row]:
    """A guard service logging Llama Guard verdicts as JSON lines (time = check start)."""
    rows: list[Row] = []
    for r in reqs:
        for stage, step_name, verdict, cats in (
            ("input", "policy_in", r.input_verdict, r.input_categories),
            ("output", "policy_out", r.output_verdict, r.output_categories),
        ):
            step = r.steps.get(step_name)
            if step is None:
                continue
            output = "safe" if verdict == "allow" else "unsafe\n" + ",".join(cats)
            anonymous = stage == "input" and r.key in drop_input_id
            row = {
                "ts": iso_ms(step.start),
                "request_id": "-" if anonymous else r.rid,
                "session_id": r.session,
                "model": r.guard_model,
                "stage": stage,
                "output": output,
                "latency_ms": round(step.end - math.floor(step.start), 1),
            }
            rows.append((step.start, json.dumps(row), (r.key, "heuristic" if anonymous else "id")))
    return rows


def openai_moderation(reqs: Iterable[Request]) -> list[Row]:
    """OpenAI moderation responses logged with the caller's request id (time = response received)."""
    rows: list[Row] = []
    for r in reqs:
        for stage, step_name, verdict in (
            ("input", "policy_in", r.input_verdict),
            ("output", "policy_out", r.output_verdict),
        ):
            step = r.steps.get(step_name)
            if step is None:
                continue
            flagged = verdict == "block"
            response: dict[str, Any] = {
                "id": f"modr-{r.index:05d}{stage[0]}",
                "model": "omni-moderation-2024-09-26",
                "results": [
                    {
                        "flagged": flagged,
                        "categories": {
                            "harassment": flagged,
                            "violence": False,
                            "self-harm": False,
                        },
                        "category_scores": {
                            "harassment": 0.91 if flagged else 0.002,
                            "violence": 0.001,
                            "self-harm": 0.0004,
                        },
                    }
                ],
            }
            row = {
                "ts": iso_ms(step.end),
                "request_id": r.rid,
                "stage": stage,
                "action": "block" if flagged else "allow",
                "response": response,
            }
            rows.append((step.end, json.dumps(row), (r.key, "id")))
    return rows


def es_slowlog(reqs: Iterable[Request]) -> list[Row]:
    """Elasticsearch 8 search slow log (JSON); X-Opaque-Id carries the request id."""
    rows: list[Row] = []
    for r in reqs:
        step = r.steps.get("retrieval")
        if step is None:
            continue
        took = step.end - step.start
        row = {
            "@timestamp": iso_ms(math.ceil(step.end)),
            "log.level": "WARN",
            "id": r.rid,
            "message": f"[{r.kb_index}][0]",
            "search_type": "QUERY_THEN_FETCH",
            "source": json.dumps({"size": 5, "query": {"knn": {"field": "embedding", "k": 5}}}),
            "stats": "[]",
            "took": f"{took:.1f}ms",
            "took_millis": str(int(took)),
            "total_hits": f"{r.hits} hits",
            "total_shards": "1",
            "service.name": "ES_ECS",
            "log.logger": "index.search.slowlog.query.Kb7RtqQXS3mY0x2V9bLwAQ",
            "type": "index_search_slowlog",
            "node.name": "es-0",
            "cluster.name": "kb",
        }
        rows.append((step.end, json.dumps(row), (r.key, "id")))
    return rows


def openai_http(reqs: Iterable[Request], skew_ms: float = 0.0) -> list[Row]:
    """An OpenAI-compatible client log: request and response per line (time = response received)."""
    rows: list[Row] = []
    response: dict[str, Any]
    for r in reqs:
        step = r.steps.get("inference")
        if step is None:
            continue
        end = math.ceil(step.end)
        if r.inference_error:
            status, response = (
                400,
                {
                    "error": {
                        "message": "This model's maximum context length is 8192 tokens.",
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": r.inference_error,
                    }
                },
            )
        else:
            status = 200
            response = {
                "id": f"chatcmpl-{r.index:06d}{r.inference_host[-1]}",
                "object": "chat.completion",
                "created": int((BASE_TIME + timedelta(milliseconds=step.start)).timestamp()),
                "model": r.model,
                "system_fingerprint": r.revision,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "..."},
                        "finish_reason": r.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": r.input_tokens,
                    "completion_tokens": r.output_tokens,
                    "total_tokens": r.input_tokens + r.output_tokens,
                },
            }
        row = {
            "ts": iso_ms(end, skew_ms),
            "request_id": r.rid,
            "endpoint": "/v1/chat/completions",
            "status_code": status,
            "latency_ms": round(end - step.start, 1),
            "request": {"model": r.model, "messages": [{"role": "user", "content": r.prompt}]},
            "response": response,
        }
        rows.append((step.end, json.dumps(row), (r.key, "id")))
    return rows


def _vllm_prefix(ms: float, level: str = "INFO", where: str = "logger.py:47") -> str:
    return f"(APIServer pid=7) {level} {at(ms).strftime('%m-%d %H:%M:%S')} [{where}]"


def vllm_v1(
    reqs: Iterable[Request],
    ids: dict[str, str],
    start_ms: float,
    end_ms: float,
    model: str,
    revision: str,
    rng: random.Random,
) -> list[Row]:
    """vLLM V1 server log: startup (model and revision), per-request lines, metrics every 10 s."""
    rows: list[Row] = [
        (
            start_ms - 60_000,
            f"{_vllm_prefix(start_ms - 60_000, where='api_server.py:1805')} vLLM API server version 0.10.1",
            None,
        ),
        (
            start_ms - 59_000,
            f"(EngineCore_0 pid=9) INFO {at(start_ms - 59_000).strftime('%m-%d %H:%M:%S')} [core.py:71] Initializing a V1 LLM "
            f"engine (v0.10.1) with config: model='{model}', speculative_config=None, tokenizer='{model}', "
            f"revision='{revision}', dtype=torch.bfloat16, max_seq_len=8192, served_model_name={model}",
            None,
        ),
    ]
    t = start_ms
    while t < end_ms:
        rows.append(
            (
                t,
                f"{_vllm_prefix(t, where='loggers.py:123')} Engine 000: Avg prompt throughput: "
                f"{rng.uniform(50, 400):.1f} tokens/s, Avg generation throughput: {rng.uniform(20, 90):.1f} tokens/s, "
                f"Running: {rng.randint(0, 6)} reqs, Waiting: 0 reqs, GPU KV cache usage: {rng.uniform(1, 30):.1f}%, "
                "Prefix cache hit rate: 12.5%",
                None,
            )
        )
        t += 10_000
    for r in reqs:
        step = r.steps.get("inference")
        if step is None:
            continue
        rid = ids[r.key]
        rows.append(
            (
                step.start,
                f"{_vllm_prefix(step.start)} Received request {rid}: params: SamplingParams(n=1, "
                f"temperature=0.2, top_p=1.0, max_tokens=512, stop=[]), lora_request: None.",
                (r.key, "id"),
            )
        )
        rows.append(
            (
                step.start + 0.5,
                f"{_vllm_prefix(step.start + 0.5, where='async_llm.py:300')} Added request "
                f"{rid}-{r.index * 2654435761 % 2**32:08x}.",
                (r.key, "id"),
            )
        )
        rows.append(
            (
                step.end,
                f"{_vllm_prefix(step.end, where='async_llm.py:420')} Finished request {rid}.",
                (r.key, "id"),
            )
        )
    return rows


def _attr(key: str, value: object) -> dict[str, object]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {
            "key": key,
            "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}},
        }
    return {"key": key, "value": {"stringValue": str(value)}}


def _ns(ms: float, skew_ms: float = 0.0) -> str:
    return str(round((BASE_TIME.timestamp() * 1000 + ms + skew_ms) * 1_000_000))


def otlp_traces(reqs: Iterable[Request], rng: random.Random, host: str = "rag-app-0") -> list[Row]:
    """The RAG app's spans, one OTLP/JSON ``resourceSpans`` document per request (Collector file exporter)."""
    rows: list[Row] = []
    for r in reqs:
        if "retrieval" not in r.steps:
            continue
        trace = f"{rng.getrandbits(128):032x}"
        root = f"{rng.getrandbits(64):016x}"
        server_start = r.steps["gateway"].start + 0.3
        server_end = r.steps["gateway"].end - 0.3
        spans = [
            {
                "traceId": trace,
                "spanId": root,
                "parentSpanId": "",
                "name": "POST /v1/chat/completions",
                "kind": 2,
                "startTimeUnixNano": _ns(server_start),
                "endTimeUnixNano": _ns(server_end),
                "attributes": [
                    _attr("http.request.method", "POST"),
                    _attr("url.path", r.route),
                    _attr("http.response.status_code", r.status),
                    _attr("http.request.header.x-request-id", [r.rid]),
                ],
                "status": {"code": 2 if r.status >= 500 else 0},
            }
        ]
        ret = r.steps["retrieval"]
        ret_attrs = [
            _attr("openinference.span.kind", "RETRIEVER"),
            _attr("retrieval.index", r.kb_index),
        ]
        for i in range(r.hits):
            ret_attrs += [
                _attr(f"retrieval.documents.{i}.document.id", f"{r.kb_index}-doc-{i}"),
                _attr(f"retrieval.documents.{i}.document.score", round(0.9 - i * 0.07, 3)),
            ]
        spans.append(
            {
                "traceId": trace,
                "spanId": f"{rng.getrandbits(64):016x}",
                "parentSpanId": root,
                "name": "retrieve",
                "kind": 1,
                "startTimeUnixNano": _ns(ret.start),
                "endTimeUnixNano": _ns(ret.end),
                "attributes": ret_attrs,
                "status": {"code": 0},
            }
        )
        inf = r.steps["inference"]
        llm_attrs = [
            _attr("openinference.span.kind", "LLM"),
            _attr("llm.model_name", r.model),
            _attr("llm.prompt_template.version", r.template_version),
            _attr("llm.token_count.prompt", r.input_tokens),
        ]
        status: dict[str, object] = {"code": 0}
        events: list[dict[str, object]] = []
        if r.inference_error:
            status = {"code": 2, "message": "prompt exceeds the context window"}
            events = [
                {
                    "timeUnixNano": _ns(inf.end),
                    "name": "exception",
                    "attributes": [
                        _attr("exception.type", r.inference_error),
                        _attr("exception.message", "maximum context length is 8192 tokens"),
                    ],
                }
            ]
            llm_attrs.append(_attr("error.type", r.inference_error))
        else:
            llm_attrs += [_attr("llm.token_count.completion", r.output_tokens)]
        spans.append(
            {
                "traceId": trace,
                "spanId": f"{rng.getrandbits(64):016x}",
                "parentSpanId": root,
                "name": "ChatCompletion",
                "kind": 3,
                "startTimeUnixNano": _ns(inf.start),
                "endTimeUnixNano": _ns(inf.end),
                "attributes": llm_attrs,
                "status": status,
                "events": events,
            }
        )
        doc = {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [_attr("service.name", "rag-app"), _attr("host.name", host)]
                    },
                    "scopeSpans": [
                        {
                            "scope": {"name": "openinference.instrumentation", "version": "0.1.0"},
                            "spans": spans,
                        }
                    ],
                }
            ]
        }
        rows.append((server_end, json.dumps(doc, separators=(",", ":")), (r.key, "id")))
    return rows
