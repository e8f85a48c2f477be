"""``timeline correlate``."""

from __future__ import annotations

from pathlib import Path

import click

from timeline.cli.lazy import api, spark_engine
from timeline.cli.options import check_engine, engine_options, memory_budget_option


@click.command("correlate")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Settings file with a [correlation] table (default: ./timeline.toml if present).",
)
@memory_budget_option
@engine_options
def correlate_command(
    outdir: str, config: Path | None, memory_budget: str | None, engine: str, master: str | None
) -> None:
    """Correlate OUTDIR again: timeline.parquet, requests.parquet, correlation.json.

    Reads OUTDIR/events.parquet (a build with --no-correlate) if present, else the earlier
    timeline.parquet.

    Use it after changing the [correlation] settings; the earlier appendix is removed, and
    `timeline report OUTDIR` writes a new one. With --engine spark OUTDIR may be a URI.
    """
    check_engine(engine, master)
    if engine == "spark":
        click.echo(spark_engine.correlate_spark(outdir, config=config, master=master).summary())
        return
    click.echo(api.correlate(outdir, config=config, memory_budget=memory_budget).summary())
