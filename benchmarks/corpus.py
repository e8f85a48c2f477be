"""A benchmark corpus at any scale: N requests -> about 6 events each across the four layers.

Every request passes the edge proxy (nginx ``combined``), the gateway (Envoy text access log, with
the x-request-id), an input and an output guardrail check (Llama Guard JSON lines), retrieval
(Elasticsearch search slow log) and inference (OpenAI-compatible request log): 6 lines. A few
requests are blocked at input (3 lines), blocked at output or fail in inference (5 lines), so the
corpus holds a little under 6 lines per request. The lines come from the scenario writers of
:mod:`timeline.scenarios.writers`, so they are exactly the formats the parsers are tested on.

Generation streams: requests are made in chunks of :data:`CHUNK_REQUESTS` by a process pool (one
deterministic RNG per chunk), and each chunk's lines are appended to one file per format, so
memory is bounded by a chunk whatever the scale. Lines are in time order within a chunk; at chunk
boundaries a few lines (those of requests straddling the boundary) may be out of order by up to
about two seconds, as in real logs merged from several workers.

With ``gzip=True`` each chunk is compressed by its worker and the members are concatenated: a
multi-member gzip file, as ``cat a.gz b.gz`` or log rotation produce.

``stack="modern"`` writes the stack users run today instead (:data:`MODERN`): OTLP/JSON spans as
the Collector file exporter writes them (one ``ExportTraceServiceRequest`` per line and request:
the gateway's server span, NeMo Guardrails input and output rail spans, an OpenInference
RETRIEVER span and a GenAI chat span), vLLM V1 server logs of two hosts (startup, metrics every
10 s, request lines and uvicorn access lines) and Istio's JSON access log, always gzip. A file's
``events`` (spans for OTLP, lines elsewhere) is what every tool must produce from it.

    python -m benchmarks.corpus OUT --requests 50000 [--gzip] [--stack modern]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any, Final

from timeline.scenarios import writers as w
from timeline.scenarios.model import Request, make_uuid, schedule

CORPUS_VERSION: Final = 1
CHUNK_REQUESTS: Final = 20_000
RATE_MS: Final = 5.0  # one request every 5 ms on average: 200 requests/s
MANIFEST: Final = "corpus.json"
LOGS: Final = "logs"
PROMPTS: Final = (
    "How do I reset my password?",
    "Summarise the refund policy for annual plans.",
    "Which regions support data residency?",
    "Explain the difference between the Pro and Team tiers.",
)


@dataclass(frozen=True)
class Format:
    """One log file of the corpus."""

    path: str  # relative to the logs directory, without .gz
    layer: str
    parser: str  # the timeline parser expected to read it
    write: Callable[[Iterable[Request]], list[w.Row]]
    gzip: bool = False  # always compressed, whatever the corpus' gzip setting
    per_line: int = 1  # events per line (0: counted by ``count``)


CURRENT: Final[tuple[Format, ...]] = (
    Format("gateway/edge-nginx.log", "gateway", "nginx_combined", w.nginx_combined),
    Format("gateway/envoy-access.log", "gateway", "envoy_text", w.envoy_text),
    Format("policy/llama-guard.jsonl", "policy", "llama_guard", w.llama_guard),
    Format("retrieval/es-search-slowlog.json", "retrieval", "elasticsearch_slowlog", w.es_slowlog),
    Format("inference/openai-http.jsonl", "inference", "openai_http", w.openai_http),
)
FORMATS: Final = CURRENT  # the current corpus (the default)


def _span(
    trace: str,
    span_id: str,
    parent: str,
    name: str,
    kind: int,
    start: float,
    end: float,
    attrs: list[dict[str, object]],
    error: bool = False,
) -> dict[str, object]:
    return {
        "traceId": trace,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": w._ns(start),
        "endTimeUnixNano": w._ns(end),
        "attributes": attrs,
        "status": {"code": 2 if error else 0},
    }


def otlp_stack(reqs: Iterable[Request]) -> list[w.Row]:
    """One ``ExportTraceServiceRequest`` per request (Collector file exporter): the gateway's
    server span, NeMo rail spans, an OpenInference RETRIEVER span, a GenAI chat span."""
    rows: list[w.Row] = []
    for r in reqs:
        ids = random.Random(f"otlp:{r.rid}")
        trace = f"{ids.getrandbits(128):032x}"
        root = f"{ids.getrandbits(64):016x}"
        gw = r.steps["gateway"]
        spans = [
            _span(
                trace,
                root,
                "",
                "POST /v1/chat/completions",
                2,
                gw.start + 0.3,
                gw.end - 0.3,
                [
                    w._attr("http.request.method", "POST"),
                    w._attr("url.path", r.route),
                    w._attr("http.response.status_code", r.status),
                    w._attr("client.address", r.client),
                    w._attr("http.request.header.x-request-id", [r.rid]),
                ],
                r.status >= 500,
            )
        ]
        for stage, step_name, verdict in (
            ("input", "policy_in", r.input_verdict),
            ("output", "policy_out", r.output_verdict),
        ):
            step = r.steps.get(step_name)
            if step is None:
                continue
            spans.append(
                _span(
                    trace,
                    f"{ids.getrandbits(64):016x}",
                    root,
                    "guardrails.rail",
                    1,
                    step.start,
                    step.end,
                    [
                        w._attr("rail.type", stage),
                        w._attr("rail.name", f"self check {stage}"),
                        w._attr("rail.stop", verdict == "block"),
                        w._attr("rail.decisions", ["execute self_check_" + stage]),
                    ],
                )
            )
        ret = r.steps.get("retrieval")
        if ret is not None:
            attrs = [
                w._attr("openinference.span.kind", "RETRIEVER"),
                w._attr("retrieval.index", r.kb_index),
                w._attr("retrieval.top_k", r.hits),
            ]
            for i in range(r.hits):
                attrs += [
                    w._attr(f"retrieval.documents.{i}.document.id", f"{r.kb_index}-doc-{i}"),
                    w._attr(f"retrieval.documents.{i}.document.score", round(0.9 - i * 0.07, 3)),
                ]
            spans.append(
                _span(
                    trace,
                    f"{ids.getrandbits(64):016x}",
                    root,
                    "retrieve",
                    1,
                    ret.start,
                    ret.end,
                    attrs,
                )
            )
        inf = r.steps.get("inference")
        if inf is not None:
            attrs = [
                w._attr("gen_ai.operation.name", "chat"),
                w._attr("gen_ai.provider.name", "openai"),
                w._attr("gen_ai.request.model", r.model),
                w._attr("gen_ai.response.model", r.model),
                w._attr("gen_ai.response.id", f"chatcmpl-{r.rid}"),
                w._attr("gen_ai.usage.input_tokens", r.input_tokens),
                w._attr("server.address", r.inference_host),
            ]
            if r.inference_error:
                attrs.append(w._attr("error.type", r.inference_error))
            else:
                attrs += [
                    w._attr("gen_ai.usage.output_tokens", r.output_tokens),
                    w._attr("gen_ai.response.finish_reasons", [r.finish_reason]),
                ]
            spans.append(
                _span(
                    trace,
                    f"{ids.getrandbits(64):016x}",
                    root,
                    f"chat {r.model}",
                    3,
                    inf.start,
                    inf.end,
                    attrs,
                    bool(r.inference_error),
                )
            )
        doc = {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [
                            w._attr("service.name", "rag-app"),
                            w._attr("host.name", f"rag-app-{r.index % 4}"),
                        ]
                    },
                    "scopeSpans": [
                        {
                            "scope": {"name": "opentelemetry.instrumentation", "version": "0.48b0"},
                            "spans": spans,
                        }
                    ],
                }
            ]
        }
        rows.append((gw.end, json.dumps(doc, separators=(",", ":")), (r.key, str(len(spans)))))
    return rows


def _vllm_host(host: str) -> Callable[[Iterable[Request]], list[w.Row]]:
    def write(reqs: Iterable[Request]) -> list[w.Row]:
        """vLLM V1 server log of one host: request lines and uvicorn access lines; the chunk's
        first host file also carries the startup lines and metrics every 10 s."""
        mine = [r for r in reqs if r.inference_host == host]
        if not mine:
            return []
        ids = {r.key: f"chatcmpl-{r.rid.replace('-', '')}" for r in mine}
        first = min(r.t0 for r in mine)
        last = max(r.steps["gateway"].end for r in mine)
        rng = random.Random(f"vllm:{host}:{first}")
        rows = [
            row
            for row in w.vllm_v1(mine, ids, first, last, mine[0].model, mine[0].revision, rng)
            if row[0] >= first  # startup lines once per file: the first chunk's
            or mine[0].index == 0
            or mine[0].index == 1
        ]
        for r in mine:
            inf = r.steps.get("inference")
            if inf is None:
                continue
            code = 200 if not r.inference_error else 400
            text = "OK" if code == 200 else "Bad Request"
            rows.append(
                (
                    inf.end + 0.2,
                    f"(APIServer pid=7) INFO:     10.2.0.15:{40000 + r.index % 20000} - "
                    f'"POST /v1/chat/completions HTTP/1.1" {code} {text}',
                    (r.key, "heuristic"),
                )
            )
        return rows

    return write


def istio_json(reqs: Iterable[Request]) -> list[w.Row]:
    """Istio's default JSON access log (Envoy ``json_format``), one line per request."""
    rows: list[w.Row] = []
    for r in reqs:
        gw = r.steps["gateway"]
        start = math.floor(gw.start)
        duration = math.ceil(gw.end) - start
        row = {
            "start_time": w.iso_ms(start),
            "method": "POST",
            "path": r.route,
            "protocol": "HTTP/1.1",
            "response_code": r.status,
            "response_flags": "-" if r.status < 500 else "UC",
            "response_code_details": "via_upstream",
            "connection_termination_details": None,
            "upstream_transport_failure_reason": None,
            "bytes_received": 812,
            "bytes_sent": 200 + r.output_tokens * 4,
            "duration": duration,
            "upstream_service_time": str(max(duration - 2, 0)),
            "x_forwarded_for": r.client,
            "user_agent": r.user_agent,
            "request_id": r.rid,
            "authority": "api.example.net",
            "upstream_host": "10.2.0.15:8000",
            "upstream_cluster": "outbound|8000||rag-app.default.svc.cluster.local",
            "upstream_local_address": "10.2.0.9:51234",
            "downstream_local_address": "10.2.0.9:8080",
            "downstream_remote_address": f"{r.client}:0",
            "requested_server_name": None,
            "route_name": "default",
        }
        rows.append((start, json.dumps(row, separators=(",", ":")), (r.key, "id")))
    return rows


