"""The second scenario family: incidents in formats the first five do not use.

An Istio ingress gateway (JSON access log) in front of a RAG app traced with OpenTelemetry
(Collector file exporter: FastAPI server span, NeMo Guardrails rails in process, an OpenInference
retriever with its vector-store span, GenAI chat spans) that calls vLLM servers on several hosts
(text logs stamped to the second, uvicorn access lines without request id or time).

Realistic mess, each recorded in ``ground_truth.json`` under ``mess``: ids that appear under
aliases across layers (x-request-id -> trace -> gen_ai.response.id -> vLLM's chatcmpl id, or vLLM
using the forwarded X-Request-Id), clock skew on one host, null fields, uvicorn lines without
request ids, a rail that appears only when it blocks, context-length errors logged without a
request id, a process restart in the middle of a log.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import fields
from datetime import timedelta
from typing import Any, Final

from timeline.scenarios.model import BASE_TIME, Step, make_uuid, plan_requests, schedule
from timeline.scenarios.modern_writers import (
    CONTEXT_LIMIT,
    GUARD_MODEL,
    MAX_TOKENS,
    AppTrace,
    Deployment,
    ModernRequest,
    Rail,
    istio_json,
    otlp_app,
    vllm_host,
)
from timeline.scenarios.output import Output

MINUTES: Final = 30
END_MS: Final = MINUTES * 60_000.0
REV_A: Final = "0e9e39f249a16976918f6564b8830bc894c89659"
REV_B: Final = "5f0b02c75b57c5855da9ae460ce51323ea669d8a"
INPUT_RAIL: Final = "content safety check input $model=content_safety"
INPUT_RAIL_V2: Final = "content safety check input $model=content_safety_v2"
OUTPUT_RAIL: Final = "self check output"
FACTS_RAIL: Final = "self check facts"
PODS: Final = {"rag-app-6f7c9d-x2k4p": "10.8.2.17", "rag-app-6f7c9d-q8m3z": "10.8.3.22"}
USER_AGENTS: Final = ("openai-python/1.51.2", "support-web/4.2 (+fetch)", "curl/8.5.0")


def _iso(ms: float) -> str:
    return (BASE_TIME + timedelta(milliseconds=ms)).isoformat()


def _minute(ms: float) -> str:
    return (BASE_TIME.replace(second=0) + timedelta(minutes=int(ms // 60_000))).isoformat()


def _plan(
    rng: random.Random, count: int, hosts: tuple[str, ...], header_hosts: tuple[str, ...] = ()
) -> list[ModernRequest]:
    """Requests from 250 clients over the window; each picks an app pod and a vLLM host."""
    clients = [f"203.0.113.{1 + i}" if i < 200 else f"198.51.100.{i - 199}" for i in range(250)]
    pods = sorted(PODS)
    out = []
    for base in plan_requests(rng, count, MINUTES):
        values = {f.name: getattr(base, f.name) for f in fields(base)}
        r = ModernRequest(**values)
        r.client = rng.choice(clients)
        r.user_agent = rng.choice(USER_AGENTS)
        r.input_tokens = rng.randint(900, 3200)
        r.output_tokens = rng.randint(60, 420)
        r.app_pod = rng.choice(pods)
        r.app_ip = PODS[r.app_pod]
        r.vllm_host = rng.choice(hosts)
        r.chat_id = (
            f"chatcmpl-{r.rid}"
            if r.vllm_host in header_hosts
            else f"chatcmpl-{rng.getrandbits(128):032x}"
        )
        r.model = "llama-3.1-8b-instruct"
        r.hits = rng.randint(3, 5)
        r.rails = [Rail(INPUT_RAIL, "input")]
        r.client_port = rng.randint(32768, 60999)
        r.upstream_port = rng.randint(32768, 60999)
        r.vllm_port = rng.randint(32768, 60999)
        r.xff = rng.random() >= 0.03
        r.has_user_agent = rng.random() >= 0.02
        r.usage = rng.random() >= 0.1
        out.append(r)
    return out


def _noise(rng: random.Random, r: ModernRequest, unreachable: float, harmful: float) -> str | None:
    """Failures that happen whatever changed: the app pod unreachable (ingress 503 UF) or a
    harmful prompt blocked by the input rail. Returns the reason, if any."""
    if rng.random() < unreachable:
        r.reaches_app = False
        return "gateway 5xx"
    if rng.random() < harmful:
        r.rails[0].stop = True
        return "policy block"
    return None


def _finish(rng: random.Random, reqs: list[ModernRequest]) -> None:
    """True times and statuses; blocked requests get NeMo's refusal with HTTP 200."""
    for r in reqs:
        blocked_in = any(x.stop for x in r.rails if x.stage == "input")
        schedule(rng, r, blocked_in)
        if not r.reaches_app:
            gw = r.steps["gateway"]
            r.steps = {
                "edge": r.steps["edge"],
                "gateway": Step(gw.start, round(gw.start + rng.uniform(1, 4), 3)),
            }
            r.status = 503
        elif r.inference_error:
            r.app_status = r.status = 500
        else:
            r.app_status = r.status = 200


