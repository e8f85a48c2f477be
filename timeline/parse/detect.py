"""Format detection: score every parser on a file's sample and choose, or explain why not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from timeline.errors import AmbiguousFormatError, UnknownFormatError
from timeline.parse.registry import Registry
from timeline.parserkit.api import Parser, Sample

MIN_SCORE: Final = 0.5
TIE_MARGIN: Final = 0.01


@dataclass(frozen=True)
class Candidate:
    """A parser and its sniff score for one file."""

    name: str
    score: float


@dataclass(frozen=True)
class Detection:
    """The parser chosen for a file, how, and the ranking behind the choice."""

    parser: Parser
    how: str  # "sniffed" | "--parser" | "timeline.toml"
    score: float | None
    candidates: tuple[Candidate, ...]

    def describe(self) -> str:
        """``sniffed 0.98`` / ``forced by --parser``."""
        if self.how == "sniffed" and self.score is not None:
            return f"sniffed {self.score:.2f}"
        return f"forced by {self.how}"


def rank(registry: Registry, sample: Sample) -> tuple[Candidate, ...]:
    """Every parser's score for ``sample``, best first (ties by name)."""
    scored = []
    for parser in registry:
        try:
            score = float(parser.sniff(sample))
        except Exception:  # a plugin's sniff must not stop detection
            score = 0.0
        scored.append(Candidate(parser.name, min(max(score, 0.0), 1.0)))
    return tuple(sorted(scored, key=lambda c: (-c.score, c.name)))


def _shortlist(candidates: tuple[Candidate, ...]) -> str:
    shown = [f"{c.name} {c.score:.2f}" for c in candidates[:3] if c.score > 0]
    return ", ".join(shown) if shown else "none scored above 0"


def detect(registry: Registry, sample: Sample, forced: tuple[str, str] | None = None) -> Detection:
    """Choose the parser for ``sample``; ``forced`` is (parser name, where it was forced)."""
    candidates = rank(registry, sample)
    if forced is not None:
        name, how = forced
        return Detection(registry.get(name), how, None, candidates)
    if not sample.lines:
        raise UnknownFormatError(
            f"cannot detect the format of {sample.name!r}: it has no text lines to sniff. "
            f"Force a parser with --parser '{sample.name}=NAME', or skip such files with --skip-unknown."
        )
    best = candidates[0] if candidates else None
    if best is None or best.score < MIN_SCORE:
        raise UnknownFormatError(
            f"cannot detect the format of {sample.name!r} (closest: {_shortlist(candidates)}). "
            f"Force a parser with --parser '{sample.name}=NAME', or skip such files with --skip-unknown."
        )
    tied = [c for c in candidates if best.score - c.score <= TIE_MARGIN]
    # Tie rule: a spec without [sniff] requirements never makes a file ambiguous; it yields to
    # any other parser in the tie (a built-in, a plugin or a spec with [sniff]).
    sure = [c for c in tied if not _unsniffed_spec(registry.get(c.name))]
    if sure and len(sure) < len(tied):
        tied = sure
    if len(tied) > 1:
        names = ", ".join(f"{c.name} {c.score:.2f}" for c in tied)
        raise AmbiguousFormatError(
            f"the format of {sample.name!r} is ambiguous: {names} fit equally well. "
            f"Force one with --parser '{sample.name}=NAME' or a [[sources]] rule in timeline.toml."
        )
    return Detection(registry.get(tied[0].name), "sniffed", tied[0].score, candidates)


def _unsniffed_spec(parser: Parser) -> bool:
    """Whether ``parser`` is a declarative spec without ``[sniff]`` requirements."""
    spec = getattr(parser, "spec", None)
    return spec is not None and not getattr(spec, "sniff_require", True)
