"""Option values shared by commands, turned into what the library takes."""

from __future__ import annotations

import importlib.util
from typing import Any, Final

import click

# The reader's default (timeline.ingest.reader.DEFAULT_MAX_LINE_BYTES, checked by a test), spelled
# here so that building the command line imports no part of the library.
DEFAULT_MAX_LINE_BYTES: Final = 4 << 20
DEFAULT_MAX_FILE_BYTES: Final = 64 << 30  # timeline.ingest.reader.DEFAULT_MAX_FILE_BYTES


ENGINES: Final = ("local", "spark")


def engine_options(command: Any) -> Any:
    """``--engine local|spark`` and ``--master URL`` (shared by build and correlate)."""
    command = click.option(
        "--master",
        default=None,
        metavar="URL",
        help=(
            "Spark master for --engine spark (default: spark-submit's, PYSPARK_SUBMIT_ARGS /"
            " MASTER, else local[*])."
        ),
    )(command)
    return click.option(
        "--engine",
        type=click.Choice(ENGINES),
        default="local",
        show_default=True,
        help="Run the stages in this process, or as Spark tasks (pip install 'ai-timeline[spark]').",
    )(command)


def memory_budget_option(command: Any) -> Any:
    """``--memory-budget SIZE`` (shared by build and correlate): bytes, or ``2G``, ``512M``; the
    library reads the size (a bad one is its ``ConfigError``)."""
    return click.option(
        "--memory-budget",
        default=None,
        metavar="SIZE",
        help=(
            "Memory correlation may use (e.g. 2G, 512M): in memory when its working set fits,"
            " else out of core in partitions sized by it. Default: half of the memory available, at most 2 GiB."
        ),
    )(command)


def check_engine(engine: str, master: str | None) -> None:
    """``--master`` only means something with ``--engine spark``; Spark needs its extra."""
    if master is not None and engine != "spark":
        raise click.BadParameter("--master needs --engine spark", param_hint="--master")
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        raise click.UsageError(
            "--engine spark needs pyspark and a Java runtime: pip install 'ai-timeline[spark]'"
        )


def parser_rules(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``--parser GLOB=NAME`` values as (glob, name) pairs; a malformed one is a usage error."""
    pairs = []
    for value in values:
        glob, sep, name = value.rpartition("=")
        if not sep or not glob or not name:
            raise click.BadParameter(
                f"{value!r} is not GLOB=NAME, e.g. 'gateway/*.log=nginx_combined'",
                param_hint="--parser",
            )
        pairs.append((glob, name))
    return tuple(pairs)
