"""Correlation settings: the ``[correlation]`` table of ``timeline.toml``.

```toml
[correlation]
max_events_per_id = 1000      # an id on more events than this is degenerate (not used to link)
max_id_span_s = 3600          # an id seen over a longer time than this is degenerate
exclude_kinds = ["tenant_id"] # id kinds never used to link (session_id and user_id never are)
reference = "gateway"         # layer (or source glob) whose clock is the reference
max_skew_ms = 120000          # larger estimated offsets are reported, not applied
clock_source = "file"         # one clock per file, or per "directory" (rotated / split files);
                              # a host named by the record or its envelope always wins

[[correlation.heuristics]]    # replaces the default rules when given
name = "client_route"
match = ["client_address", "http_route"]
window_ms = 2000
orphan_layers = ["gateway"]
candidate_layers = ["gateway"]

[[correlation.offsets]]       # manual clock offsets override the estimate
match = "inference/*.log"
offset_ms = 2500
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from timeline.schema import FIELDS_BY_NAME, LAYERS

DEFAULT_MAX_SKEW_MS: Final = 120_000.0


@dataclass(frozen=True)
class HeuristicRule:
    """Attach id-less events to a request that shares ``match`` fields within ``window_ms``."""

    name: str
    match: tuple[str, ...]
    window_ms: float
    orphan_layers: tuple[str, ...] | None = None
    candidate_layers: tuple[str, ...] | None = None


DEFAULT_RULES: Final = (
    HeuristicRule(
        "client_route", ("client_address", "http_route"), 2000.0, ("gateway",), ("gateway",)
    ),
    HeuristicRule("session", ("session_id",), 5000.0, ("policy", "retrieval", "inference"), None),
    HeuristicRule("prompt_hash", ("prompt_hash",), 5000.0, None, None),
)


@dataclass(frozen=True)
class ManualOffset:
    """A clock offset a user states for the sources matching a glob."""

    match: str
    offset_ms: float


@dataclass(frozen=True)
class CorrelationConfig:
    """Every correlation setting, with documented defaults."""

    max_events_per_id: int = 1000
    max_id_span_s: float = 3600.0
    exclude_kinds: tuple[str, ...] = ()
    reference: str = "gateway"
    max_skew_ms: float = DEFAULT_MAX_SKEW_MS
    heuristics: tuple[HeuristicRule, ...] = DEFAULT_RULES
    offsets: tuple[ManualOffset, ...] = field(default_factory=tuple)
    clock_source: str = "file"


CLOCK_SOURCES: Final = ("file", "directory")
_KEYS: Final = (
    "clock_source",
    "max_events_per_id",
    "max_id_span_s",
    "exclude_kinds",
    "reference",
    "max_skew_ms",
    "heuristics",
    "offsets",
)


def parse_correlation(table: Any, problems: list[str]) -> CorrelationConfig:
    """Validate the ``[correlation]`` table; append problems instead of raising."""
    if not isinstance(table, dict):
        problems.append("'correlation' must be a table ([correlation])")
        return CorrelationConfig()
    for key in table:
        if key not in _KEYS:
            problems.append(f"[correlation]: unknown key {key!r} (allowed: {', '.join(_KEYS)})")
    base = CorrelationConfig()

    def number(key: str, default: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append(f"[correlation]: {key!r} must be a non-negative number")
            return default
        return float(value)

    rules: list[HeuristicRule] = []
    for i, raw in enumerate(table.get("heuristics", []), 1):
        where = f"[[correlation.heuristics]] #{i}"
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("name"), str)
            or not isinstance(raw.get("match"), list)
        ):
            problems.append(f"{where}: needs 'name' and 'match' (a list of canonical fields)")
            continue
        for name in raw["match"]:
            if name not in FIELDS_BY_NAME:
                problems.append(f"{where}: {name!r} is not a canonical field (see docs/schema.md)")
        layers = {k: raw.get(k) for k in ("orphan_layers", "candidate_layers")}
        for key, value in layers.items():
            if value is not None and (
                not isinstance(value, list) or any(v not in LAYERS for v in value)
            ):
                problems.append(f"{where}: {key!r} must list layers ({', '.join(LAYERS)})")
        window = raw.get("window_ms", 2000)
        if isinstance(window, bool) or not isinstance(window, int | float) or window <= 0:
            problems.append(f"{where}: 'window_ms' must be a positive number")
            window = 2000
        rules.append(
            HeuristicRule(
                raw["name"],
                tuple(raw["match"]),
                float(window),
                tuple(layers["orphan_layers"]) if layers["orphan_layers"] else None,
                tuple(layers["candidate_layers"]) if layers["candidate_layers"] else None,
            )
        )
    offsets: list[ManualOffset] = []
    for i, raw in enumerate(table.get("offsets", []), 1):
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("match"), str)
            or isinstance(raw.get("offset_ms"), bool)
            or not isinstance(raw.get("offset_ms"), int | float)
        ):
            problems.append(
                f"[[correlation.offsets]] #{i}: needs 'match' (a glob) and 'offset_ms' (a number)"
            )
            continue
        offsets.append(ManualOffset(raw["match"], float(raw["offset_ms"])))
    exclude = table.get("exclude_kinds", [])
    if not isinstance(exclude, list) or not all(isinstance(k, str) for k in exclude):
        problems.append("[correlation]: 'exclude_kinds' must be a list of id kinds")
        exclude = []
    clock_source = table.get("clock_source", base.clock_source)
    if clock_source not in CLOCK_SOURCES:
        problems.append(f"[correlation]: 'clock_source' must be one of {', '.join(CLOCK_SOURCES)}")
        clock_source = base.clock_source
    reference = table.get("reference", base.reference)
    if not isinstance(reference, str):
        problems.append("[correlation]: 'reference' must be a layer name or a source glob")
        reference = base.reference
    return CorrelationConfig(
        max_events_per_id=int(number("max_events_per_id", base.max_events_per_id)),
        max_id_span_s=number("max_id_span_s", base.max_id_span_s),
        exclude_kinds=tuple(exclude),
        reference=reference,
        max_skew_ms=number("max_skew_ms", base.max_skew_ms),
        heuristics=tuple(rules) if "heuristics" in table else DEFAULT_RULES,
        offsets=tuple(offsets),
        clock_source=clock_source,
    )
