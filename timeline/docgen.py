"""Generate the reference docs that must never drift: ``docs/schema.md`` and ``docs/cli.md``.

``python -m timeline.docgen`` rewrites both; tests fail when the committed files differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from timeline.schema import DOC_TYPES, FIELDS, SCHEMA_VERSION

GROUP_TITLES = {
    "provenance": "Provenance",
    "time": "Time",
    "what": "What happened",
    "ids": "Identifiers",
    "gateway": "Gateway",
    "inference": "Inference",
    "retrieval": "Retrieval",
    "policy": "Policy",
    "content": "Content",
    "attributes": "Everything else",
    "correlation": "Correlation",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def schema_markdown() -> str:
    """``docs/schema.md`` from :data:`timeline.schema.FIELDS`."""
    out = [
        f"# Canonical event schema (v{SCHEMA_VERSION})",
        "",
        "One row per event in `events.parquet` (and, with the correlation columns filled, in",
        "`timeline.parquet`). A column a source lacks is null. Times are UTC with microsecond",
        "precision. This page is generated from `timeline/schema.py` by `python -m timeline.docgen`;",
        "a test fails when the two disagree.",
        "",
        "Parquet metadata (key `ai_timeline`, JSON) carries the schema version, the tool version, every",
        "input (path, size, sha256) and the line accounting per file.",
        "",
    ]
    group = None
    for field in FIELDS:
        if field.group != group:
            group = field.group
            out += [
                "",
                f"## {GROUP_TITLES[group]}",
                "",
                "| field | type | meaning | example | filled by |",
                "|---|---|---|---|---|",
            ]
        out.append(
            f"| `{field.name}` | {DOC_TYPES[field.kind]} | {_cell(field.doc)} | `{_cell(field.example)}` | "
            f"{field.layers} |"
        )
    return "\n".join(out).replace("\n\n\n", "\n\n") + "\n"


def _command_doc(
    cmd: click.Command, path: list[str], out: list[str], parent: click.Context | None = None
) -> None:
    name = " ".join(path)
    # make_context applies the command's context settings (e.g. -h), as a real invocation does.
    ctx = cmd.make_context(
        path[-1],
        [],
        parent=parent,
        resilient_parsing=True,
        max_content_width=100,
        terminal_width=100,
    )
    out += [f"## `{name}`", "", "```text", cmd.get_help(ctx).rstrip(), "```", ""]
    if isinstance(cmd, click.Group):
        for sub_name in sorted(cmd.list_commands(ctx)):
            sub = cmd.get_command(ctx, sub_name)
            if sub is not None:
                _command_doc(sub, [*path, sub_name], out, ctx)


def cli_markdown() -> str:
    """``docs/cli.md`` from the click commands' own help."""
    from timeline.cli.main import cli

    out = [
        "# CLI reference",
        "",
        "Generated from the commands' `--help` by `python -m timeline.docgen`; a test fails when it is stale.",
        "Exit codes: 0 success, 1 an error the message explains, 2 a usage error.",
        "",
    ]
    _command_doc(cli, ["timeline"], out)
    return "\n".join(out).rstrip() + "\n"


DOCS = {"schema.md": schema_markdown, "cli.md": cli_markdown}


def main() -> None:
    """Rewrite the generated docs under ``docs/``."""
    root = Path(__file__).resolve().parent.parent / "docs"
    for name, render in DOCS.items():
        (root / name).write_text(render(), encoding="utf-8")
        sys.stdout.write(f"wrote docs/{name}\n")


if __name__ == "__main__":
    main()
