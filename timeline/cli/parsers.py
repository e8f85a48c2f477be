"""``timeline parsers`` and ``timeline parsers validate``."""

from __future__ import annotations

from pathlib import Path

import click

from timeline.errors import SpecError
from timeline.parse.registry import default_registry
from timeline.parserkit.spec.model import load_spec


@click.group("parsers", invoke_without_command=True)
@click.pass_context
def parsers_group(ctx: click.Context) -> None:
    """List the parsers (name, layer, description)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_command)


@parsers_group.command("list")
@click.option(
    "--spec",
    "specs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also load this parser spec. Repeatable.",
)
def list_command(specs: tuple[Path, ...] = ()) -> None:
    """List the parsers (name, layer, description)."""
    registry = default_registry(specs)
    width = max((len(p.name) for p in registry), default=4)
    for parser in registry:
        click.echo(f"{parser.name:<{width}}  {parser.layer:<9}  {parser.description}")


@parsers_group.command("validate")
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
def validate_command(specs: tuple[Path, ...]) -> None:
    """Check parser spec files; report every problem, each with a suggestion."""
    failed = 0
    for path in specs:
        try:
            spec = load_spec(path)
        except SpecError as exc:
            failed += 1
            click.echo(f"Error: {exc}", err=True)
            continue
        click.echo(f"{path}: ok ({spec.name}, {spec.layer}, reader {spec.reader})")
    if failed:
        raise click.exceptions.Exit(1)
