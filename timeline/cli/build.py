"""``timeline build``."""

from __future__ import annotations

import shlex
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from timeline.cli.lazy import api, console, progress, spark_engine
from timeline.cli.options import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    check_engine,
    engine_options,
    memory_budget_option,
    parser_rules,
)


@click.command("build")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "outdir",
    type=click.Path(),
    required=True,
    help=(
        "Directory for timeline.parquet, requests.parquet, rejects.parquet, build.json and the"
        " appendix (created if missing); with --engine spark also a URI (s3a://, hdfs://,"
        " abfss://, file://)."
    ),
)
@click.option(
    "--parser",
    "parser_overrides",
    multiple=True,
    metavar="GLOB=NAME",
    help="Use parser NAME for files whose path (or base name) matches GLOB. Repeatable.",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Settings file (default: ./timeline.toml, else timeline.toml in the first input directory).",
)
@click.option(
    "--spec",
    "specs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Load a declarative parser spec (TOML). Repeatable.",
)
@click.option(
    "--skip-unknown",
    is_flag=True,
    help="Skip (and count) files no parser recognises instead of failing.",
)
@click.option(
    "--keep-content",
    is_flag=True,
    help=(
        "Keep raw lines, prompts, completions, credentials and personal data in the tables"
        " (default: content dropped, prompts hashed, secrets and PII replaced by keyed markers)."
    ),
)
@click.option(
    "--timezone", default=None, help="Zone for timestamps without an offset (default UTC)."
)
@click.option(
    "--year", type=click.IntRange(1970, 2200), default=None, help="Year for formats without one."
)
@click.option(
    "--max-line-bytes",
    type=click.IntRange(1024),
    default=DEFAULT_MAX_LINE_BYTES,
    show_default=True,
    help="Longer lines are rejected.",
)
@click.option(
    "--max-file-bytes",
    type=click.IntRange(1),
    default=DEFAULT_MAX_FILE_BYTES,
    show_default=True,
    help="Read at most this many bytes of one input (a guard against endless sources).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Files sniffed and parsed (and blocks of large files) in parallel; correlation partitions"
    " worked on at once.",
)
@click.option(
    "--salt",
    envvar="TIMELINE_SALT",
    default=None,
    help=(
        "Secret salt for hashes and redaction markers (env TIMELINE_SALT); default: this"
        " installation's random salt (~/.config/ai-timeline/salt). Never written to outputs."
    ),
)
@click.option(
    "--no-correlate",
    is_flag=True,
    help="Skip the correlation stage: write events.parquet (uncorrelated events), no timeline.",
)
@click.option(
    "--no-report",
    is_flag=True,
    help="Do not write the postmortem appendix (appendix.md, appendix.html, appendix.json).",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Print only the totals line (no per-file lines, correlation summary or file list).",
)
@memory_budget_option
@engine_options
def build_command(
    inputs: tuple[str, ...],
    outdir: str,
    parser_overrides: tuple[str, ...],
    config: Path | None,
    specs: tuple[Path, ...],
    skip_unknown: bool,
    keep_content: bool,
    timezone: str | None,
    year: int | None,
    max_line_bytes: int,
    max_file_bytes: int,
    jobs: int,
    salt: str | None,
    no_correlate: bool,
    no_report: bool,
    quiet: bool,
    memory_budget: str | None,
    engine: str,
    master: str | None,
) -> None:
    """Parse INPUTS (files, directories, globs, .gz, - for stdin) and correlate them into
    OUTDIR/timeline.parquet (every event, in order, with its request) and requests.parquet.

    Every line is accounted for: parsed, rejected (see rejects.parquet) or skipped.
    """
    if timezone is not None and (problem := api.check_timezone(timezone)):
        raise click.BadParameter(problem, param_hint="--timezone")
    rules = parser_rules(parser_overrides)
    check_engine(engine, master)
    # Progress goes to stderr (and only to a terminal); results go to stdout.
    stderr = console.Console(stderr=True)
    show = stderr.is_terminal and not quiet
    bar = progress.Progress(
        "[progress.description]{task.description}",
        progress.BarColumn(),
        progress.DownloadColumn(),
        progress.TransferSpeedColumn(),
        progress.TimeRemainingColumn(),
        console=stderr,
        transient=True,
    )
    with bar if show else nullcontext(bar):
        task = bar.add_task("parsing", total=None)
        common: dict[str, Any] = {
            "parsers": rules,
            "config": config,
            "specs": specs,
            "skip_unknown": skip_unknown,
            "keep_content": keep_content,
            "timezone": timezone,
            "year": year,
            "max_line_bytes": max_line_bytes,
            "jobs": jobs,
            "salt": salt or None,
            "correlate": not no_correlate,
            "report": not no_report,
            "command": shlex.join(["timeline", *sys.argv[1:]]),
        }
        if engine == "spark":
            report = spark_engine.build_spark(inputs, outdir, master=master, **common)
        else:
            report = api.build(
                inputs,
                outdir,
                max_file_bytes=max_file_bytes,
                progress=(lambda n: bar.advance(task, n)) if show else None,
                on_total=(lambda n: bar.update(task, total=n)) if show else None,
                memory_budget=memory_budget,
                **common,
            )
    for warning in report.warnings:  # on stderr, also with -q: a rule that matched nothing
        click.echo(f"warning: {warning}", err=True)
    if not quiet:
        for account in report.accounts:
            click.echo(account.summary())
    t = report.totals
    click.echo(
        f"{t['files']} files: lines {t['lines_read']} = parsed {t['lines_parsed']} + rejected "
        f"{t['lines_rejected']} + skipped {t['lines_skipped']}; {t['events']} events"
    )
    if quiet:
        return
    if report.correlation is not None:
        click.echo(report.correlation.summary())
    click.echo("wrote " + ", ".join(str(p) for p in report.outputs.values()))
