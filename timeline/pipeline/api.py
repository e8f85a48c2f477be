"""The library API: what the ``timeline`` command does, as functions a notebook or a script calls.

Re-exported from the package, so ``import timeline`` is enough::

    import timeline

    result = timeline.build(["exports/"], "out")           # parse, correlate, write the appendix
    timeline.correlate("out")                              # re-correlate (e.g. after editing timeline.toml)
    timeline.report("out", formats=("md",), template=True)  # re-write the appendix
    frame = timeline.query("out", "SELECT * FROM requests WHERE failed")

Every function raises a :class:`timeline.errors.TimelineError` subclass with a message that says
what to do; none prints. The ``timeline`` command is a thin layer over these functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl

from timeline.analyze.query import (
    ENGINES,
    FORMATS,
    cells,
    run_duckdb,
    run_query,
    to_csv,
    to_json,
    to_table,
    write_parquet,
)
from timeline.correlation.budget import parse_size
from timeline.correlation.report import CorrelationReport
from timeline.correlation.run import correlate_outdir
from timeline.correlation.show import load_request, render
from timeline.errors import ConfigError, InputError, RegistryError
from timeline.export.write import ReportOptions, resolve_formats, write_report
from timeline.ingest.discover import discover
from timeline.ingest.reader import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINE_BYTES, InputReader
from timeline.io.atomic import write_text_atomic
from timeline.io.outdir import check_one_build, clean_leftovers, locked, output_errors
from timeline.io.uris import REPORT_HINT, refuse_uris
from timeline.layout import EVENTS, STAGE_OUTPUTS, TIMELINE
from timeline.parse.detect import explained, rank
from timeline.parse.registry import Registry, default_registry
from timeline.parserkit.spec.model import Spec, load_spec
from timeline.parserkit.spec.parser import SpecParser
from timeline.parserkit.timestamps import check_timezone
from timeline.pipeline.build import BuildOptions, BuildReport
from timeline.pipeline.build import build as run_build
from timeline.pipeline.config import CONFIG_NAME, BuildConfig, load_config
from timeline.pipeline.golden import GOLDEN_DIR, GoldenCase, cases_in, check_case
from timeline.pipeline.plan import Decision, decide

ConfigArg = str | Path | BuildConfig | None
ParserRules = Mapping[str, str] | Sequence[tuple[str, str]]

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "BuildConfig",
    "BuildReport",
    "CorrelationReport",
    "Decision",
    "GoldenResult",
    "build",
    "build_setup",
    "check_golden",
    "check_timezone",
    "correlate",
    "detect",
    "parsers",
    "query",
    "query_cells",
    "query_text",
    "query_write",
    "report",
    "resolve_config",
    "show",
    "validate_spec",
]


def resolve_config(config: ConfigArg, inputs: Iterable[str | Path] = ()) -> BuildConfig:
    """The settings to use: ``config`` itself, the file it names, else ``./timeline.toml``, else
    ``timeline.toml`` in the first input directory that has one, else the defaults."""
    if isinstance(config, BuildConfig):
        return config
    if config is not None:
        return load_config(Path(config))
    candidates = [Path.cwd() / CONFIG_NAME]
    candidates += [Path(i) / CONFIG_NAME for i in inputs if str(i) != "-" and Path(i).is_dir()]
    for candidate in candidates:
        if candidate.is_file():
            return load_config(candidate)
    return BuildConfig()


def parsers(config: ConfigArg = None, specs: Iterable[str | Path] = ()) -> Registry:
    """Every parser: built-ins, installed plugins, the config's specs and ``specs``."""
    cfg = resolve_config(config) if config is not None else BuildConfig()
    return default_registry([*cfg.specs, *(Path(s) for s in specs)])


def _rules(rules: ParserRules) -> tuple[tuple[str, str], ...]:
    pairs = tuple(rules.items()) if isinstance(rules, Mapping) else tuple(rules)
    for glob, name in pairs:
        if not glob or not name:
            raise ConfigError(f"parser rule {glob!r}={name!r} needs a glob and a parser name")
    return pairs


