"""Writers for the formats of the second scenario family: Istio JSON access logs, OTLP/JSON traces
of a RAG app (OpenInference retriever, GenAI chat, NeMo Guardrails rails), and vLLM server logs.

Each writer follows the real format as its source writes it (checked against Istio's
``EnvoyJSONLogFormatIstio``, the Collector file exporter, NeMo Guardrails' tracing span names and
attributes, vLLM's logger and uvicorn's access log) and returns ``(time, line, truth)`` rows like
:mod:`timeline.scenarios.writers`. A row's line may hold several physical lines (a traceback);
its truth then names the first. Truth methods: ``id`` (linkable through an id on the line),
``unlinked`` (the line belongs to the request but carries no id and, for uvicorn, no time: no
correct method can attach it), ``reject`` (a line planted to be rejected).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any, Final

from timeline.scenarios.model import BASE_TIME, Request
from timeline.scenarios.writers import Row, at, iso_ms

CHAT_MODEL: Final = "llama-3.1-8b-instruct"  # --served-model-name
HF_MODEL: Final = "meta-llama/Llama-3.1-8B-Instruct"
GUARD_MODEL: Final = "nvidia/llama-3.1-nemoguard-8b-content-safety"
INGRESS_POD_IP: Final = "10.8.1.4"
CONTEXT_LIMIT: Final = 8192
MAX_TOKENS: Final = 512


@dataclass
class Rail:
    """One NeMo Guardrails rail run on a request."""

    name: str
    stage: str  # input | output
    stop: bool = False
    guard_model: str | None = GUARD_MODEL  # the LLM the rail's action calls, if any


@dataclass
class ModernRequest(Request):
    """A request of the modern scenarios: Istio ingress -> RAG app (NeMo in process) -> vLLM."""

    chat_id: str = ""  # the id vLLM gives the model call and returns (chatcmpl-...)
    vllm_host: str = "vllm-0"
    app_pod: str = "rag-app-0"
    app_ip: str = "10.8.2.17"
    collection: str = "kb_docs_v7"
    rails: list[Rail] = field(default_factory=list)
    reaches_app: bool = True  # False: the ingress could not reach the app (503 UF)
    app_status: int = 200
    xff: bool = True  # False: x_forwarded_for is null (request from inside the cluster)
    has_user_agent: bool = True
    usage: bool = True  # False: the chat span has no gen_ai.usage.* (streamed response)
    client_port: int = 40000
    upstream_port: int = 50000
    vllm_port: int = 52000


def attr(key: str, value: object) -> dict[str, object]:
    """An OTLP/JSON key-value (ints as strings, as the protobuf JSON mapping writes int64)."""
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {
            "key": key,
            "value": {"arrayValue": {"values": [attr("", v)["value"] for v in value]}},
        }
    return {"key": key, "value": {"stringValue": str(value)}}


def ns(ms: float, skew_ms: float = 0.0) -> str:
    """Nanoseconds since the epoch of true time ``ms`` on a clock ``skew_ms`` off, as a string."""
    return str(round((BASE_TIME.timestamp() * 1000 + ms + skew_ms) * 1_000_000))


# ---------------------------------------------------------------------------------------------
# Istio ingress gateway: accessLogEncoding JSON with Istio's default keys (EnvoyJSONLogFormatIstio)


def istio_json(reqs: list[ModernRequest]) -> list[Row]:
    """Istio's default JSON access log: one object per line, keys sorted, numbers typed, missing
    values null (Envoy ``json_format``); ``upstream_service_time`` is a header, hence a string."""
    rows: list[Row] = []
    for r in reqs:
        gw = r.steps["gateway"]
        start = math.floor(gw.start)
        duration = math.ceil(gw.end) - start
        code = r.status
        reached = r.reaches_app
        record: dict[str, Any] = {
            "authority": "rag.example.net",
            "bytes_received": 420 + r.input_tokens // 3,
            "bytes_sent": (180 + r.output_tokens * 4) if reached else 91,
            "connection_termination_details": None,
            "downstream_local_address": f"{INGRESS_POD_IP}:8443",
            "downstream_remote_address": f"10.8.0.{1 + r.index % 3}:{r.client_port}",
            "duration": duration,
            "method": "POST",
            "path": r.route,
            "protocol": "HTTP/1.1",
            "request_id": r.rid,
            "requested_server_name": "rag.example.net",
            "response_code": code,
            "response_code_details": "via_upstream"
            if reached
            else "upstream_reset_before_response_started{connection_failure}",
            "response_flags": "-" if reached else "UF",
            "route_name": "rag-chat",
            "start_time": iso_ms(start),
            "upstream_cluster": "outbound|8080||rag-app.ai.svc.cluster.local",
            "upstream_host": f"{r.app_ip}:8080",
            "upstream_local_address": f"{INGRESS_POD_IP}:{r.upstream_port}",
            "upstream_service_time": str(max(duration - 2, 0)) if reached else None,
            "upstream_transport_failure_reason": None if reached else "delayed connect error: 111",
            "user_agent": r.user_agent if r.has_user_agent else None,
            "x_forwarded_for": r.client if r.xff else None,
        }
        line = json.dumps(record, sort_keys=True, separators=(",", ":"))
        rows.append((gw.start, line, (r.key, "id")))
    return rows


# ---------------------------------------------------------------------------------------------
# The RAG app's traces: Collector file exporter, one ExportTraceServiceRequest per line


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def trace(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def span(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"


def _span(
    trace: str,
    span_id: str,
    parent: str,
    name: str,
    kind: int,
    start: float,
    end: float,
    skew: float,
    attributes: list[dict[str, object]],
    status: dict[str, object] | None = None,
) -> dict[str, object]:
    return {
        "traceId": trace,
        "spanId": span_id,
        "parentSpanId": parent,
        "flags": 257,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": ns(start, skew),
        "endTimeUnixNano": ns(end, skew),
        "attributes": attributes,
        "status": status or {},
    }


@dataclass
class AppTrace:
    """How the app's spans look in one scenario."""

    template_version: dict[str, str] = field(default_factory=dict)  # request key -> version
    pod_skew_ms: dict[str, float] = field(default_factory=dict)