def _reason(r: ModernRequest) -> str | None:
    """Why the request counts as failing under the default definition (None: it does not)."""
    if any(x.stop for x in r.rails):
        return "policy block"
    if r.status >= 500:
        return "gateway 5xx"
    if r.reaches_app and r.hits == 0:
        return "empty retrieval"
    return None


def _carriers(reqs: list[ModernRequest], has: Callable[[ModernRequest], bool]) -> set[str]:
    """Requests whose traces carry the cause's value: they reached the app, passed the input
    rail (blocked requests make no retrieval and no model call) and ``has`` it."""
    return {
        r.key
        for r in reqs
        if r.reaches_app and not any(x.stop for x in r.rails if x.stage == "input") and has(r)
    }


def _truth(
    out: Output,
    reqs: list[ModernRequest],
    affected: set[str],
    carriers: set[str],
    mess: dict[str, Any],
    formats: list[str],
) -> None:
    reasons = Counter(x for x in (_reason(r) for r in reqs) if x is not None)
    failing = [r for r in reqs if _reason(r) is not None]
    out.cause["affected_requests"] = len(affected)
    out.cause["carriers"] = len(carriers)
    joined = [r for r in reqs if r.reaches_app]
    out.truth = {
        "outcomes": {
            "requests": len(reqs),
            "failing": len(failing),
            "failing_by_cause": len(affected),
            "failing_other": len(failing) - len(affected),
            "failure_reasons": dict(sorted(reasons.items())),
            "failing_clients": len({r.client for r in failing}),
            "clients": len({r.client for r in reqs}),
            "silent_failures": sum(1 for r in failing if r.status < 400),
        },
        "affected": sorted(affected),
        "cross_layer_requests": len(joined),
        "formats": formats,
        "mess": mess,
    }


def _vllm_files(
    out: Output,
    rng: random.Random,
    reqs: list[ModernRequest],
    deployments: dict[str, list[Deployment]],
    skews: dict[str, float],
    gz: tuple[str, ...] = (),
    plant_nccl: str | None = None,
) -> None:
    for host, deps in deployments.items():
        rel = f"inference/{host}.log" + (".gz" if host in gz else "")
        out.files[rel] = vllm_host(
            [r for r in reqs if r.vllm_host == host],
            deps,
            END_MS,
            rng,
            skews.get(host, 0.0),
            plant_nccl=host == plant_nccl,
        )
        if skews.get(host):
            out.skews[rel] = skews[host]


