"""Many JSONPaths from JSON lines with one decode, instead of one ``json_path_match`` per path.

``str.json_path_match`` parses the whole line for every path, so a parser reading 40 fields parses
each line 40 times. :func:`decode_paths` parses each line twice: once to tell JSON objects from the
rest, once with a schema built from all the paths (``pl.read_ndjson``), where every leaf is read as
text (numbers and booleans as their text, objects and arrays as JSON). Supported paths: ``$``,
``$.a.b``, ``$['key with-dash']``, ``$.list[0]`` and ``$.list[-1:]`` (the last element). A path that
is both a leaf and a parent of another path, or that uses other JSONPath syntax, falls back to
``json_path_match``.

When a parser only tests what kind of value a path holds (present, an object, an array), it asks
for the path's *head* (:func:`jh`) instead: the first character of the text ``json_path_match``
gives. A head of a path that is also a parent of other paths comes from the decoded struct or list
(``{`` / ``[``), so it needs no second parse of the line.

A parser that builds its expressions first and decodes after collects its paths in a
:class:`PathSet` (one per parse call, so nothing is shared between calls).

Parsers that keep unknown top-level keys as attributes find them with :func:`key_names` (a
regex over the lines, no decode), read them with the paths of :func:`key_paths` in their one
decode and turn them into attributes with :func:`kept_keys`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any, Final

import polars as pl

from timeline.parserkit.kv import attributes

ROOT: Final = "$"
_SEGMENT = re.compile(
    r"\.([A-Za-z_@][\w@-]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]|\[(-1:)\]|\[\"([^\"\\]*)\"\]"
)

Segment = tuple[str, Any]  # ("key", name) | ("index", n) | ("last", None)


def column_name(path: str) -> str:
    """The column :func:`decode_paths` gives ``path``."""
    return f"__jp:{path}"


def jp(path: str) -> pl.Expr:
    """A reference to the decoded column of ``path`` (see :func:`decode_paths`)."""
    return pl.col(column_name(path))


def head_column_name(path: str) -> str:
    """The column :func:`decode_paths` gives the head of ``path``."""
    return f"__jh:{path}"


def jh(path: str) -> pl.Expr:
    """The first character of the text at ``path`` (null where ``json_path_match`` gives null)."""
    return pl.col(head_column_name(path))


def key_path(key: str) -> str:
    """The JSONPath of top-level ``key`` (``$['key']``, quotes and backslashes escaped; polars'
    ``json_path_match`` cannot name a key that holds a backslash, :func:`decode_paths` can)."""
    return f"${_bracket(key)}"


def _bracket(key: str) -> str:
    """``['key']``; ``["key"]`` for a key with a single quote and no double quote (polars'
    JSONPath cannot read some escaped single quotes, e.g. the key ``''``)."""
    if "'" in key and '"' not in key and "\\" not in key:
        return f'["{key}"]'
    segment = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"['{segment}']"


def dotted_path(source: str) -> str:
    """A dotted source path (``a.b.0.c``) as a JSONPath (``$['a']['b'][0]['c']``)."""
    parts = []
    for seg in source.split("."):
        if seg.isdigit():
            parts.append(f"[{seg}]")
        else:
            parts.append(_bracket(seg))
    return ROOT + "".join(parts)


def is_json_object(line: pl.Expr) -> pl.Expr:
    """True where the line is one complete JSON object (leading blanks allowed)."""
    return object_from(line, line.str.json_path_match(ROOT))


def object_from(line: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """:func:`is_json_object` given the line's decoded ``$`` (``jp("$")`` after :func:`decode_paths`)."""
    return (line.str.strip_chars_start().str.starts_with("{") & whole.is_not_null()).fill_null(
        False
    )


class PathSet:
    """The JSON paths a parser reads, collected while its expressions are built, then decoded
    from every line in one pass by :meth:`decode`. ``$`` is always decoded."""

    def __init__(self) -> None:
        self._paths: dict[str, None] = {ROOT: None}
        self._heads: dict[str, None] = {}

    def value(self, path: str) -> pl.Expr:
        """The text at ``path`` (its column once :meth:`decode` ran)."""
        self._paths[path] = None
        return jp(path)

    def key(self, key: str) -> pl.Expr:
        """The text of top-level ``key`` (:func:`key_path`)."""
        return self.value(key_path(key))

    def head(self, path: str) -> pl.Expr:
        """The first character of the text at ``path`` (see :func:`jh`)."""
        self._heads[path] = None
        return jh(path)

    def first(self, *paths: str) -> pl.Expr:
        """The text at the first of ``paths`` that is present."""
        return pl.coalesce([self.value(p) for p in paths])

    def decode(self, lines: pl.DataFrame, column: str = "line") -> pl.DataFrame:
        """``lines`` plus the columns of every path and head asked for so far."""
        decoded = decode_paths(lines.get_column(column), sorted(self._paths), sorted(self._heads))
        return pl.concat([lines, decoded], how="horizontal")


def _node(tree: dict[str, Any], segments: list[Segment]) -> Any:
    """The schema node of a path already in ``tree`` (``"leaf"``, a dict), or None."""
    node: Any = tree
    for kind, value in segments:
        if not isinstance(node, dict):
            return None
        node = node.get("keys", {}).get(value) if kind == "key" else node.get("item")
        if node is None:
            return None
    return node


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
        elif m.group(5) is not None:
            segments.append(("key", m.group(5)))
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


