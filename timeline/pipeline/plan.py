"""Planning a build: which parser reads each input file, and why.

``timeline build`` and ``timeline detect`` both call :func:`decide` per file, so ``detect`` prints
exactly the choice ``build`` then makes (``--parser`` and ``timeline.toml`` forcing included).

Forcing patterns mean what they say wherever the command runs: ``--parser GLOB=NAME`` is matched
against the file's path relative to the input argument that named it (the folder given, a glob's
folder, or the file's own folder), ``timeline.toml`` ``match`` against the path relative to the
toml's folder; a pattern without ``/`` also matches the base name. A rule naming an unknown parser
is an error whether it matches or not; a rule matching no file is a warning (:func:`unmatched_rules`).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from timeline.errors import AmbiguousFormatError, ConfigError, RegistryError, UnknownFormatError
from timeline.ingest.discover import InputFile
from timeline.ingest.reader import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINE_BYTES, InputReader
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
    rule: str | None = None  # the forcing rule and the path it matched (``--parser 'gw/*'``...)

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


@dataclass(frozen=True)
class MatchNames:
    """The paths forcing rules match for one file."""

    given: str  # relative to the input argument that named it (``--parser``)
    config: str  # relative to the folder of ``timeline.toml`` (its ``match``)


def match_names(item: InputFile, config: BuildConfig) -> MatchNames:
    """What ``--parser`` and ``timeline.toml`` patterns are matched against for ``item``."""
    relative = item.relative or item.display
    return MatchNames(relative, config.rule_path(item.absolute, relative))


def _forcing(
    names: MatchNames, overrides: Sequence[tuple[str, str]], config: BuildConfig
) -> tuple[str, str, str] | None:
    for pattern, name in overrides:
        if glob_matches(pattern, names.given):
            return name, "--parser", f"--parser {pattern!r} matched {names.given!r}"
    rule = config.rule_for(names.config)
    if rule is None or rule.parser is None:
        return None
    return (
        rule.parser,
        "timeline.toml",
        f"timeline.toml match {rule.match!r} matched {names.config!r}",
    )


def forced_parser(
    names: MatchNames | str, overrides: Sequence[tuple[str, str]], config: BuildConfig
) -> tuple[str, str] | None:
    """The parser forced for a file by ``--parser GLOB=NAME`` (first) or ``timeline.toml``.

    ``names`` are the file's :class:`MatchNames` (a plain string is used for both)."""
    found = _forcing(_as_names(names), overrides, config)
    return (found[0], found[1]) if found else None


def _as_names(names: MatchNames | str) -> MatchNames:
    return MatchNames(names, names) if isinstance(names, str) else names


def check_rules(
    registry: Registry, overrides: Sequence[tuple[str, str]], config: BuildConfig
) -> None:
    """Every parser a rule names exists, whether the rule matches a file or not."""
    for _, name in overrides:
        registry.get(name)  # the error names the close ones and `timeline parsers`
    for rule in config.rules:
        if rule.parser is None:
            continue
        try:
            registry.get(rule.parser)
        except RegistryError as exc:
            raise ConfigError(
                f"{config.path or 'timeline.toml'}: match {rule.match!r}: {exc}"
            ) from None


def unmatched_rules(
    files: Sequence[InputFile], overrides: Sequence[tuple[str, str]], config: BuildConfig
) -> list[str]:
    """A warning for each ``--parser`` or ``timeline.toml`` rule that matches none of ``files``."""
    names = [match_names(f, config) for f in files]
    warnings = [
        f"--parser {pattern}={parser} matches no input file (patterns are relative to the input "
        "folder or the file's folder)"
        for pattern, parser in overrides
        if not any(glob_matches(pattern, n.given) for n in names)
    ]
    where = config.path or "timeline.toml"
    warnings += [
        f"{where}: match {rule.match!r} matches no input file (patterns are relative to the "
        "folder of the toml)"
        for rule in config.rules
        if not any(rule.matches(n.config) for n in names)
    ]
    return warnings


