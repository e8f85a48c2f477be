"""``timeline detect``."""

from __future__ import annotations

from pathlib import Path

import click

from timeline.cli.lazy import api
from timeline.cli.options import parser_rules


@click.command("detect")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--parser",
    "parser_overrides",
    multiple=True,
    metavar="GLOB=NAME",
    help="Force parser NAME for files matching GLOB, as `build --parser` does. Repeatable.",
)
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="Settings file.")
@click.option(
    "--spec",
    "specs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also consider this parser spec. Repeatable.",
)
def detect_command(
    paths: tuple[str, ...],
    parser_overrides: tuple[str, ...],
    config: Path | None,
    specs: tuple[Path, ...],
) -> None:
    """Print, per file, the parser `build` would choose and why, and the runner-up.

    A sniffed choice is followed by what each of the two best candidates made of the file's first
    lines (lines parsed, fields filled); a forced one names the rule that forced it.
    """
    failed = 0
    for decision in api.detect(
        paths, parsers=parser_rules(parser_overrides), config=config, specs=specs
    ):
        if decision.binary:
            click.echo(f"{decision.display}: {decision.note or 'binary file (not a text log)'}")
            failed += 0 if decision.empty else 1
            continue
        if decision.blank:
            click.echo(f"{decision.display}: only blank lines (counted as skipped by build)")
            continue
        if decision.detection is None:
            click.echo(f"{decision.display}: {decision.error}")
            failed += 1
            continue
        chosen = decision.detection
        runners = decision.runners_up()
        runner = f"{runners[0].name} {runners[0].score:.2f}" if runners else "none"
        assert decision.view is not None
        if chosen.how == "sniffed":
            how = f"{chosen.score:.2f}{decision.view.wrappers()}"
        else:
            how = f"(forced by {chosen.how}){decision.view.wrappers()}"
        click.echo(f"{decision.display}: {chosen.parser.name} {how} (runner-up: {runner})")
        if chosen.how != "sniffed":
            if decision.rule:
                click.echo(f"  rule: {decision.rule}")
            continue
        mine = chosen.candidate()
        click.echo(f"  why: {mine.reason if mine is not None and mine.reason else 'sniffed'}")
        if runners:
            click.echo(f"  runner-up {runner}: {runners[0].reason or 'scored lower'}")
    if failed:
        raise click.exceptions.Exit(1)
