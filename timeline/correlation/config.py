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
from timeline.tomlmodel import (
    Checked,
    Choice,
    Float,
    Key,
    List,
    Model,
    Problems,
    Str,
    Tables,
    Values,
    did_you_mean,
)

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


def _canonical(name: str) -> str | None:
    if name in FIELDS_BY_NAME:
        return None
    return f"{name!r} is not a canonical field{did_you_mean(name, FIELDS_BY_NAME)} (see docs/schema.md)"


_LAYERS: Final = List(Choice(LAYERS, "layers"))
HEURISTIC: Final = Model(
    Key("name", Str(), required=True, expected="a rule name such as 'client_route'"),
    Key("match", List(Checked(Str("a canonical field name"), _canonical)), required=True),
    Key("window_ms", Float(min=0, min_exclusive=True), default=2000.0),
    Key("orphan_layers", _LAYERS),
    Key("candidate_layers", _LAYERS),
)
OFFSET: Final = Model(
    Key("match", Str(), required=True, expected="a source glob such as 'inference/*.log'"),
    Key("offset_ms", Float(finite=True), required=True, expected="a number such as 2500"),
)
_BASE: Final = CorrelationConfig()
CORRELATION: Final = Model(
    Key("clock_source", Choice(CLOCK_SOURCES), default=_BASE.clock_source),
    Key(
        "max_events_per_id",
        Float(min=0, finite=True),
        default=float(_BASE.max_events_per_id),
        expected="a non-negative whole number such as 1000",
    ),
    Key("max_id_span_s", Float(min=0), default=_BASE.max_id_span_s),
    Key("exclude_kinds", List(Str("an id kind")), default=()),
    Key(
        "reference",
        Str(),
        default=_BASE.reference,
        expected="a layer name or a source glob such as 'gateway'",
    ),
    Key("max_skew_ms", Float(min=0), default=_BASE.max_skew_ms),
    Key("heuristics", Tables(HEURISTIC)),
    Key("offsets", Tables(OFFSET), default=()),
)
"""The keys of ``[correlation]`` (see the module docstring)."""


def parse_correlation(
    table: Any, problems: Problems, where: str = "correlation"
) -> CorrelationConfig:
    """Validate the ``[correlation]`` table at ``where``; add problems instead of raising."""
    return correlation_from_values(CORRELATION.validate(table, problems, where))


def correlation_from_values(values: Values) -> CorrelationConfig:
    """Build the settings from ``[correlation]`` values that ``CORRELATION`` validated."""
    rules = tuple(
        HeuristicRule(
            rule["name"],
            rule["match"],
            rule["window_ms"],
            rule["orphan_layers"] or None,
            rule["candidate_layers"] or None,
        )
        for rule in values["heuristics"] or ()
        if rule.ok("name") and rule.ok("match")
    )
    offsets = tuple(
        ManualOffset(o["match"], o["offset_ms"])
        for o in values["offsets"]
        if o["match"] is not None and o["offset_ms"] is not None
    )
    return CorrelationConfig(
        max_events_per_id=int(values["max_events_per_id"]),
        max_id_span_s=values["max_id_span_s"],
        exclude_kinds=values["exclude_kinds"],
        reference=values["reference"],
        max_skew_ms=values["max_skew_ms"],
        heuristics=rules if values["heuristics"] is not None else DEFAULT_RULES,
        offsets=offsets,
        clock_source=values["clock_source"],
    )