def _chat_attrs(
    model: str, server: str, response_id: str | None, r: ModernRequest, tokens: tuple[int, int]
) -> list[dict[str, object]]:
    out = [
        attr("gen_ai.operation.name", "chat"),
        attr("gen_ai.system", "openai"),
        attr("gen_ai.request.model", model),
        attr("gen_ai.request.max_tokens", MAX_TOKENS),
        attr("gen_ai.request.temperature", 0.2),
        attr("server.address", server),
        attr("server.port", 8000),
    ]
    if response_id is not None:
        out += [
            attr("gen_ai.response.model", model),
            attr("gen_ai.response.id", response_id),
            attr("gen_ai.response.finish_reasons", [r.finish_reason]),
        ]
        if r.usage:
            out += [
                attr("gen_ai.usage.input_tokens", tokens[0]),
                attr("gen_ai.usage.output_tokens", tokens[1]),
            ]
    return out


def _rail_spans(
    ids: _Ids, trace: str, parent: str, rail: Rail, start: float, end: float, skew: float
) -> list[dict[str, object]]:
    rail_id, action_id = ids.span(), ids.span()
    action = rail.name.split(" $", 1)[0].replace(" ", "_")
    spans = [
        _span(
            trace,
            rail_id,
            parent,
            "guardrails.rail",
            1,
            start,
            end,
            skew,
            [
                attr("rail.type", rail.stage),
                attr("rail.name", rail.name),
                attr("rail.stop", rail.stop),
            ],
        ),
        _span(
            trace,
            action_id,
            rail_id,
            "guardrails.action",
            1,
            start + 0.2,
            end - 0.2,
            skew,
            [
                attr("action.name", action),
                attr("action.has_llm_calls", rail.guard_model is not None),
                attr("action.llm_calls_count", 1 if rail.guard_model else 0),
            ],
        ),
    ]
    if rail.guard_model:
        verdict = "unsafe" if rail.stop else "safe"
        spans.append(
            _span(
                trace,
                ids.span(),
                action_id,
                f"chat {rail.guard_model}",
                3,
                start + 0.5,
                end - 0.5,
                skew,
                [
                    attr("gen_ai.operation.name", "chat"),
                    attr("gen_ai.system", "nim"),
                    attr("gen_ai.request.model", rail.guard_model),
                    attr("gen_ai.response.model", rail.guard_model),
                    attr("gen_ai.response.finish_reasons", ["stop"]),
                    attr("gen_ai.usage.input_tokens", 380),
                    attr("gen_ai.usage.output_tokens", 4 if verdict == "safe" else 9),
                ],
            )
        )
    return spans


