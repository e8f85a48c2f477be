"""Many JSONPaths from JSON lines with one decode, instead of one ``json_path_match`` per path.

``str.json_path_match`` parses the whole line for every path, so a parser reading 40 fields parses
each line 40 times. :func:`decode_paths` parses each line twice: once to tell JSON objects from the
rest, once with a schema built from all the paths (``pl.read_ndjson``), where every leaf is read as
text (numbers and booleans as their text, objects and arrays as JSON). Supported paths: ``$``,
``$.a.b``, ``$['key with-dash']``, ``$.list[0]`` and ``$.list[-1:]`` (the last element). A path that
is both a leaf and a parent of another path, or that uses other JSONPath syntax, falls back to
``json_path_match``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any, Final

import polars as pl

ROOT: Final = "$"
_SEGMENT = re.compile(r"\.([A-Za-z_@][\w@-]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]|\[(-1:)\]")

Segment = tuple[str, Any]  # ("key", name) | ("index", n) | ("last", None)


def column_name(path: str) -> str:
    """The column :func:`decode_paths` gives ``path``."""
    return f"__jp:{path}"


def jp(path: str) -> pl.Expr:
    """A reference to the decoded column of ``path`` (see :func:`decode_paths`)."""
    return pl.col(column_name(path))


def parse_path(path: str) -> list[Segment] | None:
    """The segments of a supported path, None otherwise."""
    if not path.startswith(ROOT):
        return None
    rest, segments, pos = path[1:], [], 0
    while pos < len(rest):
        m = _SEGMENT.match(rest, pos)
        if m is None:
            return None
        if m.group(1) is not None:
            segments.append(("key", m.group(1)))
        elif m.group(2) is not None:
            segments.append(("key", m.group(2).replace("\\'", "'").replace("\\\\", "\\")))
        elif m.group(3) is not None:
            segments.append(("index", int(m.group(3))))
        else:
            segments.append(("last", None))
        pos = m.end()
    return segments


def _insert(tree: dict[str, Any], segments: list[Segment]) -> bool:
    """Add a path to the schema tree; False on a leaf/parent conflict."""
    node = tree
    for i, (kind, value) in enumerate(segments):
        last = i == len(segments) - 1
        if kind == "key":
            child = node.setdefault("keys", {}).get(value)
            if last:
                if child is not None and child != "leaf":
                    return False
                node["keys"][value] = "leaf"
                return True
            if child == "leaf":
                return False
            if child is None:
                child = node["keys"][value] = {}
            node = child
        else:
            if "keys" in node or node.get("leaf"):
                return False
            node["list"] = True
            if last:
                if node.get("item") not in (None, "leaf"):
                    return False
                node["item"] = "leaf"
                return True
            item = node.get("item")
            if item == "leaf":
                return False
            if item is None:
                item = node["item"] = {}
            node = item
    return False


def _dtype(node: Any) -> pl.DataType:
    if node == "leaf":
        return pl.String()
    if node.get("list"):
        return pl.List(_dtype(node["item"]))
    return pl.Struct({k: _dtype(v) for k, v in node["keys"].items()})


def _extract(segments: list[Segment]) -> pl.Expr:
    kind, value = segments[0]
    expr = pl.col(value)
    for kind, value in segments[1:]:
        if kind == "key":
            expr = expr.struct.field(value)
        elif kind == "index":
            expr = expr.list.get(value, null_on_oob=True)
        else:
            expr = expr.list.last()
    return expr


def _exact_containers(lines: pl.Series, path: str, values: pl.Series) -> pl.Series:
    """Objects and arrays as ``json_path_match`` writes them (compact, numbers as logged): the
    decoder re-serializes them, so those few rows are read again with ``json_path_match``."""
    container = (values.str.starts_with("{") | values.str.starts_with("[")).fill_null(False)
    if not bool(container.any()):
        return values
    exact = lines.filter(container).str.json_path_match(path)
    return values.scatter(pl.int_range(values.len(), eager=True).filter(container), exact)


def decode_paths(lines: pl.Series, paths: Sequence[str]) -> pl.DataFrame:
    """One String column per path (named :func:`column_name`), null where absent.

    ``$`` gives the whole line when it is valid JSON (null otherwise), as ``json_path_match`` does.
    """
    whole = lines.str.json_path_match(ROOT)
    out: dict[str, pl.Series] = {column_name(ROOT): whole.alias(column_name(ROOT))}
    tree: dict[str, Any] = {}
    decoded: list[tuple[str, list[Segment]]] = []
    fallback: list[str] = []
    parsed = [(path, parse_path(path)) for path in dict.fromkeys(paths) if path != ROOT]
    # Deepest paths first: a path that is also a parent (``$.response`` beside ``$.response.id``)
    # is the one that falls back, not its children.
    for path, segments in sorted(parsed, key=lambda item: -len(item[1] or ())):
        if segments and segments[0][0] == "key" and _insert(tree, segments):
            decoded.append((path, segments))
        else:
            fallback.append(path)
    objects = whole.str.starts_with("{").fill_null(False)
    if decoded and bool(objects.any()):
        text = "\n".join(lines.filter(objects).to_list())
        schema = pl.Schema({k: _dtype(v) for k, v in tree["keys"].items()})
        frame = pl.read_ndjson(io.StringIO(text), schema=schema, ignore_errors=True)
        values = frame.select(
            [_extract(s).cast(pl.String).alias(column_name(p)) for p, s in decoded]
        )
        positions = pl.int_range(lines.len(), eager=True).alias("__i")
        values = values.with_columns(positions.filter(objects))
        full = positions.to_frame().join(values, on="__i", how="left", maintain_order="left")
        for path, _ in decoded:
            out[column_name(path)] = _exact_containers(
                lines, path, full.get_column(column_name(path))
            )
    else:
        for path, _ in decoded:
            out[column_name(path)] = pl.Series(
                column_name(path), [None] * lines.len(), dtype=pl.String
            )
    for path in fallback:
        out[column_name(path)] = lines.str.json_path_match(path).alias(column_name(path))
    return pl.DataFrame(out)
