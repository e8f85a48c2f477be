"""Generate the reference docs that must never drift: ``docs/schema.md``, ``docs/cli.md`` and
``docs/parsers.md`` (the index of the parsers' own pages).

``python -m timeline.docgen`` rewrites them; tests fail when the committed files differ. The CLI
page is click's own help, normalised where click versions spell the same thing differently (so
that the page does not depend on the installed click; tests/test_docs.py checks the spellings).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from parsers import ROOT as PARSERS_ROOT
from parsers import builtin_parsers
from timeline.cli.main import cli
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
        "One row per event in `timeline.parquet`, the correlation columns filled (and in",
        "`events.parquet`, with them null, from a build with `--no-correlate`). A column a source",
        "lacks is null. Times are UTC with microsecond precision. This page is generated from",
        "`timeline/schema.py` by `python -m timeline.docgen`; a test fails when the two disagree.",
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


def normalise_help(text: str) -> str:
    """click's help text in one spelling, whatever click version is installed.

    A group's usage line reads ``COMMAND [ARGS]...`` in some click releases and
    ``[COMMAND] [ARGS]...`` in others (checked with click 8.1.0, 8.4.0 and 8.5.1).
    """
    return re.sub(r"\[?COMMAND\]? \[ARGS\]\.\.\.", "COMMAND [ARGS]...", text.rstrip())


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
    text = normalise_help(cmd.get_help(ctx))
    out += [f"## `{name}`", "", "```text", text, "```", ""]
    if isinstance(cmd, click.Group):
        for sub_name in sorted(cmd.list_commands(ctx)):
            sub = cmd.get_command(ctx, sub_name)
            if sub is not None:
                _command_doc(sub, [*path, sub_name], out, ctx)


def cli_markdown() -> str:
    """``docs/cli.md`` from the click commands' own help."""
    out = [
        "# CLI reference",
        "",
        "Generated from the commands' `--help` by `python -m timeline.docgen`; a test fails when it is stale.",
        "Exit codes: 0 success, 1 an error the message explains, 2 a usage error.",
        "",
    ]
    _command_doc(cli, ["timeline"], out)
    out += completion_markdown()
    return "\n".join(out).rstrip() + "\n"


# The variable click reads for shell completion: "_" + the program name in capitals + "_COMPLETE".
COMPLETE_VAR = "_TIMELINE_COMPLETE"
COMPLETION_SHELLS = (
    ("bash", "~/.bashrc", f'eval "$({COMPLETE_VAR}=bash_source timeline)"'),
    ("zsh", "~/.zshrc", f'eval "$({COMPLETE_VAR}=zsh_source timeline)"'),
    (
        "fish",
        "~/.config/fish/completions/timeline.fish",
        f"{COMPLETE_VAR}=fish_source timeline | source",
    ),
)


def completion_markdown() -> list[str]:
    """The shell completion section of ``docs/cli.md`` (click's completion, bash/zsh/fish)."""
    out = [
        "## Shell completion",
        "",
        "`timeline` completes its commands, options, choices and file names in bash (4.4 or",
        "newer), zsh and fish. Add the line for your shell to the file named, then open a new shell:",
        "",
        "| shell | file | line |",
        "|---|---|---|",
    ]
    out += [
        f"| {shell} | `{where}` | `{_cell(line)}` |" for shell, where, line in COMPLETION_SHELLS
    ]
    out += [
        "",
        "The line runs `timeline` once per new shell to print the completion script. To skip that,",
        "save the script once and source the file instead (run it again after upgrading):",
        "",
        "```sh",
        f"{COMPLETE_VAR}=bash_source timeline > ~/.timeline-complete.bash",
        'echo ". ~/.timeline-complete.bash" >> ~/.bashrc',
        "```",
        "",
        f"(`zsh_source` / `fish_source` for the other shells.) `{COMPLETE_VAR}` is the variable",
        "click reads: `_` + the program name in capitals + `_COMPLETE`.",
        "",
    ]
    return out


def parsers_markdown() -> str:
    """``docs/parsers.md``: every built-in parser with a link to its own page."""
    out = [
        "# Built-in parsers",
        "",
        "Each parser is one folder, `parsers/<group>/<name>/`: `parser.py` or `spec.toml`, its page",
        "`README.md` and its golden pairs `golden/`. Generated by `python -m timeline.docgen`; a test",
        "fails when it is stale. Run a parser's golden pairs with `timeline parsers test NAME`.",
        "",
        "| parser | layer | kind | description |",
        "|---|---|---|---|",
    ]
    rows = sorted(builtin_parsers(), key=lambda item: (item[2].parent.name, item[0].name))
    for parser, _origin, folder in rows:
        rel = folder.relative_to(PARSERS_ROOT).as_posix()
        kind = "spec" if (folder / "spec.toml").is_file() else "code"
        out.append(
            f"| [`{parser.name}`](../parsers/{rel}/README.md) | {parser.layer} | {kind} | "
            f"{_cell(parser.description)} |"
        )
    return "\n".join(out) + "\n"


DOCS = {"schema.md": schema_markdown, "cli.md": cli_markdown, "parsers.md": parsers_markdown}


def main() -> None:
    """Rewrite the generated docs under ``docs/``."""
    root = Path(__file__).resolve().parent.parent / "docs"
    for name, render in DOCS.items():
        (root / name).write_text(render(), encoding="utf-8")
        sys.stdout.write(f"wrote docs/{name}\n")


if __name__ == "__main__":
    main()
