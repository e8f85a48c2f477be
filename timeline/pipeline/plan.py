"""Planning a build: which parser reads each input file, and why.

``timeline build`` and ``timeline detect`` both call :func:`decide` per file, so ``detect`` prints
exactly the choice ``build`` then makes (``--parser`` and ``timeline.toml`` forcing included).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from timeline.errors import AmbiguousFormatError, UnknownFormatError
from timeline.ingest.discover import InputFile
from timeline.ingest.reader import DEFAULT_MAX_LINE_BYTES, InputReader
from timeline.ingest.view import View, parser_view
from timeline.parse.detect import Candidate, Detection, detect
from timeline.parse.registry import Registry
from timeline.pipeline.config import BuildConfig, glob_matches
from timeline.pipeline.files import FileJob

BINARY_REASON: Final = "binary file (not a text log)"
UNKNOWN_REASON: Final = "unknown format (--skip-unknown)"
BLANK_REASON: Final = "blank line (the file has no text to detect a format on)"

ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class Decision:
    """What planning decided for one file: a detection, or why there is none."""

    display: str
    view: View | None  # None for a binary file
    detection: Detection | None
    error: str | None = None  # unknown or ambiguous format: the message
    ambiguous: bool = False
    note: str | None = None  # why a file counts as binary or empty (from the reader)

    @property
    def empty(self) -> bool:
        """The file has no text at all (no bytes, or only a copytruncate hole): zero lines to read."""
        return (
            self.binary and bool(self.note) and not str(self.note).startswith("treated as binary")
        )

    @property
    def blank(self) -> bool:
        """The file has lines, but none with text: nothing to detect, nothing to parse."""
        return self.view is not None and not self.view.sample.lines and self.detection is None

    @property
    def binary(self) -> bool:
        """The file's head is not text."""
        return self.view is None

    def describe(self) -> str:
        """How the parser was chosen, with the envelopes removed (``sniffed 0.98 in docker envelope``)."""
        if self.detection is None or self.view is None:
            return ""
        return self.detection.describe() + self.view.wrappers()

    def runners_up(self) -> tuple[Candidate, ...]:
        """The other candidates that scored above 0, best first."""
        chosen = self.detection.parser.name if self.detection else None
        ranked = self.detection.candidates if self.detection else ()
        return tuple(c for c in ranked if c.name != chosen and c.score > 0)


def forced_parser(
    display: str, overrides: Sequence[tuple[str, str]], config: BuildConfig
) -> tuple[str, str] | None:
    """The parser forced for ``display`` by ``--parser GLOB=NAME`` (first) or ``timeline.toml``."""
    for pattern, name in overrides:
        if glob_matches(pattern, display):
            return name, "--parser"
    configured = config.parser_for(display)
    return (configured, "timeline.toml") if configured else None


def decide(
    reader: InputReader,
    registry: Registry,
    overrides: Sequence[tuple[str, str]],
    config: BuildConfig,
) -> Decision:
    """Sniff ``reader``'s head (envelopes removed) and choose its parser, or say why not."""
    sample, binary = reader.head()
    if binary:
        return Decision(reader.name, None, None, note=reader.binary_note)
    view = parser_view(sample)
    if not view.sample.lines and forced_parser(reader.name, overrides, config) is None:
        return Decision(reader.name, view, None, "the file has only blank lines")
    try:
        detection = detect(registry, view.sample, forced_parser(reader.name, overrides, config))
    except UnknownFormatError as exc:
        return Decision(reader.name, view, None, str(exc))
    except AmbiguousFormatError as exc:
        return Decision(reader.name, view, None, str(exc), ambiguous=True)
    return Decision(reader.name, view, detection)


@dataclass(frozen=True)
class PlanOptions:
    """What planning needs from a build's options."""

    parser_overrides: tuple[tuple[str, str], ...] = ()
    config: BuildConfig = field(default_factory=BuildConfig)
    skip_unknown: bool = False
    keep_content: bool = False
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


def _spool_stdin(parts_dir: Path) -> Path:
    target = parts_dir / "stdin.log"
    with target.open("wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return target


def plan(
    files: Sequence[InputFile],
    registry: Registry,
    options: PlanOptions,
    parts_dir: Path,
    progress: ProgressFn | None = None,
) -> list[FileJob]:
    """A job per file; every detection error is collected before failing (one message for all)."""
    jobs: list[FileJob] = []
    errors: list[str] = []
    for index, item in enumerate(files):
        path = item.path if item.path is not None else _spool_stdin(parts_dir)
        reader = InputReader(path, item.display, options.max_line_bytes, progress)
        settings = options.config.settings_for(item.display)
        decision = decide(reader, registry, options.parser_overrides, options.config)
        if decision.binary:
            jobs.append(
                FileJob(
                    index, reader, None, settings, reject_reason=BINARY_REASON, detection="binary"
                )
            )
        elif decision.blank:
            jobs.append(
                FileJob(index, reader, None, settings, skip_reason=BLANK_REASON, detection="blank")
            )
        elif decision.detection is None:
            if options.skip_unknown and not decision.ambiguous:
                jobs.append(
                    FileJob(
                        index,
                        reader,
                        None,
                        settings,
                        skip_reason=UNKNOWN_REASON,
                        detection="unknown",
                    )
                )
            else:
                errors.append(decision.error or f"cannot detect the format of {item.display!r}")
        else:
            assert decision.view is not None
            jobs.append(
                FileJob(
                    index,
                    reader,
                    decision.detection.parser,
                    settings,
                    detection=decision.describe(),
                    envelopes=decision.view.envelopes,
                    document=decision.view.document,
                    keep_content=options.keep_content,
                )
            )
    if len(errors) == 1:
        raise UnknownFormatError(errors[0])
    if errors:
        raise UnknownFormatError(
            f"{len(errors)} files could not be assigned a parser:\n"
            + "\n".join(f"  - {e}" for e in errors)
        )
    return jobs