MODERN: Final[tuple[Format, ...]] = (
    Format("otel/traces.jsonl", "other", "otlp_json", otlp_stack, per_line=0),
    Format("inference/vllm-infer-a.log", "inference", "vllm", _vllm_host("infer-a")),
    Format("inference/vllm-infer-b.log", "inference", "vllm", _vllm_host("infer-b")),
    Format("gateway/istio-proxy.jsonl", "gateway", "envoy_json", istio_json, gzip=True),
)
STACKS: Final = {"current": CURRENT, "modern": MODERN}


@dataclass(frozen=True)
class Corpus:
    """A generated corpus: where its files are and what they hold."""

    root: Path
    manifest: dict[str, Any]

    @property
    def logs(self) -> Path:
        """The directory that holds the log files (the input of every tool)."""
        return self.root / LOGS

    @property
    def lines(self) -> int:
        """Events every tool must produce: lines in all files, spans in OTLP files."""
        return int(self.manifest.get("events", self.manifest["lines"]))

    @property
    def stack(self) -> str:
        """``current`` or ``modern`` (see :data:`STACKS`)."""
        return str(self.manifest.get("stack", "current"))

    @property
    def formats(self) -> tuple[Format, ...]:
        """The formats of this corpus."""
        return STACKS[self.stack]

    @property
    def bytes(self) -> int:
        """Bytes of all files as stored (compressed when gzip)."""
        return int(self.manifest["bytes"])

    @property
    def gzip(self) -> bool:
        """Whether the files are gzip-compressed."""
        return bool(self.manifest["gzip"])

    def files(self) -> dict[str, dict[str, Any]]:
        """Relative path -> {layer, parser, lines, bytes, text_bytes}."""
        files: dict[str, dict[str, Any]] = self.manifest["files"]
        return files

    def path(self, fmt: Format) -> Path:
        """The file of one format."""
        return self.logs / file_name(fmt, self.gzip)


