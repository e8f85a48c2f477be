"""Format detection: score every parser on a file's sample and choose, or explain why not."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import polars as pl

from timeline.errors import AmbiguousFormatError, UnknownFormatError
from timeline.parse.registry import Registry
from timeline.parserkit.api import Parser, Sample, Source, SourceSettings

MIN_SCORE: Final = 0.5
TIE_MARGIN: Final = 0.01


@dataclass(frozen=True)
class Candidate:
    """A parser and its sniff score for one file."""

    name: str
    score: float
    reason: str = ""  # what the parser made of the sample (filled by explained(), for detect)


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

    def candidate(self) -> Candidate | None:
        """The chosen parser's own entry in the ranking (its score and, once explained, reason)."""
        return next((c for c in self.candidates if c.name == self.parser.name), None)


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
    """Choose the parser for ``sample``; ``forced`` is (parser name, where it was forced).

    A forced choice ranks nothing (every parser's sniff costs time a build does not need to
    spend); ``timeline detect`` ranks the others for display (:func:`rank`)."""
    if forced is not None:
        name, how = forced
        return Detection(registry.get(name), how, None, ())
    candidates = rank(registry, sample)
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


# Columns that say nothing about what matched: bookkeeping, and time (reported on its own).
_NOT_FIELDS: Final = frozenset(
    {"source_line", "raw", "attributes", "layer", "parser", "event_type", "severity"}
)
_TIME_FIELDS: Final = ("ts", "ts_source")
_FIELDS_SHOWN: Final = 6
# Year-less formats get a stand-in year here: the reason says whether lines have a time at all.
_ANY_YEAR: Final = 2000


def _filled(events: pl.DataFrame, name: str) -> bool:
    column = events[name]
    if column.null_count() == events.height:
        return False
    return not (column.dtype == pl.String and bool((column.drop_nulls() == "").all()))


def explain(parser: Parser, sample: Sample) -> str:
    """What ``parser`` makes of ``sample``, in words: lines parsed, fields filled, why lines failed.

    ``64 of 64 sample lines parsed into 64 events with a time; fills status_code, ...``.
    """
    total = len(sample.lines)
    try:
        settings = SourceSettings(year=_ANY_YEAR, year_origin="detect")
        result = parser.parse(Source(sample.name, sample.frame(), settings))
        events = result.events
        rejected = result.rejects.height
        skipped = result.skipped.height
        present = [name for name in events.columns if events.height and _filled(events, name)]
        reasons = result.rejects["reason"].drop_nulls()
        first_reason = str(reasons[0]) if reasons.len() else ""
    except Exception as exc:  # a parser that fails on its own sample: say so, never stop detect
        return f"fails on the sample ({type(exc).__name__})"
    parsed = max(total - rejected - skipped, 0)
    timed = any(name in present for name in _TIME_FIELDS)
    filled = [n for n in present if n not in _NOT_FIELDS and not n.startswith("ts")]
    text = f"{parsed} of {total} sample lines parsed into {events.height} events"
    text += " with a time" if timed else (" without a time" if events.height else "")
    if filled:
        more = len(filled) - _FIELDS_SHOWN
        text += "; fills " + ", ".join(filled[:_FIELDS_SHOWN])
        text += f" (+{more} more)" if more > 0 else ""
    if rejected:
        text += f"; {rejected} rejected" + (f" ({first_reason})" if first_reason else "")
    if skipped:
        text += f"; {skipped} skipped"
    return text


def explained(registry: Registry, sample: Sample, detection: Detection, top: int = 2) -> Detection:
    """``detection`` with a reason on the chosen parser and on the best ``top - 1`` others above 0."""
    others = [c for c in detection.candidates if c.name != detection.parser.name and c.score > 0][
        : max(top - 1, 0)
    ]
    wanted = {detection.parser.name, *(c.name for c in others)}
    candidates = tuple(
        replace(c, reason=explain(registry.get(c.name), sample)) if c.name in wanted else c
        for c in detection.candidates
    )
    return replace(detection, candidates=candidates)
