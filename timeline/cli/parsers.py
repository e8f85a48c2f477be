"""``timeline parsers``: list, validate a spec, run a parser's golden pairs."""

from __future__ import annotations

from pathlib import Path

import click

from timeline.cli.lazy import api
from timeline.errors import SpecError


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


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
    registry = api.parsers(specs=specs)
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
            spec = api.validate_spec(path)
        except SpecError as exc:
            failed += 1
            click.echo(f"Error: {exc}", err=True)
            continue
        click.echo(f"{path}: ok ({spec.name}, {spec.layer}, reader {spec.reader})")
        for warning in spec.warnings:
            click.echo(f"{path}: warning: {warning}", err=True)
    if failed:
        raise click.exceptions.Exit(1)


@parsers_group.command("test")
@click.argument("parser")
@click.option(
    "--golden",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Folder of golden pairs (default: golden/ beside the spec, or the built-in parser's).",
)
@click.option(
    "--update", is_flag=True, help="Rewrite the expected files from the parser; then read the diff."
)
@click.option(
    "--spec",
    "specs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also load this parser spec (for a PARSER name it defines). Repeatable.",
)
def test_command(parser: str, golden: Path | None, update: bool, specs: tuple[Path, ...]) -> None:
    """Run PARSER's golden pairs: each input beside <case>.expected.jsonl must give those rows.

    PARSER is a parser name or a spec file (its golden pairs are in golden/ beside it).
    """
    results = api.check_golden(parser, golden=golden, update=update, specs=specs)
    failed = 0
    for result in results:
        shown = _shown(result.case.input)
        if result.problem is None:
            click.echo(f"ok      {shown}")
        elif update or result.problem.startswith("wrote "):
            click.echo(f"written {shown}: {result.problem}")
            failed += 0 if update else 1
        else:
            failed += 1
            click.echo(f"FAILED  {shown}\n{result.problem}")
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        raise click.exceptions.Exit(1)
