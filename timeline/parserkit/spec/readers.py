"""Spec readers: turn a column of lines into a frame of source fields, vectorized.

Each reader returns an :class:`Extracted`: one String column per requested source field,
a boolean ``ok`` column (the line has the reader's shape), the reason for lines that are not
ok, and, where the reader can enumerate a line's fields (regex, logfmt, csv), the names of
every field for the attributes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from timeline.parserkit import logfmt
from timeline.parserkit.jsonpaths import OBJECT_COLUMN, decode_lines, dotted_path, jp
from timeline.parserkit.spec.model import JSON_IN_STRING, Spec, base_field

_OK = "_ok"


@dataclass(frozen=True)
class Extracted:
    """Source fields of each line (String columns named by source field) plus ``_ok``."""

    frame: pl.DataFrame
    not_ok_reason: str
    all_fields: tuple[str, ...] | None  # every field name the reader produced, when known
    pairs_column: str | None = None  # logfmt: a list[struct{key, value}] column of every pair


def extract(spec: Spec, lines: pl.DataFrame) -> Extracted:
    """Run ``spec``'s reader over ``lines`` (columns ``source_line``, ``line``)."""
    if spec.reader == "regex":
        ex = _regex(spec, lines)
    elif spec.reader == "jsonl":
        ex = _jsonl(spec, lines)
    elif spec.reader == "logfmt":
        ex = _logfmt(spec, lines)
    else:
        ex = _csv(spec, lines)
    return _json_in_strings(spec, ex)


def _bases(spec: Spec) -> list[str]:
    """The fields the reader itself produces (``a`` for ``a|json.b``), without duplicates."""
    return list(dict.fromkeys(base_field(src) for src in spec.source_fields()))


def _json_in_strings(spec: Spec, ex: Extracted) -> Extracted:
    """Add a column per ``field|json.path`` source: ``path`` inside the JSON text of ``field``.

    Each string is decoded by one vectorized ``json_path_match`` per path (null when the text is
    not JSON or lacks the path)."""
    exprs = []
    for src in spec.source_fields():
        if JSON_IN_STRING not in src:
            continue
        base, path = src.split(JSON_IN_STRING, 1)
        exprs.append(pl.col(base).str.json_path_match(dotted_path(path)).alias(src))
    if not exprs:
        return ex
    return Extracted(ex.frame.with_columns(exprs), ex.not_ok_reason, ex.all_fields, ex.pairs_column)


def _regex(spec: Spec, lines: pl.DataFrame) -> Extracted:
    assert spec.pattern is not None
    pattern = "(?P<_ok>)" + spec.pattern
    frame = lines.select(pl.col("line").str.extract_groups(pattern).alias("_g")).unnest("_g")
    groups = tuple(c for c in frame.columns if c != _OK)
    frame = frame.with_columns(pl.col(_OK).is_not_null())
    return Extracted(frame, f"does not match the {spec.name} pattern", groups)


def _jsonl(spec: Spec, lines: pl.DataFrame) -> Extracted:
    """Each line decoded once for every source field (:func:`decode_lines`: the values
    ``json_path_match`` gives, objects and arrays as compact JSON text)."""
    paths = {src: dotted_path(src) for src in _bases(spec)}
    decoded = decode_lines(lines.get_column("line"), list(dict.fromkeys(paths.values())))
    exprs = [pl.col(OBJECT_COLUMN).alias(_OK)]
    exprs += [jp(path).alias(src) for src, path in paths.items()]
    return Extracted(decoded.select(exprs), "not a JSON object", None)


def _logfmt(spec: Spec, lines: pl.DataFrame) -> Extracted:
    line = pl.col("line")
    exprs = [logfmt.starts_with_pair(line).alias(_OK)]
    exprs += [logfmt.value(line, src).alias(src) for src in _bases(spec)]
    exprs.append(logfmt.pairs(line).alias("_pairs"))
    return Extracted(
        lines.select(exprs), "not logfmt (no key=value pair at the start)", None, "_pairs"
    )


def _csv(spec: Spec, lines: pl.DataFrame) -> Extracted:
    d = re.escape(spec.delimiter)
    cells = []
    for i in range(len(spec.columns)):
        cells.append(f'(?:"(?P<_q{i}>(?:[^"]|"")*)"|(?P<_u{i}>[^{d}"]*))')
    pattern = "^(?P<_ok>)" + d.join(cells) + r"\r?$"
    raw = lines.select(pl.col("line").str.extract_groups(pattern).alias("_g")).unnest("_g")
    exprs = [pl.col(_OK).is_not_null()]
    for i, name in enumerate(spec.columns):
        exprs.append(
            pl.coalesce(
                pl.col(f"_q{i}").str.replace_all('""', '"', literal=True), pl.col(f"_u{i}")
            ).alias(name)
        )
    frame = raw.select(exprs)
    n = len(spec.columns)
    return Extracted(frame, f"not a CSV row of {n} columns", tuple(spec.columns))