def _common_files(
    out: Output,
    rng: random.Random,
    reqs: list[ModernRequest],
    pod_skews: dict[str, float],
    gz_gateway: bool,
) -> None:
    out.files["gateway/istio-ingress.log" + (".gz" if gz_gateway else "")] = istio_json(reqs)
    out.files["app/otel-traces.jsonl.gz"] = otlp_app(reqs, rng, AppTrace(pod_skew_ms=pod_skews))
    out.host_skews.update({k: v for k, v in pod_skews.items() if v})


def _two_hosts(header: str | None = None) -> dict[str, list[Deployment]]:
    return {
        "vllm-0": [Deployment(-70_000, REV_A, 7, 151, request_id_headers=header == "vllm-0")],
        "vllm-1": [Deployment(-64_000, REV_A, 7, 148, request_id_headers=header == "vllm-1")],
    }


MESS_COMMON: Final = {
    "aliases": "x-request-id (Istio, FastAPI span header) -> trace id -> gen_ai.response.id -> "
    "vLLM chatcmpl id; hosts with --enable-request-id-headers log chatcmpl-<x-request-id>",
    "null_fields": "Istio x_forwarded_for null on ~3 % and user_agent null on ~2 % of lines; "
    "gen_ai.usage.* missing on ~10 % of chat spans",
    "uvicorn_without_ids": "every vLLM request has a uvicorn access line with no time and no id",
    "second_stamps": "vLLM stamps are MM-DD HH:MM:SS (no year, no fraction)",
}