def _memory_budget(value: int | str | None) -> int:
    """A memory budget in bytes (0: the machine's default); a bad size is a ``ConfigError``."""
    if value is None:
        return 0
    try:
        size = parse_size(value) if isinstance(value, str) else int(value)
    except ValueError as error:
        raise ConfigError(f"memory budget: {error}") from None
    if size < 0:
        raise ConfigError(f"memory budget: {value!r} is not a positive size")
    return size


def build_setup(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    *,
    parsers: ParserRules = (),
    config: ConfigArg = None,
    specs: Iterable[str | Path] = (),
    skip_unknown: bool = False,
    keep_content: bool = False,
    timezone: str | None = None,
    year: int | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    jobs: int = 2,
    salt: str | bytes | None = None,
    correlate: bool = True,
    report: bool = True,
    command: str = "",
    memory_budget: int | str | None = None,
) -> tuple[list[str], Registry, BuildOptions]:
    """The inputs as text, the parser registry and the :class:`BuildOptions` that :func:`build`
    (and the Spark engine) run with: the options checked, ``timeline.toml`` found and
    ``timezone`` / ``year`` applied over it."""
    if timezone is not None and (problem := check_timezone(timezone)):
        raise ConfigError(problem)
    texts = [str(i) for i in inputs]
    cfg = resolve_config(config, texts)
    if timezone is not None:
        cfg = dataclasses.replace(cfg, timezone=timezone)
    if year is not None:
        cfg = dataclasses.replace(cfg, year=year)
    registry = default_registry([*cfg.specs, *(Path(s) for s in specs)])
    options = BuildOptions(
        outdir=Path(outdir),
        parser_overrides=_rules(parsers),
        config=cfg,
        skip_unknown=skip_unknown,
        keep_content=keep_content,
        max_line_bytes=max_line_bytes,
        max_file_bytes=max_file_bytes,
        jobs=jobs,
        salt=salt.encode() if isinstance(salt, str) else salt,
        command=command,
        correlate=correlate,
        report=report and correlate,
        memory_budget=_memory_budget(memory_budget),
    )
    return texts, registry, options


def build(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    *,
    parsers: ParserRules = (),
    config: ConfigArg = None,
    specs: Iterable[str | Path] = (),
    skip_unknown: bool = False,
    keep_content: bool = False,
    timezone: str | None = None,
    year: int | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    jobs: int = 2,
    salt: str | bytes | None = None,
    correlate: bool = True,
    report: bool = True,
    command: str = "",
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    memory_budget: int | str | None = None,
) -> BuildReport:
    """Parse ``inputs`` (files, directories, globs, ``-`` for stdin) into ``outdir``.

    ``parsers`` forces parsers by glob (``{"gateway/*.log": "nginx_combined"}``); ``config`` is a
    ``timeline.toml`` path or a :class:`BuildConfig` (default: found as the command finds it).
    With ``correlate`` the events are correlated into requests; with ``report`` as well, the
    postmortem appendix is written. ``memory_budget`` (bytes, or a size such as ``"2G"``;
    default: half of the memory available, at most 2 GiB) is what correlation may hold: it runs in memory when
    its working set fits, else out of core. Returns the line accounting and the files written.
    """
    refuse_uris([str(i) for i in inputs], outdir)
    texts, registry, options = build_setup(
        inputs,
        outdir,
        parsers=parsers,
        config=config,
        specs=specs,
        skip_unknown=skip_unknown,
        keep_content=keep_content,
        timezone=timezone,
        year=year,
        max_line_bytes=max_line_bytes,
        max_file_bytes=max_file_bytes,
        jobs=jobs,
        salt=salt,
        correlate=correlate,
        report=report,
        command=command,
        memory_budget=memory_budget,
    )
    return run_build(texts, registry, options, progress=progress, on_total=on_total)


