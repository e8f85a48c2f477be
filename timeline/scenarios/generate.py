"""Deterministic multi-layer incidents with ground truth, in the real formats the parsers read.

Each scenario writes log files for the four layers (several formats per layer, mixed id schemes,
gzip, Docker / CRI envelopes) and ``ground_truth.json``: the true request of every line, how it is
meant to be linked (``id`` or ``heuristic``), the injected cause and the injected clock skews.

    python -m timeline.scenarios OUT [--requests 300] [--scenario NAME]
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from timeline.scenarios import writers as w
from timeline.scenarios.model import BASE_TIME, Request, plan_requests, schedule
from timeline.scenarios.modern import MODERN_REQUESTS, MODERN_SCENARIOS
from timeline.scenarios.output import Output

MINUTES = 30
PROMPTS = (
    "How do I reset my password?",
    "Summarise the refund policy for annual plans.",
    "Which regions support data residency?",
    "Explain the difference between the Pro and Team tiers.",
)


def _minute(ms: float) -> str:
    return (BASE_TIME.replace(second=0) + timedelta(minutes=int(ms // 60_000))).isoformat()


def _base(rng: random.Random, count: int) -> list[Request]:
    reqs = plan_requests(rng, count, MINUTES)
    for r in reqs:
        r.prompt = rng.choice(PROMPTS)
        r.input_tokens = rng.randint(600, 2400)
        r.output_tokens = rng.randint(40, 400)
    return reqs


def _finish(rng: random.Random, reqs: list[Request]) -> None:
    for r in reqs:
        blocked_in = r.input_verdict == "block"
        schedule(rng, r, blocked_in)
        if blocked_in or r.output_verdict == "block":
            r.status = 403
        elif r.inference_error:
            r.status = 502


def model_revision_rollout(rng: random.Random, count: int) -> Output:
    """A new model revision on a canary host takes 40% of traffic from minute 12; its answers trip
    the output guardrail (Llama Guard blocks, gateway 403)."""
    reqs = _base(rng, count)
    change = 12 * 60_000.0
    for r in reqs:
        if r.t0 >= change and rng.random() < 0.4:
            r.inference_host, r.revision = "infer-b", "fp_b7d9e1"
            if rng.random() < 0.6:
                r.output_verdict, r.output_categories = "block", ("S1",)
        elif rng.random() < 0.02:
            r.output_verdict, r.output_categories = "block", ("S10",)
    _finish(rng, reqs)
    out = Output(
        cause={
            "kind": "model_revision",
            "field": "model_revision",
            "value": "fp_b7d9e1",
            "minute": _minute(change),
            "failure": "policy block",
        }
    )
    out.files["gateway/edge-access.log"] = w.nginx_combined(reqs)
    out.files["gateway/envoy-access.log.gz"] = w.envoy_text(reqs)
    out.files["policy/llama-guard.log"] = w.llama_guard(reqs)
    out.envelope["policy/llama-guard.log"] = "docker_json"
    out.files["retrieval/es-search-slowlog.json"] = w.es_slowlog(reqs)
    out.files["inference/infer-a.jsonl"] = w.openai_http(
        [r for r in reqs if r.inference_host == "infer-a"]
    )
    out.files["inference/infer-b.jsonl.gz"] = w.openai_http(
        [r for r in reqs if r.inference_host == "infer-b"]
    )
    return out


def retrieval_index_change(rng: random.Random, count: int) -> Output:
    """Index kb-v8 replaces kb-v7 at minute 10 and returns no documents for most queries."""
    reqs = _base(rng, count)
    change = 10 * 60_000.0
    for r in reqs:
        if r.t0 >= change:
            r.kb_index = "kb-v8"
            r.hits = 0 if rng.random() < 0.7 else rng.randint(1, 5)
        else:
            r.hits = rng.randint(3, 5)
    _finish(rng, reqs)
    out = Output(
        cause={
            "kind": "index_version",
            "field": "index_name",
            "value": "kb-v8",
            "minute": _minute(change),
            "failure": "empty retrieval",
        }
    )
    out.files["gateway/edge-access.log.gz"] = w.nginx_combined(reqs)
    out.files["gateway/envoy-access.log"] = w.envoy_text(reqs)
    out.files["policy/moderation.jsonl"] = w.openai_moderation(reqs)
    out.files["retrieval/es-search-slowlog.json.gz"] = w.es_slowlog(reqs)
    out.files["inference/infer-a.jsonl"] = w.openai_http(reqs)
    return out


def guardrail_update(rng: random.Random, count: int) -> Output:
    """The input guardrail moves to Llama Guard 4 at minute 15 and blocks harmless prompts (403)."""
    reqs = _base(rng, count)
    change = 15 * 60_000.0
    for r in reqs:
        if r.t0 >= change:
            r.guard_model = "meta-llama/Llama-Guard-4-12B"
            if rng.random() < 0.35:
                r.input_verdict, r.input_categories = "block", ("S2",)
    _finish(rng, reqs)
    ids = {r.key: f"chatcmpl-{r.rid}" for r in reqs}
    out = Output(
        cause={
            "kind": "policy_version",
            "field": "policy_name",
            "value": "meta-llama/Llama-Guard-4-12B",
            "minute": _minute(change),
            "failure": "policy block",
        }
    )
    out.files["gateway/edge-access.log"] = w.nginx_combined(reqs)
    out.files["gateway/envoy-access.log"] = w.envoy_text(reqs)
    out.files["policy/llama-guard.jsonl.gz"] = w.llama_guard(reqs)
    out.files["retrieval/es-search-slowlog.json"] = w.es_slowlog(reqs)
    out.files["inference/vllm-0.log"] = w.vllm_v1(
        reqs,
        ids,
        0.0,
        MINUTES * 60_000.0,
        "meta-llama/Llama-3.1-8B-Instruct",
        "0e9e39f249a16976918f6564b8830bc894c89659",
        rng,
    )
    out.envelope["inference/vllm-0.log"] = "cri"
    return out


def prompt_template_change(rng: random.Random, count: int) -> Output:
    """Prompt template v4 (minute 10) adds a long preamble; half its prompts overflow the context
    window (model-call errors, gateway 502)."""
    reqs = _base(rng, count)
    change = 10 * 60_000.0
    for r in reqs:
        if r.t0 >= change:
            r.template_version = "v4"
            r.input_tokens += 3000 + rng.randint(0, 4000)
            if r.input_tokens > 8192 - 512:
                r.inference_error, r.finish_reason = "context_length_exceeded", "error"
    _finish(rng, reqs)
    out = Output(
        cause={
            "kind": "prompt_template",
            "field": "prompt_template_version",
            "value": "v4",
            "minute": _minute(change),
            "failure": "gateway 5xx",
        }
    )
    out.files["gateway/edge-access.log"] = w.nginx_combined(reqs)
    out.files["gateway/envoy-access.log.gz"] = w.envoy_text(reqs)
    out.files["policy/moderation.jsonl"] = w.openai_moderation(reqs)
    out.files["app/otel-traces.jsonl"] = w.otlp_traces(reqs, rng)
    return out


def clock_skew_forwarded_ids(rng: random.Random, count: int) -> Output:
    """Inference host infer-b runs 2.5 s behind; vLLM names requests with its own ids, linked to the
    gateway only through the LiteLLM proxy (which forwards x-request-id); some guard checks lose
    their request id and keep only the session."""
    reqs = _base(rng, count)
    for r in reqs:
        r.inference_host = "infer-b" if r.index % 2 else "vllm-a"
        if rng.random() < 0.03:
            r.output_verdict, r.output_categories = "block", ("S6",)
    _finish(rng, reqs)
    skew = -2500.0
    chatcmpl = {r.key: f"chatcmpl-{rng.getrandbits(128):032x}" for r in reqs}
    anonymous = {r.key for r in reqs if rng.random() < 0.2}
    out = Output(
        cause={
            "kind": "clock_skew",
            "field": "clock_offset_ms",
            "value": "inference/infer-b.jsonl",
            "minute": _minute(0),
            "failure": None,
        }
    )
    out.files["gateway/edge-access.log"] = w.nginx_combined(reqs)
    out.files["gateway/envoy-access.log"] = w.envoy_text(reqs)
    vllm_reqs = [r for r in reqs if r.inference_host == "vllm-a"]
    out.files["gateway/litellm-spend.jsonl"] = w.litellm_spend(vllm_reqs, chatcmpl)
    out.files["policy/llama-guard.jsonl"] = w.llama_guard(reqs, anonymous)
    out.files["retrieval/es-search-slowlog.json"] = w.es_slowlog(reqs)
    out.files["inference/vllm-a.log.gz"] = w.vllm_v1(
        vllm_reqs,
        chatcmpl,
        0.0,
        MINUTES * 60_000.0,
        "meta-llama/Llama-3.1-8B-Instruct",
        "main",
        rng,
    )
    out.envelope["inference/vllm-a.log.gz"] = "docker_json"
    out.files["inference/infer-b.jsonl"] = w.openai_http(
        [r for r in reqs if r.inference_host == "infer-b"], skew
    )
    out.skews["inference/infer-b.jsonl"] = skew
    return out


SCENARIOS: dict[str, Callable[[random.Random, int], Output]] = {
    "model_revision_rollout": model_revision_rollout,
    "retrieval_index_change": retrieval_index_change,
    "guardrail_update": guardrail_update,
    "prompt_template_change": prompt_template_change,
    "clock_skew_forwarded_ids": clock_skew_forwarded_ids,
}
# Every scenario: the five above and the second family (timeline.scenarios.modern).
ALL_SCENARIOS: dict[str, Callable[[random.Random, int], Output]] = SCENARIOS | MODERN_SCENARIOS
DEFAULT_REQUESTS = 300


def committed_requests(name: str) -> int:
    """How many requests the committed fixture of scenario ``name`` has."""
    return MODERN_REQUESTS.get(name, DEFAULT_REQUESTS)


def _wrap(line: str, kind: str | None, ms: float, pod: str) -> str:
    if kind == "docker_json":
        return json.dumps(
            {
                "log": line + "\n",
                "stream": "stdout",
                "time": w.iso_ms(ms).replace("Z", "000Z"),
                "kubernetes": {"pod_name": pod, "namespace_name": "ai"},
            }
        )
    if kind == "cri":
        return f"{w.iso_ms(ms).replace('Z', '000Z')} stdout F {line}"
    return line


def write_scenario(
    name: str, outdir: Path, requests: int = DEFAULT_REQUESTS, seed: int = 7
) -> dict[str, Any]:
    """Write scenario ``name`` under ``outdir``; return its ground truth (also written).

    A row may hold several physical lines (a traceback): truth line numbers count physical lines
    and an envelope wraps each of them. Rows whose truth method is ``reject`` are lines planted
    to be rejected: they are listed under ``planted_rejects`` instead of ``lines``.
    """
    rng = random.Random(f"{name}:{seed}")
    out = ALL_SCENARIOS[name](rng, requests)
    truth_files: dict[str, list[list[Any]]] = {}
    planted: dict[str, list[int]] = {}
    for rel, rows in sorted(out.files.items()):
        rows = sorted(rows, key=lambda row: row[0])
        kind = out.envelope.get(rel)
        pod = Path(rel).name.split(".")[0]
        parts: list[str] = []
        items: list[list[Any]] = []
        number = 1
        for ms, line, owner in rows:
            physical = line.split("\n")
            parts += [_wrap(p, kind, ms, pod) + "\n" for p in physical]
            if owner is not None and owner[1] == "reject":
                planted.setdefault(rel, []).append(number)
            elif owner is not None:
                items.append([number, owner[0], owner[1]])
            number += len(physical)
        path = outdir / "logs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(parts).encode()
        path.write_bytes(gzip.compress(data, mtime=0) if rel.endswith(".gz") else data)
        truth_files[rel] = items
    truth: dict[str, Any] = {
        "scenario": name,
        "description": (ALL_SCENARIOS[name].__doc__ or "").strip(),
        "seed": seed,
        "requests": requests,
        "cause": out.cause,
        "skews_ms": out.skews,
    }
    if not out.truth:
        truth["lines"] = truth_files
        text = json.dumps(truth, indent=1) + "\n"
    else:
        truth["host_skews_ms"] = out.host_skews
        truth["planted_rejects"] = planted
        truth |= out.truth
        truth["lines"] = truth_files
        text = _compact(truth)
    (outdir / "ground_truth.json").write_text(text, encoding="utf-8")
    return truth


def _compact(truth: dict[str, Any]) -> str:
    """Ground truth as JSON with the long lists (``lines`` per file, ``affected``) on one line
    each: the same data, a fifth of the size."""
    head = {k: v for k, v in truth.items() if k not in ("lines", "affected")}
    body = json.dumps(head, indent=1)[: -len("\n}")]
    affected = json.dumps(truth.get("affected", []), separators=(",", ":"))
    files = ",\n".join(
        f"  {json.dumps(rel)}: {json.dumps(items, separators=(',', ':'))}"
        for rel, items in truth["lines"].items()
    )
    return f'{body},\n "affected": {affected},\n "lines": {{\n{files}\n }}\n}}\n'