def otlp_app(reqs: list[ModernRequest], rng: random.Random, cfg: AppTrace) -> list[Row]:
    """One line per request's trace (the Collector groups spans by trace before its file
    exporter): a FastAPI server span, NeMo Guardrails' request / rail / action spans and their
    guard-model calls, an OpenInference CHAIN and RETRIEVER span with the vector store's client
    span, and the GenAI chat span of the model call."""
    ids = _Ids(rng)
    rows: list[Row] = []
    for r in reqs:
        if not r.reaches_app:
            continue
        skew = cfg.pod_skew_ms.get(r.app_pod, 0.0)
        trace, root, guard_root = ids.trace(), ids.span(), ids.span()
        gw = r.steps["gateway"]
        s_start, s_end = gw.start + 0.7, gw.end - 0.5
        server_attrs = [
            attr("http.request.method", "POST"),
            attr("url.scheme", "http"),
            attr("url.path", r.route),
            attr("http.route", r.route),
            attr("server.address", "rag-app.ai.svc.cluster.local"),
            attr("server.port", 8080),
            attr("network.peer.address", INGRESS_POD_IP),
            attr("network.peer.port", r.upstream_port),
            attr("http.response.status_code", r.app_status),
            attr("http.request.header.x-request-id", [r.rid]),
        ]
        if r.has_user_agent:
            server_attrs.insert(5, attr("user_agent.original", r.user_agent))
        spans: list[dict[str, object]] = [
            _span(
                trace,
                root,
                "",
                f"POST {r.route}",
                2,
                s_start,
                s_end,
                skew,
                server_attrs,
                {"code": 2} if r.app_status >= 500 else None,
            )
        ]
        last = max(v.end for k, v in r.steps.items() if k not in ("edge", "gateway"))
        pin = r.steps["policy_in"]
        spans.append(
            _span(
                trace,
                guard_root,
                root,
                "guardrails.request",
                1,
                pin.start - 0.3,
                last + 0.3,
                skew,
                [
                    attr("gen_ai.operation.name", "guardrails"),
                    attr("service.name", "nemo-guardrails"),
                ],
            )
        )
        for rail in (x for x in r.rails if x.stage == "input"):
            spans += _rail_spans(ids, trace, guard_root, rail, pin.start, pin.end, skew)
        ret, inf = r.steps.get("retrieval"), r.steps.get("inference")
        if ret is not None and inf is not None:
            template = [
                attr("llm.prompt_template.template", _TEMPLATES[r.template_version]),
                attr("llm.prompt_template.version", r.template_version),
            ]
            chain = ids.span()
            spans.append(
                _span(
                    trace,
                    chain,
                    guard_root,
                    "RetrieverQueryEngine.query",
                    1,
                    ret.start - 0.5,
                    inf.end + 0.2,
                    skew,
                    [attr("openinference.span.kind", "CHAIN"), *template],
                )
            )
            retriever = ids.span()
            docs: list[dict[str, object]] = []
            for i in range(r.hits):
                docs += [
                    attr(
                        f"retrieval.documents.{i}.document.id",
                        f"{r.collection}:{r.index % 97 * 7 + i}",
                    ),
                    attr(f"retrieval.documents.{i}.document.score", round(0.86 - i * 0.05, 3)),
                ]
            spans.append(
                _span(
                    trace,
                    retriever,
                    chain,
                    "VectorIndexRetriever.retrieve",
                    1,
                    ret.start,
                    ret.end,
                    skew,
                    [attr("openinference.span.kind", "RETRIEVER"), *template, *docs],
                )
            )
            spans.append(
                _span(
                    trace,
                    ids.span(),
                    retriever,
                    f"search {r.collection}",
                    3,
                    ret.start + 1.0,
                    ret.end - 1.0,
                    skew,
                    [
                        attr("db.system.name", "qdrant"),
                        attr("db.operation.name", "search"),
                        attr("db.collection.name", r.collection),
                        attr("server.address", "qdrant.ai.svc.cluster.local"),
                        attr("server.port", 6334),
                    ],
                )
            )
            ok = r.inference_error is None
            status: dict[str, object] | None = None
            chat = _chat_attrs(
                CHAT_MODEL,
                f"{r.vllm_host}.ai.svc.cluster.local",
                r.chat_id if ok else None,
                r,
                (r.input_tokens, r.output_tokens),
            )
            if not ok:
                chat.append(attr("error.type", "BadRequestError"))
                status = {"code": 2, "message": _openai_400(r.input_tokens)}
            spans.append(
                _span(
                    trace,
                    ids.span(),
                    chain,
                    f"chat {CHAT_MODEL}",
                    3,
                    inf.start,
                    inf.end,
                    skew,
                    chat,
                    status,
                )
            )
        pout = r.steps.get("policy_out")
        if pout is not None:
            for rail in (x for x in r.rails if x.stage == "output"):
                spans += _rail_spans(ids, trace, guard_root, rail, pout.start, pout.end, skew)
        doc = {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [
                            attr("service.name", "rag-app"),
                            attr("service.version", "1.8.2"),
                            attr("service.instance.id", r.app_pod),
                            attr("k8s.pod.name", r.app_pod),
                            attr("k8s.namespace.name", "ai"),
                            attr("telemetry.sdk.language", "python"),
                            attr("telemetry.sdk.name", "opentelemetry"),
                            attr("telemetry.sdk.version", "1.27.0"),
                        ]
                    },
                    "scopeSpans": _scopes(spans),
                }
            ]
        }
        rows.append((s_end + 5.0, json.dumps(doc, separators=(",", ":")), (r.key, "id")))
    return rows


