"""Line accounting: every line of every input is parsed, rejected or skipped, and counted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from timeline.errors import ParserBugError


@dataclass
class FileAccount:
    """What happened to the lines of one input."""

    source_file: str
    parser: str | None = None
    detection: str = ""
    size: int = 0
    sha256: str = ""
    compression: str | None = None
    lines_read: int = 0
    lines_parsed: int = 0
    lines_rejected: int = 0
    lines_skipped: int = 0
    events: int = 0
    rejects_by_reason: Counter[str] = field(default_factory=Counter)
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def balanced(self) -> bool:
        """Lines read = parsed + rejected + skipped."""
        return self.lines_read == self.lines_parsed + self.lines_rejected + self.lines_skipped

    def check(self) -> None:
        """Raise when the accounting does not add up (a bug, never a property of the input)."""
        if not self.balanced():
            raise ParserBugError(
                f"{self.source_file}: line accounting does not add up: read {self.lines_read} != parsed "
                f"{self.lines_parsed} + rejected {self.lines_rejected} + skipped {self.lines_skipped} "
                f"(parser {self.parser})"
            )

    def skip_all(self, reason: str) -> None:
        """Turn every line into a skipped line (unknown format, duplicate input)."""
        self.lines_parsed = self.lines_rejected = self.events = 0
        self.rejects_by_reason.clear()
        self.skipped_by_reason = (
            Counter({reason: self.lines_read}) if self.lines_read else Counter()
        )
        self.lines_skipped = self.lines_read

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stable key order)."""
        return {
            "source_file": self.source_file,
            "parser": self.parser,
            "detection": self.detection,
            "size": self.size,
            "sha256": self.sha256,
            "compression": self.compression,
            "lines_read": self.lines_read,
            "lines_parsed": self.lines_parsed,
            "lines_rejected": self.lines_rejected,
            "lines_skipped": self.lines_skipped,
            "events": self.events,
            "rejects_by_reason": dict(sorted(self.rejects_by_reason.items())),
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """One line for the terminal."""
        parts = [
            f"{self.source_file}: {self.parser or '-'}",
            f"lines {self.lines_read} = parsed {self.lines_parsed} + rejected {self.lines_rejected}"
            f" + skipped {self.lines_skipped}",
            f"events {self.events}",
        ]
        if self.rejects_by_reason:
            parts.append(
                "rejects: " + ", ".join(f"{n} {r}" for r, n in self.rejects_by_reason.most_common())
            )
        if self.skipped_by_reason:
            parts.append(
                "skipped: " + ", ".join(f"{n} {r}" for r, n in self.skipped_by_reason.most_common())
            )
        for note in self.notes:
            parts.append(f"note: {note}")
        return "; ".join(parts)


def totals(accounts: list[FileAccount]) -> dict[str, int]:
    """Sums over all files."""
    return {
        "files": len(accounts),
        "lines_read": sum(a.lines_read for a in accounts),
        "lines_parsed": sum(a.lines_parsed for a in accounts),
        "lines_rejected": sum(a.lines_rejected for a in accounts),
        "lines_skipped": sum(a.lines_skipped for a in accounts),
        "events": sum(a.events for a in accounts),
    }
