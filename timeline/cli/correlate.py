"""``timeline correlate``."""

from __future__ import annotations

from pathlib import Path

import click

from timeline.cli.lazy import api


@click.command("correlate")
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Settings file with a [correlation] table (default: ./timeline.toml if present).",
)
def correlate_command(outdir: Path, config: Path | None) -> None:
    """Correlate OUTDIR/events.parquet again: timeline.parquet, requests.parquet, correlation.json.

    Use it after changing the [correlation] settings; then `timeline report OUTDIR` refreshes the
    appendix.
    """
    click.echo(api.correlate(outdir, config=config).summary())