def correlate(
    outdir: str | Path, *, config: ConfigArg = None, memory_budget: int | str | None = None
) -> CorrelationReport:
    """Correlate the events of ``outdir`` (again) into the timeline, the requests and the report:
    ``events.parquet`` if a ``--no-correlate`` build wrote it, else the earlier
    ``timeline.parquet`` (see :func:`correlation_input`).

    ``config`` supplies the ``[correlation]`` settings (default: ``./timeline.toml`` if present);
    ``memory_budget`` as for :func:`build`.
    An appendix of the earlier correlation is removed (it would describe other requests):
    ``report`` writes a new one."""
    refuse_uris([], outdir)
    folder = Path(outdir)
    source = correlation_input(folder)
    settings = resolve_config(config).correlation
    with locked(folder) as real, output_errors(folder):  # one writer; the folder stays one build
        clean_leftovers(real)
        check_one_build(folder)
        result = correlate_outdir(
            folder, source, settings, memory_budget=_memory_budget(memory_budget) or None
        )
        for name in STAGE_OUTPUTS["report"]:
            (real / name).unlink(missing_ok=True)
        return result


def correlation_input(folder: Path) -> str:
    """The table ``timeline correlate`` reads in ``folder``: ``events.parquet`` (written by a
    build with ``--no-correlate``, or by earlier versions of the tool) if present, else
    ``timeline.parquet``; an ``InputError`` saying what to run when there is neither."""
    for name in (EVENTS, TIMELINE):
        if (folder / name).is_file():
            return name
    raise InputError(
        f"{str(folder)!r} has neither {TIMELINE} nor {EVENTS}; "
        f"run `timeline build INPUTS -o {folder}` first"
    )


def report(
    outdir: str | Path,
    *,
    formats: Iterable[str] = (),
    failing: str | None = None,
    include_content: bool = False,
    template: bool = False,
) -> list[Path]:
    """Write the postmortem appendix (``md``, ``html``, ``json``; default all) into ``outdir``.

    ``failing`` is an SQL predicate over requests that defines failure (default: ``failed``);
    ``template`` also writes the postmortem draft. Returns the paths written."""
    options = ReportOptions(
        formats=resolve_formats(formats),
        failing=failing,
        include_content=include_content,
        template=template,
    )
    refuse_uris([], outdir, REPORT_HINT)
    folder = Path(outdir)
    if not folder.is_dir():
        return write_report(folder, options)  # says how to make the folder
    with locked(folder) as real, output_errors(folder):  # one writer; the folder stays one build
        clean_leftovers(real)
        check_one_build(folder)
        return write_report(folder, options)


def detect(
    inputs: Sequence[str | Path],
    *,
    parsers: ParserRules = (),
    config: ConfigArg = None,
    specs: Iterable[str | Path] = (),
) -> list[Decision]:
    """The parser ``build`` would choose for each input file, and why (forcing included).

    A sniffed choice carries reasons (``Detection.candidate().reason``, and on the runner-up): what
    the parser made of the sample. Settings and spec files (``*.toml``) in a folder are left out,
    as ``build`` leaves them out.
    """
    texts = [str(i) for i in inputs]
    cfg = resolve_config(config, texts)
    registry = default_registry([*cfg.specs, *(Path(s) for s in specs)])
    rules = _rules(parsers)
    decisions = []
    for item in discover(texts):
        if item.path is None:
            raise InputError("detect reads files, not stdin: save the stream to a file first")
        reader = InputReader(item.path, item.display)
        try:
            decision = decide(reader, registry, rules, cfg, item)
        finally:
            reader.close()
        found = decision.detection
        if found is not None and decision.view is not None and found.how == "sniffed":
            found = explained(registry, decision.view.sample, found)
            decision = dataclasses.replace(decision, detection=found)
        elif found is not None and decision.view is not None:  # forced: rank the others to show
            ranked = rank(registry, decision.view.sample)
            decision = dataclasses.replace(
                decision, detection=dataclasses.replace(found, candidates=ranked)
            )
        decisions.append(decision)
    return decisions