def file_name(fmt: Format, gz: bool) -> str:
    """The relative file name of ``fmt``."""
    return fmt.path + (".gz" if gz or fmt.gzip else "")


def plan_chunk(seed: int, chunk: int, requests: int) -> list[Request]:
    """The requests of one chunk, scheduled; deterministic in (seed, chunk, requests)."""
    rng = random.Random(f"bench:{seed}:{chunk}")
    start = chunk * CHUNK_REQUESTS
    stop = min(start + CHUNK_REQUESTS, requests)
    reqs: list[Request] = []
    for i in range(start, stop):
        r = Request(
            key=f"q{i:08d}",
            index=i,
            rid=make_uuid(rng),
            client=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
            session=f"sess-{i:08d}",
            t0=round(i * RATE_MS + rng.uniform(0, RATE_MS * 0.5), 3),
        )
        r.prompt = rng.choice(PROMPTS)
        r.input_tokens = rng.randint(600, 2400)
        r.output_tokens = rng.randint(40, 400)
        r.inference_host = "infer-a" if i % 2 else "infer-b"
        fate = rng.random()
        if fate < 0.01:
            r.input_verdict, r.input_categories = "block", ("S2",)
        elif fate < 0.02:
            r.output_verdict, r.output_categories = "block", ("S1",)
        elif fate < 0.03:
            r.inference_error, r.finish_reason = "context_length_exceeded", "error"
        blocked_in = r.input_verdict == "block"
        schedule(rng, r, blocked_in)
        if blocked_in or r.output_verdict == "block":
            r.status = 403
        elif r.inference_error:
            r.status = 502
        reqs.append(r)
    return reqs


