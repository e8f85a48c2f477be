"""``timeline query``."""

from __future__ import annotations

from pathlib import Path

import click

from timeline.cli.lazy import api


@click.command("query")
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("sql")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "parquet"]),
    default="table",
    show_default=True,
    help="Output format; parquet needs --output.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the result to this file instead of printing it.",
)
@click.option(
    "--duckdb",
    "use_duckdb",
    is_flag=True,
    help="Run the SQL with DuckDB (its dialect: attributes['key']); needs `pip install duckdb`.",
)
def query_command(outdir: Path, sql: str, fmt: str, output: Path | None, use_duckdb: bool) -> None:
    """Run one read-only SQL statement over OUTDIR's tables: events, timeline, requests, rejects.

    polars SQL by default: read one attribute with attributes.user_agent (or
    attributes->>'user-agent' for any key). With --duckdb: attributes['user_agent']. See
    docs/querying.md.

    Example: timeline query out "SELECT failure_reason, count(*) AS n FROM requests GROUP BY 1"
    """
    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet writes a file: add --output FILE.parquet")
    frame = api.query(outdir, sql, engine="duckdb" if use_duckdb else "polars")
    if output is not None:
        written = api.query_write(frame, output, fmt)
        click.echo(f"wrote {frame.height} rows to {written}", err=True)
        return
    click.echo(api.query_text(frame, fmt), nl=False)
