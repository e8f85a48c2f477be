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

    python -m benchmarks.corpus OUT --requests 50000 [--gzip]
"""

from __future__ import annotations

import argparse
import gzip
import json
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


FORMATS: Final[tuple[Format, ...]] = (
    Format("gateway/edge-nginx.log", "gateway", "nginx_combined", w.nginx_combined),
    Format("gateway/envoy-access.log", "gateway", "envoy_text", w.envoy_text),
    Format("policy/llama-guard.jsonl", "policy", "llama_guard", w.llama_guard),
    Format("retrieval/es-search-slowlog.json", "retrieval", "elasticsearch_slowlog", w.es_slowlog),
    Format("inference/openai-http.jsonl", "inference", "openai_http", w.openai_http),
)


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
        """Lines in all files: the number of events every tool must produce."""
        return int(self.manifest["lines"])

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
    return fmt.path + (".gz" if gz else "")


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


def render_chunk(job: tuple[int, int, int, bool]) -> list[tuple[bytes, int, int]]:
    """One chunk as (data, lines, text bytes) per format in :data:`FORMATS` order."""
    seed, chunk, requests, gz = job
    reqs = plan_chunk(seed, chunk, requests)
    out: list[tuple[bytes, int, int]] = []
    for fmt in FORMATS:
        rows = sorted(fmt.write(reqs), key=lambda row: row[0])
        data = "".join([row[1] + "\n" for row in rows]).encode()
        size = len(data)
        if gz:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        out.append((data, len(rows), size))
    return out


def find(root: Path, requests: int, gz: bool = False, seed: int = 7) -> Corpus | None:
    """The complete corpus of these parameters under ``root``, if one was generated there."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    wanted = {"version": CORPUS_VERSION, "requests": requests, "gzip": gz, "seed": seed}
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
) -> Corpus:
    """Write (or, with ``reuse``, find) the corpus of ``requests`` requests under ``root``.

    ``root/logs/`` holds one file per format, ``root/corpus.json`` the line and byte counts and the
    generation time.
    """
    if reuse and (found := find(root, requests, gz, seed)) is not None:
        return found
    started = time.perf_counter()
    logs = root / LOGS
    targets = [logs / file_name(fmt, gz) for fmt in FORMATS]
    (root / MANIFEST).unlink(missing_ok=True)
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    counts = [[0, 0, 0] for _ in FORMATS]  # lines, bytes, text bytes
    chunks = [(seed, c, requests, gz) for c in range(-(-requests // CHUNK_REQUESTS))]
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
            "bytes": n[1],
            "text_bytes": n[2],
        }
        for fmt, n in zip(FORMATS, counts, strict=True)
    }
    manifest = {
        "version": CORPUS_VERSION,
        "requests": requests,
        "gzip": gz,
        "seed": seed,
        "lines": sum(n[0] for n in counts),
        "bytes": sum(n[1] for n in counts),
        "text_bytes": sum(n[2] for n in counts),
        "generation_seconds": round(time.perf_counter() - started, 2),
        "generation_jobs": jobs,
        "files": files,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return Corpus(root, manifest)


def _append(
    handles: Sequence[Any], counts: list[list[int]], parts: list[tuple[bytes, int, int]]
) -> None:
    for handle, n, (data, lines, text) in zip(handles, counts, parts, strict=True):
        handle.write(data)
        n[0] += lines
        n[1] += len(data)
        n[2] += text


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.corpus OUT --requests N [--gzip] [--jobs J]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("out", type=Path)
    ap.add_argument("--requests", type=int, default=50_000)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    corpus = generate(args.out, args.requests, args.gzip, args.seed, args.jobs, reuse=False)
    m = corpus.manifest
    print(
        f"{m['requests']} requests: {m['lines']} lines, {m['bytes'] / 1e6:.1f} MB "
        f"in {m['generation_seconds']} s -> {corpus.logs}"
    )


if __name__ == "__main__":
    main()