def index_switch_empty_results(rng: random.Random, count: int) -> Output:
    """The retriever moves from collection kb_docs_v7 to kb_docs_v8 at minute 12; half the
    queries on kb_docs_v8 return no documents (HTTP 200: the app answers without context). The
    "self check facts" output rail, which is traced only when it stops a response, blocks most
    answers given without documents: a symptom, not a cause."""
    reqs = _plan(rng, count, ("vllm-0", "vllm-1"), header_hosts=("vllm-0",))
    change = 12 * 60_000.0
    affected: set[str] = set()
    for r in reqs:
        noise = _noise(rng, r, 0.01, 0.015)
        if r.t0 >= change:
            r.collection = "kb_docs_v8"
            if rng.random() < 0.5:
                r.hits = 0
                if noise is None:
                    affected.add(r.key)
                    if rng.random() < 0.6:
                        r.rails.append(Rail(FACTS_RAIL, "output", stop=True, guard_model=None))
    carriers = _carriers(reqs, lambda r: r.collection == "kb_docs_v8")
    _finish(rng, reqs)
    out = Output(
        cause={
            "kind": "index_version",
            "field": "index_name",
            "value": "kb_docs_v8",
            "minute": _minute(change),
            "failure": "empty retrieval",
            "window": {"start": _iso(change), "end": None},
            "still_present_at_end": True,
            "equivalent": [],
            "symptoms": [
                {
                    "field": "policy_name",
                    "value": FACTS_RAIL,
                    "why": "the rail is traced only when it stops a response",
                }
            ],
        }
    )
    _common_files(out, rng, reqs, {"rag-app-6f7c9d-q8m3z": 1200.0}, gz_gateway=False)
    _vllm_files(out, rng, reqs, _two_hosts("vllm-0"), {}, gz=("vllm-0", "vllm-1"))
    # The proxy was killed while writing one more record: its line is torn (the request it
    # describes is in no other log either).
    gateway = out.files["gateway/istio-ingress.log"]
    t, line, _ = max(gateway, key=lambda row: row[0])
    torn = line.replace(json.loads(line)["request_id"], make_uuid(rng))
    gateway.append((t + 1.0, torn[: len(torn) * 3 // 5], ("", "reject")))
    _truth(
        out,
        reqs,
        affected,
        carriers,
        {
            **MESS_COMMON,
            "clock_skew": "pod rag-app-6f7c9d-q8m3z stamps its spans 1.2 s late",
            "symptom_rail": f"{FACTS_RAIL!r} appears only on the requests it blocks",
            "empty_retriever_spans": "a RETRIEVER span with no documents has no "
            "retrieval.documents.* attributes at all (OpenInference writes none)",
            "planted_rejects": "the last Istio line is torn (the proxy was killed mid-write)",
        },
        ["istio_json", "otlp_json", "vllm_text"],
    )
    return out


def template_context_overflow(rng: random.Random, count: int) -> Output:
    """Prompt template v4 (minute 10 to 24, then rolled back to v3) adds a policy handbook to
    every prompt; prompts over the 8192-token context fail in vLLM (HTTP 400, logged without a
    request id) and the app answers 500."""
    reqs = _plan(rng, count, ("vllm-0", "vllm-1"), header_hosts=("vllm-0",))
    change, rollback = 10 * 60_000.0, 24 * 60_000.0
    affected: set[str] = set()
    for r in reqs:
        noise = _noise(rng, r, 0.01, 0.01)
        if change <= r.t0 < rollback:
            r.template_version = "v4"
            r.input_tokens += 3000 + rng.randint(0, 4000)
            if r.input_tokens + MAX_TOKENS > CONTEXT_LIMIT and noise is None:
                r.inference_error, r.finish_reason = "context_length_exceeded", "error"
                affected.add(r.key)
    carriers = _carriers(reqs, lambda r: r.template_version == "v4")
    _finish(rng, reqs)
    out = Output(
        cause={
            "kind": "prompt_template",
            "field": "prompt_template_version",
            "value": "v4",
            "minute": _minute(change),
            "failure": "gateway 5xx",
            "window": {"start": _iso(change), "end": _iso(rollback)},
            "still_present_at_end": False,
            "equivalent": [],
            "symptoms": [
                {"field": "error_type", "value": "BadRequestError", "why": "how the call failed"}
            ],
        }
    )
    _common_files(out, rng, reqs, {}, gz_gateway=True)
    _vllm_files(out, rng, reqs, _two_hosts("vllm-0"), {}, gz=("vllm-1",))
    out.envelope["inference/vllm-0.log"] = "cri"
    _truth(
        out,
        reqs,
        affected,
        carriers,
        {
            **MESS_COMMON,
            "template_on_chain_spans": "llm.prompt_template.* is set by OpenInference's "
            "using_prompt_template context: it is on the CHAIN and RETRIEVER spans, not on the "
            "GenAI chat span of the model call",
            "errors_without_ids": "vLLM logs the context-length ValueError with a traceback "
            "(every line prefixed by the process) and no request id",
            "cri_envelope": "inference/vllm-0.log is the node's CRI log file",
        },
        ["istio_json", "otlp_json", "vllm_text", "cri"],
    )
    return out


def nemo_policy_overblock(rng: random.Random, count: int) -> Output:
    """A guardrails config rollout at minute 15 switches the input rail to the content_safety_v2
    model entry (a stricter prompt for the same NemoGuard model); it blocks about a third of
    harmless prompts. NeMo answers a block with a refusal and HTTP 200: a silent failure."""
    reqs = _plan(rng, count, ("vllm-0", "vllm-1"), header_hosts=("vllm-1",))
    change = 15 * 60_000.0
    affected: set[str] = set()
    carriers: set[str] = set()
    for r in reqs:
        noise = _noise(rng, r, 0.01, 0.015)
        if r.t0 >= change and r.reaches_app:
            r.rails[0].name = INPUT_RAIL_V2
            carriers.add(r.key)  # the input rail runs on every request that reaches the app
            if noise is None and rng.random() < 0.35:
                r.rails[0].stop = True
                affected.add(r.key)
    _finish(rng, reqs)
    out = Output(
        cause={
            "kind": "policy_version",
            "field": "policy_name",
            "value": INPUT_RAIL_V2,
            "minute": _minute(change),
            "failure": "policy block",
            "window": {"start": _iso(change), "end": None},
            "still_present_at_end": True,
            "equivalent": [],
            "symptoms": [],
        }
    )
    _common_files(out, rng, reqs, {}, gz_gateway=True)
    _vllm_files(out, rng, reqs, _two_hosts("vllm-1"), {"vllm-1": 2000.0}, gz=("vllm-0", "vllm-1"))
    _truth(
        out,
        reqs,
        affected,
        carriers,
        {
            **MESS_COMMON,
            "clock_skew": "host vllm-1 prints times 2 s ahead",
            "guard_model_calls": f"each rail's {GUARD_MODEL} call is a GenAI chat span too",
            "silent_failure": "blocked requests return HTTP 200 (NeMo's refusal)",
        },
        ["istio_json", "otlp_json", "vllm_text"],
    )
    return out


def vllm_revision_one_host(rng: random.Random, count: int) -> Output:
    """vLLM host vllm-2 of three restarts at minute 11:30 with model revision 5f0b02c (the
    revision is only in its startup arguments); from minute 12.5 its answers degenerate (hit
    max_tokens) and the "self check output" rail blocks 40 % of them (HTTP 200). vllm-1's clock
    runs 4 s behind; the old process's NCCL warning at shutdown is not a vLLM log line."""
    hosts = ("vllm-0", "vllm-1", "vllm-2")
    restart_stop, restart = 11.5 * 60_000.0, 11.5 * 60_000.0 + 1500.0
    serving = restart + 52_300.0
    reqs = _plan(rng, count, hosts, header_hosts=("vllm-0",))
    affected: set[str] = set()
    for r in reqs:
        r.rails.append(Rail(OUTPUT_RAIL, "output"))
        if r.vllm_host == "vllm-2" and restart_stop - 2000 <= r.t0 < serving + 1000:
            r.vllm_host = rng.choice(hosts[:2])  # drained while the server restarts
            if r.vllm_host == "vllm-1":
                r.chat_id = f"chatcmpl-{rng.getrandbits(128):032x}"
            else:
                r.chat_id = f"chatcmpl-{r.rid}"
        noise = _noise(rng, r, 0.008, 0.008)
        if r.vllm_host == "vllm-2" and r.t0 >= serving + 1000:
            r.revision = REV_B
            if noise is None and rng.random() < 0.4:  # no noise: it reached the app, unblocked
                r.rails[1].stop = True
                r.output_tokens, r.finish_reason = MAX_TOKENS, "length"
                affected.add(r.key)
        elif noise is None and r.reaches_app and rng.random() < 0.008:
            r.rails[1].stop = True
    carriers = _carriers(reqs, lambda r: r.revision == REV_B)
    _finish(rng, reqs)
    out = Output(
        cause={
            "kind": "model_revision",
            "field": "model_revision",
            "value": REV_B,
            "minute": _minute(restart),
            "failure": "policy block",
            "window": {"start": _iso(restart), "end": None},
            "still_present_at_end": True,
            "host": "vllm-2",
            "equivalent": [],
            "symptoms": [
                {"field": "finish_reason", "value": "length", "why": "how the answers degenerate"}
            ],
        }
    )
    _common_files(out, rng, reqs, {}, gz_gateway=True)
    deployments = {
        "vllm-0": [Deployment(-70_000, REV_A, 7, 151, request_id_headers=True)],
        "vllm-1": [Deployment(-66_000, REV_A, 7, 149)],
        "vllm-2": [
            Deployment(-61_000, REV_A, 7, 150, stop_ms=restart_stop),
            Deployment(restart, REV_B, 8, 163),
        ],
    }
    _vllm_files(
        out,
        rng,
        reqs,
        deployments,
        {"vllm-1": -4000.0},
        gz=("vllm-0", "vllm-1", "vllm-2"),
        plant_nccl="vllm-2",
    )
    _truth(
        out,
        reqs,
        affected,
        carriers,
        {
            **MESS_COMMON,
            "clock_skew": "host vllm-1 prints times 4 s behind",
            "revision_in_startup_only": "the revision is only in vllm-2's `non-default args` and "
            "engine config lines after its restart; request lines do not name it",
            "restart": "vllm-2's log holds two server processes (pid 7, then pid 8)",
            "planted_rejects": "one NCCL warning printed by the C++ runtime at shutdown",
            "silent_failure": "blocked requests return HTTP 200",
        },
        ["istio_json", "otlp_json", "vllm_text"],
    )
    return out


def noise_no_cause(rng: random.Random, count: int) -> Output:
    """No cause: about 4 % of requests fail at a constant rate (pod unreachable, harmful prompts
    blocked, over-long pasted prompts), with binomial variation only. Two harmless changes happen:
    collection kb_docs_v8 replaces kb_docs_v7 at minute 14 (same documents) and vllm-1 restarts at
    minute 20 with the same revision. The appendix must not present any candidate as likely."""
    reqs = _plan(rng, count, ("vllm-0", "vllm-1"), header_hosts=("vllm-0",))
    swap, restart = 14 * 60_000.0, 20 * 60_000.0
    serving = restart + 1500.0 + 52_300.0
    for r in reqs:
        noise = _noise(rng, r, 0.013, 0.013)
        if r.t0 >= swap:
            r.collection = "kb_docs_v8"
        if r.vllm_host == "vllm-1" and restart - 2000 <= r.t0 < serving + 1000:
            r.vllm_host, r.chat_id = "vllm-0", f"chatcmpl-{r.rid}"
        if noise is None and r.reaches_app and rng.random() < 0.014:
            r.input_tokens = rng.randint(CONTEXT_LIMIT - MAX_TOKENS + 1, CONTEXT_LIMIT + 3000)
            r.inference_error, r.finish_reason = "context_length_exceeded", "error"
    _finish(rng, reqs)
    out = Output(
        cause={
            "kind": "none",
            "field": None,
            "value": None,
            "minute": None,
            "failure": None,
            "window": None,
            "still_present_at_end": False,
            "equivalent": [],
            "symptoms": [],
            "decoys": [
                {"field": "index_name", "value": "kb_docs_v8", "minute": _minute(swap)},
                {"field": "model_revision", "value": REV_A, "minute": _minute(restart)},
            ],
        }
    )
    _common_files(out, rng, reqs, {"rag-app-6f7c9d-x2k4p": -900.0}, gz_gateway=True)
    deployments = {
        "vllm-0": [Deployment(-70_000, REV_A, 7, 151, request_id_headers=True)],
        "vllm-1": [
            Deployment(-64_000, REV_A, 7, 148, stop_ms=restart),
            Deployment(restart + 1500.0, REV_A, 8, 160),
        ],
    }
    _vllm_files(out, rng, reqs, deployments, {}, gz=("vllm-0", "vllm-1"))
    _truth(
        out,
        reqs,
        set(),
        set(),
        {
            **MESS_COMMON,
            "clock_skew": "pod rag-app-6f7c9d-x2k4p stamps its spans 0.9 s early",
            "decoys": "an index swap and a restart with the same revision change nothing",
        },
        ["istio_json", "otlp_json", "vllm_text"],
    )
    return out


MODERN_SCENARIOS: Final[dict[str, Callable[[random.Random, int], Output]]] = {
    "index_switch_empty_results": index_switch_empty_results,
    "template_context_overflow": template_context_overflow,
    "nemo_policy_overblock": nemo_policy_overblock,
    "vllm_revision_one_host": vllm_revision_one_host,
    "noise_no_cause": noise_no_cause,
}
# Committed size of each: enough requests for the rates to be clear, files small.
MODERN_REQUESTS: Final = {
    "index_switch_empty_results": 800,
    "template_context_overflow": 600,
    "nemo_policy_overblock": 800,
    "vllm_revision_one_host": 1200,
    "noise_no_cause": 1000,
}