def decide(
    reader: InputReader,
    registry: Registry,
    overrides: Sequence[tuple[str, str]],
    config: BuildConfig,
    item: InputFile | None = None,
) -> Decision:
    """Sniff ``reader``'s head (envelopes removed) and choose its parser, or say why not.

    ``item`` (from discovery) gives the paths rules match; without it, the reader's name is used.
    """
    check_rules(registry, overrides, config)
    names = match_names(item, config) if item is not None else MatchNames(reader.name, reader.name)
    forcing = _forcing(names, overrides, config)
    forced = (forcing[0], forcing[1]) if forcing else None
    rule = forcing[2] if forcing else None
    sample, binary = reader.head()
    if binary:
        return Decision(reader.name, None, None, note=reader.binary_note, rule=rule)
    view = parser_view(sample)
    if not view.sample.lines and forced is None:
        return Decision(reader.name, view, None, "the file has only blank lines")
    try:
        detection = detect(registry, view.sample, forced)
    except UnknownFormatError as exc:
        return Decision(reader.name, view, None, str(exc), rule=rule)
    except AmbiguousFormatError as exc:
        return Decision(reader.name, view, None, str(exc), ambiguous=True, rule=rule)
    return Decision(reader.name, view, detection, rule=rule)


@dataclass(frozen=True)
class PlanOptions:
    """What planning needs from a build's options."""

    parser_overrides: tuple[tuple[str, str], ...] = ()
    config: BuildConfig = field(default_factory=BuildConfig)
    skip_unknown: bool = False
    keep_content: bool = False
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # Files whose heads are read and sniffed at once, in threads: every parser sniffs every
    # file (milliseconds each), which dominates a build of many small files.
    workers: int = 1


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
    reader_for: Callable[[InputFile], InputReader | None] | None = None,
) -> list[FileJob]:
    """A job per file; every detection error is collected before failing (one message for all).

    ``reader_for`` may give a file its own reader (the Spark engine's files by URI); when it
    gives None (or is None) the file is read from its path."""
    check_rules(registry, options.parser_overrides, options.config)
    jobs: list[FileJob] = []
    errors: list[str] = []
    readers: list[InputReader] = []
    try:
        _plan_files(
            files, registry, options, parts_dir, progress, jobs, errors, readers, reader_for
        )
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    if errors:
        for reader in readers:
            reader.close()
    if len(errors) == 1:
        raise UnknownFormatError(errors[0])
    if errors:
        raise UnknownFormatError(
            f"{len(errors)} files could not be assigned a parser:\n"
            + "\n".join(f"  - {e}" for e in errors)
        )
    return jobs


def _plan_files(
    files: Sequence[InputFile],
    registry: Registry,
    options: PlanOptions,
    parts_dir: Path,
    progress: ProgressFn | None,
    jobs: list[FileJob],
    errors: list[str],
    readers: list[InputReader],
    reader_for: Callable[[InputFile], InputReader | None] | None,
) -> None:
    local = True
    for item in files:
        reader = reader_for(item) if reader_for is not None else None
        if reader is None:
            path = item.path if item.path is not None else _spool_stdin(parts_dir)
            reader = InputReader(
                path, item.display, options.max_line_bytes, progress, options.max_file_bytes
            )
        else:
            local = False
        readers.append(reader)

    def choose(pair: tuple[InputReader, InputFile]) -> Decision:
        return decide(pair[0], registry, options.parser_overrides, options.config, pair[1])

    pairs = list(zip(readers, files, strict=True))
    # Readers of the caller's own (the Spark driver's, through py4j) are sniffed one at a time.
    workers = min(options.workers, len(pairs)) if local else 1
    if workers > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="timeline-detect") as pool:
            decisions = list(pool.map(choose, pairs))
    else:
        decisions = [choose(pair) for pair in pairs]
    for index, (item, reader, decision) in enumerate(zip(files, readers, decisions, strict=True)):
        settings = options.config.settings_for(match_names(item, options.config).config)
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
                reader.close()
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