_SCOPES: Final = (
    ("opentelemetry.instrumentation.fastapi", "0.48b0"),
    ("nemoguardrails", "0.16.0"),
    ("openinference.instrumentation.llama_index", "4.3.1"),
    ("opentelemetry.instrumentation.qdrant", "0.33.9"),
    ("opentelemetry.instrumentation.openai_v2", "2.1b0"),
)


def _scopes(spans: list[dict[str, object]]) -> list[dict[str, object]]:
    """Spans grouped by instrumentation scope, in scope order (as the SDK batches them): NeMo
    Guardrails traces its own guard-model calls."""
    guard = {str(s["spanId"]) for s in spans if str(s["name"]).startswith("guardrails.")}
    groups: dict[int, list[dict[str, object]]] = {}
    for span in spans:
        name = str(span["name"])
        attrs = span.get("attributes")
        keys = {a.get("key") for a in attrs} if isinstance(attrs, list) else set()
        if name.startswith("POST "):
            scope = 0
        elif name.startswith("guardrails."):
            scope = 1
        elif "openinference.span.kind" in keys:
            scope = 2
        elif "db.system.name" in keys:
            scope = 3
        elif str(span.get("parentSpanId")) in guard:
            scope = 1
        else:
            scope = 4
        groups.setdefault(scope, []).append(span)
    return [
        {"scope": {"name": _SCOPES[i][0], "version": _SCOPES[i][1]}, "spans": groups[i]}
        for i in sorted(groups)
    ]


_TEMPLATES: Final = {
    "v3": "Answer with the context.\n{context}\nQuestion: {question}",
    "v4": "You are the support assistant. Follow the policy handbook below.\n{handbook}\n"
    "Answer with the context.\n{context}\nQuestion: {question}",
}


