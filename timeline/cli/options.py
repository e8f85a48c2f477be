"""Option values shared by commands, turned into what the library takes."""

from __future__ import annotations

from typing import Final

import click

# The reader's default (timeline.ingest.reader.DEFAULT_MAX_LINE_BYTES, checked by a test), spelled
# here so that building the command line imports no part of the library.
DEFAULT_MAX_LINE_BYTES: Final = 4 << 20
DEFAULT_MAX_FILE_BYTES: Final = 64 << 30  # timeline.ingest.reader.DEFAULT_MAX_FILE_BYTES


def parser_rules(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``--parser GLOB=NAME`` values as (glob, name) pairs; a malformed one is a usage error."""
    pairs = []
    for value in values:
        glob, sep, name = value.rpartition("=")
        if not sep or not glob or not name:
            raise click.BadParameter(
                f"{value!r} is not GLOB=NAME, e.g. 'gateway/*.log=nginx_combined'",
                param_hint="--parser",
            )
        pairs.append((glob, name))
    return tuple(pairs)