def render_chunk(job: tuple[int, int, int, bool, str]) -> list[tuple[bytes, int, int, int]]:
    """One chunk as (data, lines, text bytes, events) per format of the stack, in order."""
    seed, chunk, requests, gz, stack = job
    reqs = plan_chunk(seed, chunk, requests)
    out: list[tuple[bytes, int, int, int]] = []
    for fmt in STACKS[stack]:
        rows = sorted(fmt.write(reqs), key=lambda row: row[0])
        data = "".join([row[1] + "\n" for row in rows]).encode()
        size = len(data)
        events = len(rows) * fmt.per_line if fmt.per_line else data.count(b'"spanId"')
        if gz or fmt.gzip:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        out.append((data, len(rows), size, events))
    return out


def find(
    root: Path, requests: int, gz: bool = False, seed: int = 7, stack: str = "current"
) -> Corpus | None:
    """The complete corpus of these parameters under ``root``, if one was generated there."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    wanted = {"version": CORPUS_VERSION, "requests": requests, "gzip": gz, "seed": seed}
    if manifest.get("stack", "current") != stack:
        return None
    if any(manifest.get(k) != v for k, v in wanted.items()):
        return None
    for rel, info in manifest["files"].items():
        f = root / LOGS / rel
        if not f.is_file() or f.stat().st_size != info["bytes"]:
            return None
    return Corpus(root, manifest)


def generate(
    root: Path,
    requests: int,
    gz: bool = False,
    seed: int = 7,
    jobs: int = 2,
    reuse: bool = True,
    stack: str = "current",
) -> Corpus:
    """Write (or, with ``reuse``, find) the corpus of ``requests`` requests under ``root``.

    ``root/logs/`` holds one file per format of ``stack`` (:data:`STACKS`), ``root/corpus.json``
    the line, event and byte counts and the generation time.
    """
    if reuse and (found := find(root, requests, gz, seed, stack)) is not None:
        return found
    started = time.perf_counter()
    formats = STACKS[stack]
    logs = root / LOGS
    targets = [logs / file_name(fmt, gz) for fmt in formats]
    (root / MANIFEST).unlink(missing_ok=True)
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    counts = [[0, 0, 0, 0] for _ in formats]  # lines, bytes, text bytes, events
    chunks = [(seed, c, requests, gz, stack) for c in range(-(-requests // CHUNK_REQUESTS))]
    handles = [t.open("wb") for t in targets]
    try:
        if jobs > 1 and len(chunks) > 1:
            with Pool(jobs) as pool:
                for parts in pool.imap(render_chunk, chunks):
                    _append(handles, counts, parts)
        else:
            for parts in map(render_chunk, chunks):
                _append(handles, counts, parts)
    finally:
        for handle in handles:
            handle.close()
    files = {
        file_name(fmt, gz): {
            "layer": fmt.layer,
            "parser": fmt.parser,
            "lines": n[0],
            "events": n[3],
            "bytes": n[1],
            "text_bytes": n[2],
        }
        for fmt, n in zip(formats, counts, strict=True)
    }
    manifest = {
        "version": CORPUS_VERSION,
        "stack": stack,
        "requests": requests,
        "gzip": gz,
        "seed": seed,
        "lines": sum(n[0] for n in counts),
        "events": sum(n[3] for n in counts),
        "bytes": sum(n[1] for n in counts),
        "text_bytes": sum(n[2] for n in counts),
        "generation_seconds": round(time.perf_counter() - started, 2),
        "generation_jobs": jobs,
        "files": files,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return Corpus(root, manifest)


def _append(
    handles: Sequence[Any], counts: list[list[int]], parts: list[tuple[bytes, int, int, int]]
) -> None:
    for handle, n, (data, lines, text, events) in zip(handles, counts, parts, strict=True):
        handle.write(data)
        n[0] += lines
        n[1] += len(data)
        n[2] += text
        n[3] += events


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.corpus OUT --requests N [--gzip] [--jobs J]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("out", type=Path)
    ap.add_argument("--requests", type=int, default=50_000)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--stack", choices=sorted(STACKS), default="current")
    args = ap.parse_args(argv)
    corpus = generate(
        args.out, args.requests, args.gzip, args.seed, args.jobs, reuse=False, stack=args.stack
    )
    m = corpus.manifest
    print(
        f"{m['requests']} requests: {m['lines']} lines, {m['bytes'] / 1e6:.1f} MB "
        f"in {m['generation_seconds']} s -> {corpus.logs}"
    )


if __name__ == "__main__":
    main()
