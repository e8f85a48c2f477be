"""The ground truth of a generated incident: requests with the true time of every layer's step."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

BASE_TIME: Final = datetime(2025, 3, 2, 10, 0, 0, tzinfo=UTC)


@dataclass
class Step:
    """One step of a request on one layer, in true (UTC) milliseconds since BASE_TIME."""

    start: float
    end: float


@dataclass
class Request:
    """One request as it truly happened."""

    key: str
    index: int
    rid: str  # the x-request-id the edge assigns
    client: str
    session: str
    t0: float
    user_agent: str = "openai-python/1.40.0"
    route: str = "/v1/chat/completions"
    steps: dict[str, Step] = field(default_factory=dict)
    status: int = 200
    # what happened, by layer
    input_verdict: str = "allow"
    output_verdict: str = "allow"
    input_categories: tuple[str, ...] = ()
    output_categories: tuple[str, ...] = ()
    guard_model: str = "meta-llama/Llama-Guard-3-8B"
    kb_index: str = "kb-v7"
    hits: int = 5
    model: str = "llama-3.1-8b-instruct"
    revision: str = "fp_a1c2e3"
    template_version: str = "v3"
    input_tokens: int = 900
    output_tokens: int = 120
    inference_error: str | None = None
    finish_reason: str = "stop"
    inference_host: str = "infer-a"
    prompt: str = ""

    def at(self, ms: float) -> datetime:
        """A true offset in ms as a UTC datetime."""
        return BASE_TIME + timedelta(milliseconds=ms)


def make_uuid(rng: random.Random) -> str:
    """A deterministic version-4 UUID string."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def plan_requests(rng: random.Random, count: int, minutes: int) -> list[Request]:
    """Requests spread over the window, each from its own client address and session."""
    span = minutes * 60_000.0
    out = []
    for i in range(count):
        t0 = i * span / count + rng.uniform(0, span / count * 0.5)
        out.append(
            Request(
                key=f"q{i:05d}",
                index=i,
                rid=make_uuid(rng),
                client=f"198.51.{100 + (i // 250) % 50}.{1 + i % 250}",
                session=f"sess-{i:05d}",
                t0=round(t0, 3),
            )
        )
    return out


def schedule(rng: random.Random, req: Request, blocked_at_input: bool) -> None:
    """True times of the chain: edge, gateway, policy in, retrieval, inference, policy out."""
    t = req.t0
    edge_start = t
    gw_start = t + rng.uniform(0.5, 2.0)
    pin = Step(gw_start + rng.uniform(1, 6), 0)
    pin.end = pin.start + rng.uniform(8, 40)
    steps = {"edge": Step(edge_start, 0), "gateway": Step(gw_start, 0), "policy_in": pin}
    cursor = pin.end
    if not blocked_at_input:
        ret = Step(cursor + rng.uniform(1, 5), 0)
        ret.end = ret.start + rng.uniform(8, 60)
        inf = Step(ret.end + rng.uniform(1, 4), 0)
        inf.end = inf.start + (
            rng.uniform(40, 120) if req.inference_error else rng.uniform(300, 1500)
        )
        steps |= {"retrieval": ret, "inference": inf}
        cursor = inf.end
        if not req.inference_error:
            pout = Step(cursor + rng.uniform(1, 4), 0)
            pout.end = pout.start + rng.uniform(8, 40)
            steps["policy_out"] = pout
            cursor = pout.end
    steps["gateway"].end = cursor + rng.uniform(0.5, 3)
    steps["edge"].end = steps["gateway"].end + rng.uniform(0.3, 2)
    req.steps = {k: Step(round(v.start, 3), round(v.end, 3)) for k, v in steps.items()}
