"""What correlation did: counts, degenerate ids, heuristic links and clock corrections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from timeline.correlation.heuristics import RuleStats
from timeline.correlation.skew import Correction

GLOBAL_TYPES: Final = ("deploy.change", "server.start", "server.metrics", "server.log")


@dataclass
class CorrelationReport:
    """What correlation did, with the evidence for every decision."""

    events: int = 0
    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    orphans_by_layer: dict[str, int] = field(default_factory=dict)
    global_events: int = 0
    degenerate_ids: list[dict[str, Any]] = field(default_factory=list)
    heuristics: list[RuleStats] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    violations_before: int = 0
    violations_after: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "events": self.events,
            "requests": self.requests,
            "events_by_method": dict(sorted(self.by_method.items())),
            "orphans_by_layer": dict(sorted(self.orphans_by_layer.items())),
            "global_events": self.global_events,
            "degenerate_ids": self.degenerate_ids,
            "heuristics": [s.to_dict() for s in self.heuristics],
            "clock_corrections": [c.to_dict() for c in self.corrections],
            "causal_violations_before": self.violations_before,
            "causal_violations_after": self.violations_after,
        }

    def summary(self) -> str:
        """Two lines for the terminal."""
        m = self.by_method
        applied = [c for c in self.corrections if c.applied]
        fixes = ", ".join(f"{c.source} {c.offset_ms:+.1f} ms" for c in applied) or "none"
        return (
            f"correlated {self.events} events into {self.requests} requests (id {m.get('id', 0)}, alias "
            f"{m.get('alias', 0)}, heuristic {m.get('heuristic', 0)}); orphans "
            f"{sum(self.orphans_by_layer.values())}, global {self.global_events}, degenerate ids "
            f"{len(self.degenerate_ids)}\nclock corrections: {fixes}; causal violations "
            f"{self.violations_before} before, {self.violations_after} after"
        )
