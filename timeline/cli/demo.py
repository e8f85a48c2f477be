"""``timeline demo``."""

from __future__ import annotations

from pathlib import Path

import click

from timeline.cli.lazy import demo


@click.command("demo")
@click.argument(
    "folder", type=click.Path(path_type=Path, file_okay=False), default=Path("timeline-demo")
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the totals and the next steps.")
@click.option("--requests", type=click.IntRange(1, 100_000), default=300, hidden=True)
def demo_command(folder: Path, quiet: bool, requests: int) -> None:
    """Build a bundled incident into FOLDER (default ./timeline-demo) and print what to try next.

    FOLDER/logs gets the incident's logs (five formats, four layers), FOLDER/out the timeline, the
    requests and the postmortem appendix, as `timeline build FOLDER/logs -o FOLDER/out` would.
    """
    result = demo.demo(folder, requests=requests)
    if not quiet:
        click.echo(f"wrote the incident's logs to {result.logs}")
        for account in result.build.accounts:
            click.echo(account.summary())
    t = result.build.totals
    click.echo(
        f"{t['files']} files: lines {t['lines_read']} = parsed {t['lines_parsed']} + rejected "
        f"{t['lines_rejected']} + skipped {t['lines_skipped']}; {t['events']} events"
    )
    if not quiet and result.build.correlation is not None:
        click.echo(result.build.correlation.summary())
    click.echo("")
    click.echo("Next, try:")
    for number, (what, command) in enumerate(result.next_steps, 1):
        click.echo(f"  {number}. {what}:")
        click.echo(f"     {command}")