def _openai_400(tokens: int) -> str:
    detail = (
        f"This model's maximum context length is {CONTEXT_LIMIT} tokens. However, you requested "
        f"{tokens + MAX_TOKENS} tokens ({tokens} in the messages, {MAX_TOKENS} in the completion). "
        "Please reduce the length of the messages or completion."
    )
    body = {
        "object": "error",
        "message": detail,
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    return f"Error code: 400 - {body!r}"


def context_error_text(tokens: int) -> str:
    """vLLM's ValueError for a prompt that does not fit the context window."""
    return (
        f"This model's maximum context length is {CONTEXT_LIMIT} tokens. However, you requested "
        f"{tokens + MAX_TOKENS} tokens ({tokens} in the messages, {MAX_TOKENS} in the completion). "
        "Please reduce the length of the messages or completion."
    )


# ---------------------------------------------------------------------------------------------
# vLLM OpenAI-compatible server (V1, multiprocess): `(Proc pid=N) LEVEL MM-DD HH:MM:SS [f.py:N] msg`


@dataclass
class Deployment:
    """One run of a vLLM server process on a host: from ``start_ms`` (true time) on."""

    start_ms: float
    revision: str
    api_pid: int
    engine_pid: int
    request_id_headers: bool = False
    stop_ms: float | None = None  # the process is shut down here (a restart follows)


def _stamp(ms: float, skew: float) -> str:
    return at(ms, skew).strftime("%m-%d %H:%M:%S")


def _p(pid: int, proc: str = "APIServer") -> str:
    return f"({proc} pid={pid})"


def _sampling(r: ModernRequest) -> str:
    return (
        "SamplingParams(n=1, presence_penalty=0.0, frequency_penalty=0.0, repetition_penalty=1.0, "
        "temperature=0.2, top_p=1.0, top_k=0, min_p=0.0, seed=None, stop=[], stop_token_ids=[], "
        "bad_words=[], include_stop_str_in_output=False, ignore_eos=False, "
        f"max_tokens={MAX_TOKENS}, min_tokens=0, logprobs=None, prompt_logprobs=None, "
        "skip_special_tokens=True, spaces_between_special_tokens=True, truncate_prompt_tokens=None, "
        "structured_outputs=None, extra_args=None)"
    )


_TRACEBACK: Final = (
    ("serving_chat.py", 206, "create_chat_completion", ") = await self._preprocess_chat("),
    (
        "serving_engine.py",
        1049,
        "_preprocess_chat",
        "prompt_inputs = await self._tokenize_prompt_input_async(",
    ),
    (
        "serving_engine.py",
        806,
        "_tokenize_prompt_input_async",
        "async for result in self._tokenize_prompt_inputs_async(",
    ),
    (
        "serving_engine.py",
        827,
        "_tokenize_prompt_inputs_async",
        "yield await self._normalize_prompt_text_to_input(",
    ),
    (
        "serving_engine.py",
        697,
        "_normalize_prompt_text_to_input",
        "return self._validate_input(request, input_ids, input_text)",
    ),
    ("serving_engine.py", 782, "_validate_input", "raise ValueError("),
)
_VLLM_PATH: Final = "/usr/local/lib/python3.12/dist-packages/vllm/entrypoints/openai/"


def _startup(d: Deployment, skew: float, hf_model: str) -> list[tuple[float, str]]:
    t, api, eng = d.start_ms, _p(d.api_pid), _p(d.engine_pid, "EngineCore_0")
    args = (
        f"{{'model_tag': '{hf_model}', 'host': '0.0.0.0', "
        + ("'enable_request_id_headers': True, " if d.request_id_headers else "")
        + f"'model': '{hf_model}', 'revision': '{d.revision}', 'max_model_len': {CONTEXT_LIMIT}, "
        f"'served_model_name': ['{CHAT_MODEL}'], 'enable_log_requests': True}}"
    )
    return [
        (t, f"INFO {_stamp(t, skew)} [__init__.py:216] Automatically detected platform cuda."),
        (
            t + 2900,
            f"{api} INFO {_stamp(t + 2900, skew)} [api_server.py:1896] vLLM API server version 0.11.0",
        ),
        (t + 2910, f"{api} INFO {_stamp(t + 2910, skew)} [utils.py:233] non-default args: {args}"),
        (
            t + 9100,
            f"{api} INFO {_stamp(t + 9100, skew)} [model.py:547] Resolved architecture: LlamaForCausalLM",
        ),
        (
            t + 9120,
            f"{api} INFO {_stamp(t + 9120, skew)} [model.py:1510] Using max model len {CONTEXT_LIMIT}",
        ),
        (
            t + 14_000,
            f"{eng} INFO {_stamp(t + 14_000, skew)} [core.py:77] Initializing a V1 LLM engine (v0.11.0) "
            f"with config: model='{hf_model}', speculative_config=None, tokenizer='{hf_model}', "
            f"skip_tokenizer_init=False, tokenizer_mode=auto, revision={d.revision}, "
            "tokenizer_revision=None, trust_remote_code=False, dtype=torch.bfloat16, "
            f"max_seq_len={CONTEXT_LIMIT}, download_dir=None, load_format=auto, tensor_parallel_size=1, "
            f"pipeline_parallel_size=1, quantization=None, enforce_eager=False, seed=0, "
            f"served_model_name={CHAT_MODEL}, enable_prefix_caching=True, enable_chunked_prefill=True",
        ),
        (
            t + 31_000,
            f"{eng} INFO {_stamp(t + 31_000, skew)} [default_loader.py:267] Loading weights took 6.12 seconds",
        ),
        (
            t + 52_000,
            f"{api} INFO {_stamp(t + 52_000, skew)} [api_server.py:1971] Starting vLLM API server 0 on http://0.0.0.0:8000",
        ),
        (t + 52_100, f"{api} INFO:     Started server process [{d.api_pid}]"),
        (t + 52_110, f"{api} INFO:     Waiting for application startup."),
        (t + 52_300, f"{api} INFO:     Application startup complete."),
    ]


def _shutdown(d: Deployment, plant_nccl: bool) -> list[tuple[float, str, str | None]]:
    assert d.stop_ms is not None
    t, api = d.stop_ms, _p(d.api_pid)
    out: list[tuple[float, str, str | None]] = [
        (t, f"{api} INFO:     Shutting down", None),
        (t + 20, f"{api} INFO:     Waiting for application shutdown.", None),
        (t + 40, f"{api} INFO:     Application shutdown complete.", None),
        (t + 60, f"{api} INFO:     Finished server process [{d.api_pid}]", None),
    ]
    if plant_nccl:
        # Printed by the C++ runtime straight to the file descriptor: no process prefix, no level.
        out.append(
            (
                t + 900,
                f"[rank0]:[W{at(t + 900).strftime('%m%d %H:%M:%S')}.{int(t) % 1000:03d}412 "
                "ProcessGroupNCCL.cpp:1538] Warning: WARNING: destroy_process_group() was not "
                "called before program exit, which can leak resources. For more info, please see "
                "https://pytorch.org/docs/stable/distributed.html#shutdown (function operator())",
                "reject",
            )
        )
    return out


def vllm_host(
    reqs: list[ModernRequest],
    deployments: list[Deployment],
    end_ms: float,
    rng: random.Random,
    skew: float = 0.0,
    plant_nccl: bool = False,
) -> list[Row]:
    """One host's vLLM server output: startup of each deployment, request lines, uvicorn access
    lines (no time, no id), metrics every 10 s, context-length errors with their traceback."""
    rows: list[Row] = []
    for d in deployments:
        rows += [(t, line, None) for t, line in _startup(d, skew, HF_MODEL)]
        if d.stop_ms is not None:
            for t, line, kind in _shutdown(d, plant_nccl):
                rows.append((t, line, ("", kind) if kind else None))
        stop = d.stop_ms if d.stop_ms is not None else end_ms
        t = d.start_ms + 60_000
        while t < stop:
            rows.append(
                (
                    t,
                    f"{_p(d.api_pid)} INFO {_stamp(t, skew)} [loggers.py:127] Engine 000: Avg prompt "
                    f"throughput: {rng.uniform(300, 2500):.1f} tokens/s, Avg generation throughput: "
                    f"{rng.uniform(40, 160):.1f} tokens/s, Running: {rng.randint(0, 6)} reqs, Waiting: 0 "
                    f"reqs, GPU KV cache usage: {rng.uniform(2, 35):.1f}%, Prefix cache hit rate: "
                    f"{rng.uniform(20, 60):.1f}%",
                    None,
                )
            )
            t += 10_000
    for r in reqs:
        inf = r.steps.get("inference")
        if inf is None:
            continue
        d = next(x for x in reversed(deployments) if x.start_ms <= inf.start)
        api = _p(d.api_pid)
        uvicorn_status = "200 OK"
        if r.inference_error:
            t = inf.start + 1.5
            stamp = _stamp(t, skew)
            lines = [
                f"{api} ERROR {stamp} [serving_chat.py:222] Error in preprocessing prompt inputs",
                f"{api} Traceback (most recent call last):",
            ]
            for file, line_no, func, code in _TRACEBACK:
                lines += [
                    f'{api}   File "{_VLLM_PATH}{file}", line {line_no}, in {func}',
                    f"{api}     {code}",
                ]
            lines.append(f"{api} ValueError: {context_error_text(r.input_tokens)}")
            rows.append((t, "\n".join(lines), (r.key, "unlinked")))
            uvicorn_status = "400 Bad Request"
        else:
            stamp = _stamp(inf.start + 1.0, skew)
            rows.append(
                (
                    inf.start + 1.0,
                    f"{api} INFO {stamp} [logger.py:71] Received request {r.chat_id}: params: "
                    f"{_sampling(r)}, lora_request: None.",
                    (r.key, "id"),
                )
            )
            rows.append(
                (
                    inf.start + 1.6,
                    f"{api} INFO {_stamp(inf.start + 1.6, skew)} [async_llm.py:323] Added request {r.chat_id}.",
                    (r.key, "id"),
                )
            )
        rows.append(
            (
                inf.end - 0.4,
                f'{api} INFO:     {r.app_ip}:{r.vllm_port} - "POST /v1/chat/completions HTTP/1.1" '
                f"{uvicorn_status}",
                (r.key, "unlinked"),
            )
        )
    return rows