def decode_paths(lines: pl.Series, paths: Sequence[str], heads: Sequence[str] = ()) -> pl.DataFrame:
    """One String column per path (named :func:`column_name`), null where absent, and one per
    head (named :func:`head_column_name`).

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
    # Heads: of a parent node (from its struct / list), of a decoded leaf, or a leaf of their own.
    valued = {p for p, _ in decoded} | set(fallback) | {ROOT}
    parents: list[tuple[str, list[Segment], str]] = []
    head_only: list[tuple[str, list[Segment]]] = []
    head_fallback: list[str] = []
    for path in dict.fromkeys(heads):
        segments = parse_path(path)
        if path in valued:
            continue
        if not segments or segments[0][0] != "key":
            head_fallback.append(path)
            continue
        node = _node(tree, segments)
        if isinstance(node, dict):
            parents.append((path, segments, "[" if node.get("list") else "{"))
        elif node is None and _insert(tree, segments):
            head_only.append((path, segments))
        else:
            head_fallback.append(path)
    objects = whole.str.starts_with("{").fill_null(False)
    wanted = decoded + head_only + [(p, s) for p, s, _ in parents]
    full: pl.DataFrame | None = None
    if wanted and bool(objects.any()):
        text = lines.filter(objects).str.join("\n").item()
        schema = pl.Schema({k: _dtype(v) for k, v in tree["keys"].items()})
        frame = pl.read_ndjson(io.StringIO(text), schema=schema, ignore_errors=True)
        values = frame.select(
            [_extract(s).cast(pl.String).alias(column_name(p)) for p, s in decoded + head_only]
            + [
                pl.when(_extract(s).is_not_null()).then(pl.lit(c)).alias(head_column_name(p))
                for p, s, c in parents
            ]
        )
        positions = pl.int_range(lines.len(), eager=True).alias("__i")
        values = values.with_columns(positions.filter(objects))
        full = positions.to_frame().join(values, on="__i", how="left", maintain_order="left")
    empty = pl.Series([None] * lines.len(), dtype=pl.String)
    for path, _ in decoded:
        got = full.get_column(column_name(path)) if full is not None else empty
        out[column_name(path)] = _exact_containers(lines, path, got).alias(column_name(path))
    for path in fallback:
        out[column_name(path)] = lines.str.json_path_match(path).alias(column_name(path))
    for path in dict.fromkeys(heads):
        name = head_column_name(path)
        if path in valued:
            out[name] = out[column_name(path)].str.slice(0, 1).alias(name)
        elif path in head_fallback:
            out[name] = lines.str.json_path_match(path).str.slice(0, 1).alias(name)
    for path, _ in head_only:
        name = head_column_name(path)
        got = full.get_column(column_name(path)) if full is not None else empty
        out[name] = got.str.slice(0, 1).alias(name)
    for path, _, _ in parents:
        name = head_column_name(path)
        got = full.get_column(name) if full is not None else empty
        # Not a container of the decoded kind (absent, null, a scalar, the other container kind):
        # those rows are read exactly, once more.
        rest = got.is_null() & objects
        if bool(rest.any()):
            exact = lines.filter(rest).str.json_path_match(path).str.slice(0, 1)
            got = got.scatter(pl.int_range(lines.len(), eager=True).filter(rest), exact)
        out[name] = got.alias(name)
    return pl.DataFrame(out)


# A JSON key (a string followed by a colon): the keys of every object of a line, nested ones too.
_KEY_RE: Final = r'"(?:[^"\\\n]|\\.)*"\s*:'
# At most this many distinct keys are carried to attributes (the most frequent ones).
MAX_EXTRA_KEYS: Final = 256


def key_names(lines: pl.Series, limit: int = MAX_EXTRA_KEYS) -> list[str]:
    """Candidate top-level keys of JSON lines, found vectorized without decoding: every
    ``"name":`` of any object (nested keys too; they read as null at the top level), the ``limit``
    most frequent ones, sorted. Keys holding a backslash escape are left out."""
    found = lines.str.extract_all(_KEY_RE).explode().drop_nulls().alias("key")
    if found.is_empty():
        return []
    # Count the distinct matches first: the text work below is on a few distinct keys only.
    counts = found.value_counts(sort=True, name="n").with_columns(
        pl.col("key").str.replace(r'^"(.*)"\s*:$', "${1}")
    )
    counts = counts.filter(~pl.col("key").str.contains("\\", literal=True))
    top = counts.group_by("key").agg(pl.col("n").sum()).sort("n", "key", descending=[True, False])
    return sorted(top.head(limit).get_column("key").to_list())


def kept_keys(names: Sequence[str], mapped: Sequence[str]) -> pl.Expr:
    """Attributes of the top-level keys in ``names`` that are not ``mapped``, under their own
    names (objects and arrays as compact JSON); read with the paths of :func:`key_paths`."""
    skip = set(mapped)
    return attributes({k: jp(key_path(k)) for k in names if k not in skip})


def key_paths(names: Sequence[str], mapped: Sequence[str]) -> list[str]:
    """The JSON paths :func:`kept_keys` reads, to decode with the parser's own paths."""
    skip = set(mapped)
    return [key_path(k) for k in names if k not in skip]
