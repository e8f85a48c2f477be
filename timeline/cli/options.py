"""Option values shared by commands, turned into what the library takes."""

from __future__ import annotations

import click


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
