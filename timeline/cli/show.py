"""``timeline show``."""

from __future__ import annotations

from pathlib import Path

import click

from timeline.cli.lazy import api


@click.command("show")
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("request")
def show_command(outdir: Path, request: str) -> None:
    """Print one request as its cross-layer chain: offsets, clock corrections and heuristic links marked.

    REQUEST is a correlation_id or any id the request carries (x-request-id, trace id, chatcmpl-...);
    list some with: timeline query OUTDIR "SELECT correlation_id, ids FROM requests LIMIT 10".
    Control characters in log fields are printed as escapes (\\x1b).
    """
    for line in api.show(outdir, request):
        click.echo(line)
