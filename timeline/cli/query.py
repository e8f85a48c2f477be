"""``timeline query``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from timeline.pipeline.api import query, query_cells, query_text


@click.command("query")
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("sql")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def query_command(outdir: Path, sql: str, fmt: str) -> None:
    """Run SQL over OUTDIR's tables `timeline`, `requests` and `rejects` (polars SQL).

    Example: timeline query out "SELECT failure_reason, count(*) AS n FROM requests GROUP BY 1"
    """
    frame = query(outdir, sql)
    if fmt != "table":
        click.echo(query_text(frame, fmt), nl=False)
        return
    table = Table(show_lines=False)
    for name in frame.columns:
        table.add_column(escape(name), overflow="fold")
    for row in query_cells(frame):
        table.add_row(*(escape(c) for c in row))
    Console(highlight=False, soft_wrap=False, width=200).print(table)
    click.echo(f"{frame.height} rows")
