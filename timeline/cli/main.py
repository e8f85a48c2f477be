"""The ``timeline`` command: a thin click layer over the library.

Starting it imports click and the command modules only; the library (polars, pyarrow) and rich are
imported when a command runs (see :mod:`timeline.cli.lazy`), so ``--version``, ``--help`` and shell
completion answer at once.
"""

from __future__ import annotations

import sys

import click

from timeline import __version__
from timeline.cli.build import build_command
from timeline.cli.correlate import correlate_command
from timeline.cli.demo import demo_command
from timeline.cli.detect import detect_command
from timeline.cli.parsers import parsers_group
from timeline.cli.query import query_command
from timeline.cli.report import report_command
from timeline.cli.show import show_command
from timeline.errors import TimelineError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="timeline")
def cli() -> None:
    """Reconstruct an AI product incident from gateway, policy, retrieval and inference logs.

    New here? `timeline demo` builds a bundled incident and prints what to try next.
    """


cli.add_command(demo_command)
cli.add_command(build_command)
cli.add_command(correlate_command)
cli.add_command(parsers_group)
cli.add_command(detect_command)
cli.add_command(show_command)
cli.add_command(report_command)
cli.add_command(query_command)


def main() -> None:
    """Console entry point: library errors become one-line messages and exit code 1."""
    try:
        # One program name however it was started (console script, python -m timeline.cli): the
        # usage lines say `timeline`, and shell completion reads _TIMELINE_COMPLETE.
        code = cli.main(prog_name="timeline", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TimelineError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    if isinstance(code, int) and code:
        sys.exit(code)