def show(outdir: str | Path, request: str) -> list[str]:
    """One request as text lines (its cross-layer chain), found by any id it carries.

    Only the request's rows are read; control characters in log fields are shown as escapes."""
    return render(load_request(Path(outdir), request))


def query(outdir: str | Path, sql: str, *, engine: str = "polars") -> pl.DataFrame:
    """Run one read-only SQL statement over ``outdir``'s tables ``events``, ``timeline``,
    ``requests`` and ``rejects`` (each that exists).

    ``engine`` is ``polars`` (polars SQL; ``attributes.user_agent`` reads one key of the map) or
    ``duckdb`` (DuckDB's dialect; ``attributes['user_agent']``). See ``docs/querying.md``."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown query engine {engine!r}; choose from {', '.join(ENGINES)}")
    folder = Path(outdir)
    return run_duckdb(folder, sql) if engine == "duckdb" else run_query(folder, sql)


def query_text(frame: pl.DataFrame, fmt: str) -> str:
    """A query result as ``table`` (aligned, wide cells cut, control characters escaped), ``csv``
    (header, nested values as JSON) or ``json`` (array of rows)."""
    if fmt == "table":
        return to_table(frame)
    if fmt == "csv":
        return to_csv(frame)
    if fmt == "json":
        return to_json(frame)
    raise ConfigError(f"unknown output format {fmt!r}; choose from table, csv, json")


def query_write(frame: pl.DataFrame, path: str | Path, fmt: str = "parquet") -> Path:
    """Write a query result to ``path`` in ``fmt`` (``parquet``, ``csv``, ``json`` or ``table``)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown output format {fmt!r}; choose from {', '.join(FORMATS)}")
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{str(target)!r} is a directory; name the file to write")
    if fmt == "parquet":
        return write_parquet(frame, target)
    write_text_atomic(target, query_text(frame, fmt))
    return target


def query_cells(frame: pl.DataFrame) -> list[list[str]]:
    """Every cell of a query result as text, for a terminal table (control characters escaped)."""
    return cells(frame)


def validate_spec(path: str | Path) -> Spec:
    """Load and check a parser spec; :class:`timeline.errors.SpecError` lists every problem."""
    return load_spec(Path(path))


@dataclasses.dataclass(frozen=True)
class GoldenResult:
    """One golden case run: the case, and None when it passed, else the diff (or what was written)."""

    case: GoldenCase
    problem: str | None


def check_golden(
    parser: str | Path,
    *,
    golden: str | Path | None = None,
    update: bool = False,
    specs: Iterable[str | Path] = (),
) -> list[GoldenResult]:
    """Run the golden pairs of ``parser``: a parser name, or the path of a spec file.

    The pairs are ``<case>.<ext>`` beside ``<case>.expected.jsonl`` in ``golden`` (default: the
    parser's ``golden/`` folder: beside its spec, or in its built-in folder). With ``update`` the
    expected files are rewritten from the current parser (then read the diff)."""
    extra = [Path(s) for s in specs]
    spec_path = Path(parser) if str(parser).endswith(".toml") else None
    if spec_path is not None:
        name = SpecParser.from_file(spec_path).name
        extra.append(spec_path)
    else:
        name = str(parser)
    registry = default_registry(extra)
    registry.get(name)  # an unknown name is an error naming the close ones
    home = registry.folder(name)
    if golden is None and home is None:
        raise RegistryError(
            f"parser {name!r} has no folder of golden pairs; pass one with --golden DIR"
        )
    folder = Path(golden) if golden is not None else (home or Path()) / GOLDEN_DIR
    cases = cases_in(name, folder)
    if not cases:
        raise InputError(
            f"no golden pairs in {str(folder)!r}: add <case>.<ext> inputs there "
            "(and run with --update to write their <case>.expected.jsonl)"
        )
    return [GoldenResult(case, check_case(case, registry, update)) for case in cases]
