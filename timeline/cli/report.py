"""``timeline report``."""

from __future__ import annotations

import click

from timeline.cli.lazy import api


@click.command("report")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["md", "html", "json", "all"]),
    help="md, html, json or all (repeatable; default all).",
)
@click.option(
    "--failing",
    default=None,
    metavar="PREDICATE",
    help="SQL predicate over requests that defines failing requests "
    "(default: the column failed; see docs/report.md).",
)
@click.option(
    "--include-content",
    is_flag=True,
    help="Show prompt/completion text, e-mails, phone and card numbers (keys and tokens stay redacted).",
)
@click.option(
    "--template", is_flag=True, help="Also write appendix-postmortem.md, a postmortem draft."
)
def report_command(
    outdir: str,
    formats: tuple[str, ...],
    failing: str | None,
    include_content: bool,
    template: bool,
) -> None:
    """Write the postmortem appendix (appendix.md / .html / .json) into OUTDIR.

    It lays out evidence (what changed, outcomes, over-represented values, exemplar requests, data
    quality); it does not assign blame.
    """
    written = api.report(
        outdir,
        formats=formats,
        failing=failing,
        include_content=include_content,
        template=template,
    )
    for path in written:
        click.echo(f"wrote {path}")
