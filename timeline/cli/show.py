"""``timeline show``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from timeline.pipeline.api import show


@click.command("show")
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("request")
def show_command(outdir: Path, request: str) -> None:
    """Print one request as its cross-layer chain: offsets, clock corrections and heuristic links marked.

    REQUEST is a correlation_id or any id the request carries (x-request-id, trace id, chatcmpl-...).
    """
    lines = show(outdir, request)
    console = Console(highlight=False, soft_wrap=True)
    for line in lines:
        console.print(escape(line))
