"""``timeline detect``."""

from __future__ import annotations

from pathlib import Path

import click

from timeline.cli.common import registry_for, resolve_config
from timeline.errors import AmbiguousFormatError, UnknownFormatError
from timeline.ingest.discover import discover
from timeline.ingest.reader import InputReader
from timeline.ingest.view import parser_view
from timeline.parse.detect import detect, rank


@click.command("detect")
@click.argument("paths", nargs=-1, required=True)
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="Settings file.")
@click.option(
    "--spec",
    "specs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also consider this parser spec. Repeatable.",
)
def detect_command(paths: tuple[str, ...], config: Path | None, specs: tuple[Path, ...]) -> None:
    """Print, per file, the parser detection would choose, its score and the runner-up."""
    cfg = resolve_config(config, paths)
    registry = registry_for(cfg, specs)
    failed = 0
    for item in discover(paths):
        if item.path is None:
            raise click.BadParameter("detect reads files, not stdin", param_hint="PATHS")
        sample, binary = InputReader(item.path, item.display).head()
        view = parser_view(sample)
        sample, envelope = view.sample, view.wrappers()
        if binary:
            click.echo(f"{item.display}: binary file (not a text log)")
            failed += 1
            continue
        try:
            chosen = detect(registry, sample, None)
        except (UnknownFormatError, AmbiguousFormatError) as exc:
            click.echo(f"{item.display}: {exc}")
            failed += 1
            continue
        ranked = [c for c in rank(registry, sample) if c.name != chosen.parser.name]
        runner = f"{ranked[0].name} {ranked[0].score:.2f}" if ranked else "none"
        click.echo(
            f"{item.display}: {chosen.parser.name} {chosen.score:.2f}{envelope} (runner-up: {runner})"
        )
    if failed:
        raise click.exceptions.Exit(1)
