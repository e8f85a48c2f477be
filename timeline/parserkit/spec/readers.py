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

from timeline.parserkit.spec.model import Spec

_OK = "_ok"
_LOGFMT_VALUE = r'("(?:[^"\\]|\\.)*"|[^\s"]*)'
_LOGFMT_PAIR = r'(?:^|\s)([A-Za-z_][\w.\-/]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)'


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
        return _regex(spec, lines)
    if spec.reader == "jsonl":
        return _jsonl(spec, lines)
    if spec.reader == "logfmt":
        return _logfmt(spec, lines)
    return _csv(spec, lines)


def _regex(spec: Spec, lines: pl.DataFrame) -> Extracted:
    assert spec.pattern is not None
    pattern = "(?P<_ok>)" + spec.pattern
    frame = lines.select(pl.col("line").str.extract_groups(pattern).alias("_g")).unnest("_g")
    groups = tuple(c for c in frame.columns if c != _OK)
    frame = frame.with_columns(pl.col(_OK).is_not_null())
    return Extracted(frame, f"does not match the {spec.name} pattern", groups)


def json_path(source: str) -> str:
    """A dotted source path (``a.b.0.c``) as a JSONPath into the line (``$['a']['b'][0]['c']``)."""
    parts = []
    for seg in source.split("."):
        if seg.isdigit():
            parts.append(f"[{seg}]")
        else:
            escaped = seg.replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"['{escaped}']")
    return "$" + "".join(parts)


def _jsonl(spec: Spec, lines: pl.DataFrame) -> Extracted:
    line = pl.col("line")
    is_object = (
        line.str.strip_chars_start().str.starts_with("{")
        & line.str.json_path_match("$").is_not_null()
    )
    exprs = [is_object.alias(_OK)]
    exprs += [line.str.json_path_match(json_path(src)).alias(src) for src in spec.source_fields()]
    return Extracted(lines.select(exprs), "not a JSON object", None)


def _unquote(expr: pl.Expr) -> pl.Expr:
    quoted = expr.str.starts_with('"') & expr.str.ends_with('"') & (expr.str.len_chars() >= 2)
    inner = expr.str.slice(1, expr.str.len_chars() - 2).str.replace_all(r'\\(["\\])', "${1}")
    return pl.when(quoted).then(inner).otherwise(expr)


def _logfmt(spec: Spec, lines: pl.DataFrame) -> Extracted:
    line = pl.col("line")
    exprs = [line.str.contains(r"^\s*[A-Za-z_][\w.\-/]*=").alias(_OK)]
    for src in spec.source_fields():
        value = line.str.extract(r"(?:^|\s)" + re.escape(src) + "=" + _LOGFMT_VALUE, 1)
        exprs.append(_unquote(value).alias(src))
    pairs = (
        line.str.extract_all(_LOGFMT_PAIR)
        .list.eval(
            pl.struct(
                key=pl.element().str.strip_chars_start().str.extract(r"^([^=]+)=", 1),
                value=_unquote(pl.element().str.strip_chars_start().str.replace(r"^[^=]+=", "")),
            )
        )
        .alias("_pairs")
    )
    exprs.append(pairs)
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
