"""Many JSONPaths from JSON lines with one decode, instead of one ``json_path_match`` per path.

``str.json_path_match`` parses the whole line for every path, so a parser reading 40 fields parses
each line 40 times. :func:`decode_paths` parses each line twice: once for ``$`` (to tell JSON
objects from the rest; its compact text is what the records parsers keep), once with
``str.json_decode`` and an explicit dtype built from all the paths, where every leaf is read as text
(numbers and booleans as their text). :func:`decode_lines` (the spec ``jsonl`` reader) needs no
``$`` and decodes the lines as logged: one parse per line in the common case. Both give exactly
the text ``json_path_match`` gives: values the decoder prints or picks differently (floats, a key
repeated in an object, objects and arrays where the dtype says text) are found vectorized and read
again with ``json_path_match``, and the rows the strict decoder refuses (a value of another kind
than the paths say) go through the lenient ``pl.read_ndjson(ignore_errors=True)``, row by row: one
odd record does not send its whole batch that way. Supported paths: ``$``, ``$.a.b``,
``$['key with-dash']``, ``$.list[0].key`` and ``$.list[-1:].key`` (the last element). A path that
is both a leaf and a parent of another path, that ends in a list element, or that uses other
JSONPath syntax, falls back to ``json_path_match``.

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
import json
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


def _exact_containers(
    lines: pl.Series, path: str, values: pl.Series, lenient: pl.Series
) -> pl.Series:
    """Objects and arrays as ``json_path_match`` writes them (compact, numbers as logged): the
    lenient decoder re-serializes them, so those few of its ``lenient`` rows are read again
    with ``json_path_match``."""
    container = (values.str.starts_with("{") | values.str.starts_with("[")).fill_null(False)
    return _reread(lines, path, values, container & lenient)


def _reread(lines: pl.Series, path: str, values: pl.Series, rows: pl.Series) -> pl.Series:
    """``values`` with the ``rows`` read again from ``lines`` with ``json_path_match``."""
    if not bool(rows.any()):
        return values
    exact = lines.filter(rows).str.json_path_match(path)
    return values.clone().scatter(rows.arg_true(), exact)


# A number ``json_path_match`` may print differently from the decoder: a fraction or an exponent
# (``json_path_match`` prints ``1.0``, the decoder ``1``). In the compact text of ``$`` every
# float has one of them (``-0`` is ``-0.0``, integers beyond 64 bits are floats), and a decoded
# leaf is the value of a key: ``"key":1.5`` finds them all (and, harmlessly, a few look-alikes).
_FLOAT_TOKEN: Final = r'":-?\d+[.eE]'
_FLOAT_KEY: Final = r'"((?:[^"\\]|\\.)*)":-?\d+[.eE]'
# The same in a line as logged: blanks around the colon; ``-0`` and integers of 19 digits or more
# (beyond 64 bits) are floats too.
_RAW_NUMBER: Final = r"\s*:\s*(?:-?\d+[.eE]|-0\b|-?\d{19})"
_RAW_FLOAT_TOKEN: Final = '"' + _RAW_NUMBER
_RAW_FLOAT_KEY: Final = r'"((?:[^"\\]|\\.)*)"' + _RAW_NUMBER
_NUMERIC: Final = r"^-?\d"


class _Floats:
    """Where the compact texts hold a float, and under which keys (JSON-escaped)."""

    def __init__(self, texts: pl.Series, raw: bool = False) -> None:
        token, key = (_RAW_FLOAT_TOKEN, _RAW_FLOAT_KEY) if raw else (_FLOAT_TOKEN, _FLOAT_KEY)
        self.rows = texts.str.contains(token)
        self.keys: pl.Series | None = None
        self.names: set[str] = set()
        if bool(self.rows.any()):
            found = texts.filter(self.rows).str.extract_all(key)
            self.keys = found.list.eval(pl.element().str.extract(key, 1))
            self.names = set(self.keys.explode().drop_nulls().unique().to_list())

    def exact(self, texts: pl.Series, path: str, leaf: str, values: pl.Series) -> pl.Series:
        """``values`` of ``path`` (whose last key is ``leaf``), the floats read again with
        ``json_path_match``; text that merely looks like a number reads the same either way."""
        escaped = json.dumps(leaf, ensure_ascii=False)[1:-1]
        if self.keys is None or not (escaped in self.names or any("\\" in k for k in self.names)):
            return values
        under = self.keys.list.eval(
            (pl.element() == escaped) | pl.element().str.contains("\\", literal=True)
        ).list.any()
        rows = self.rows.clone().scatter(self.rows.arg_true(), under)
        return _reread(texts, path, values, rows & values.str.contains(_NUMERIC).fill_null(False))


# The strict decoder is tried on the batch in pieces, in order (at most this many, of at least
# :data:`_MIN_PIECE` rows): a refused piece costs about as much as a decoded one, so a refusal
# wastes one piece, not the batch. From the refused piece on, the rows the decoder might refuse
# are found first (:func:`_refusable`) and read leniently; the others are decoded strictly,
# halved when refused, down to the rows that are refused, within a budget of :data:`_HALVINGS`
# times their rows decoded (one refused row costs about three; what is left is read leniently).
_PIECES: Final = 8
_MIN_PIECE: Final = 4096
_HALVINGS: Final = 4
_ROW: Final = "__jp_row"


def _decode_struct(
    texts: pl.Series, tree: dict[str, Any], exprs: Sequence[pl.Expr]
) -> tuple[pl.DataFrame, pl.Series | None]:
    """``exprs`` over ``texts`` (valid JSON objects, one per row; their compact text as ``$``
    gives it) decoded into the schema of ``tree``: one row per text, in order, and the rows
    read by the lenient reader (None when there are none).

    ``str.json_decode`` with the explicit dtype is the fast path. It refuses a whole batch when one
    value has another type than the schema says (an object or array where a leaf is text, text
    where an object is); such rows are read with ``pl.read_ndjson(ignore_errors=True)``, which
    gives such a value as its JSON text (a leaf) or null (a container), one row per text. Only
    those rows (and the few others :func:`_refusable` cannot tell apart) take that path.
    """
    dtype = pl.Struct({k: _dtype(v) for k, v in tree["keys"].items()})
    n = texts.len()
    size = max(_MIN_PIECE, -(-n // _PIECES))
    done: list[pl.DataFrame] = []
    start = 0
    while start < n:
        try:
            done.append(_strict(texts.slice(start, size), dtype, exprs))
        except pl.exceptions.PolarsError:
            break
        start += size
    if start >= n:
        return (done[0] if len(done) == 1 else pl.concat(done)), None
    rest, lenient = _decode_rest(texts.slice(start), dtype, tree, exprs)
    if start:
        lenient = pl.concat([pl.repeat(False, start, eager=True), lenient])
    return pl.concat([*done, rest]), lenient


def _strict(texts: pl.Series, dtype: pl.Struct, exprs: Sequence[pl.Expr]) -> pl.DataFrame:
    """``exprs`` over ``texts`` decoded by ``str.json_decode`` (raises when it refuses them)."""
    return texts.str.json_decode(dtype).struct.unnest().select(exprs)


def _decode_rest(
    texts: pl.Series, dtype: pl.Struct, tree: dict[str, Any], exprs: Sequence[pl.Expr]
) -> tuple[pl.DataFrame, pl.Series]:
    """:func:`_decode_struct` of a batch the strict decoder refused: the values, and the rows
    read leniently."""
    suspect = _refusable(texts, tree)
    good_rows = (~suspect).arg_true()
    good = texts.gather(good_rows)
    parts: list[tuple[pl.Series, pl.DataFrame]] = []
    refused: list[pl.Series] = []
    pending = [(0, good.len())] if good.len() else []
    budget = _HALVINGS * good.len()
    while pending:
        start, length = pending.pop()
        if length <= budget:
            budget -= length
            try:
                values = _strict(good.slice(start, length), dtype, exprs)
                parts.append((good_rows.slice(start, length), values))
                continue
            except pl.exceptions.PolarsError:
                pass
        if 1 < length <= budget:
            half = length // 2
            pending += [(start + half, length - half), (start, half)]
        else:
            refused.append(good_rows.slice(start, length))
    lenient = suspect
    if refused:
        lenient = suspect.clone().scatter(pl.concat(refused), True)
    rows = lenient.arg_true()
    if rows.len():
        text = texts.gather(rows).str.join("\n").item()
        schema = pl.Schema(dtype.to_schema())
        frame = pl.read_ndjson(io.StringIO(text), schema=schema, ignore_errors=True)
        parts.append((rows, frame.select(exprs)))
    merged = pl.concat([values.with_columns(rows.alias(_ROW)) for rows, values in parts])
    return merged.sort(_ROW).drop(_ROW), lenient


def _refusable(texts: pl.Series, tree: dict[str, Any]) -> pl.Series:
    """The compact texts where a key of the schema holds a value of a kind the strict decoder
    refuses there: an object or array where a leaf is, anything but an object (an array) or
    null where an object (an array) is, a scalar first in an array of objects. Any object's
    key counts, nested or not (an odd key elsewhere only sends its row the lenient way)."""
    bad: dict[str, set[str]] = {}

    def walk(node: dict[str, Any]) -> None:
        if node.get("list"):
            item = node["item"]
            if isinstance(item, dict):
                walk(item)
            return
        for key, child in node["keys"].items():
            name = json.dumps(key, ensure_ascii=False)[1:-1]
            if child == "leaf":
                follows = {r"[\[{]"}
            elif child.get("list"):
                follows = {r"[^\[n]"}
                if isinstance(child["item"], dict) and not child["item"].get("list"):
                    follows.add(r"\[[^{n\]]")
                walk(child)
            else:
                follows = {"[^{n]"}
                walk(child)
            bad.setdefault(name, set()).update(follows)

    walk(tree)
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, follows in bad.items():
        groups.setdefault(tuple(sorted(follows)), []).append(re.escape(name))
    pattern = "|".join(
        '"(?:' + "|".join(sorted(names)) + ')":(?:' + "|".join(follows) + ")"
        for follows, names in sorted(groups.items())
    )
    try:
        return texts.str.contains(pattern).fill_null(True)
    except pl.exceptions.PolarsError:
        # Keys from the data can make a pattern the regex engine refuses to compile (a key of
        # 70k characters): then every row is a suspect, as a refused batch was before.
        return pl.repeat(True, texts.len(), eager=True)


def _spread(values: pl.Series, rows: pl.Series, n: int) -> pl.Series:
    """``values`` (one per true row of ``rows``) at their rows of a column of ``n``, null elsewhere."""
    if values.len() == n:
        return values
    blank = pl.repeat(None, n, dtype=values.dtype, eager=True).alias(values.name)
    return blank.scatter(rows.arg_true(), values)


def decode_paths(lines: pl.Series, paths: Sequence[str], heads: Sequence[str] = ()) -> pl.DataFrame:
    """One String column per path (named :func:`column_name`), null where absent, and one per
    head (named :func:`head_column_name`).

    ``$`` gives the whole line when it is valid JSON (null otherwise), as ``json_path_match`` does.
    Every value is the text ``json_path_match`` gives: the JSON objects are decoded once, from the
    compact text of ``$`` (one parse of each line for ``$``, one decode for every path; a key
    repeated in an object keeps its last value, as in ``json_path_match``), and the few values the
    decoder prints differently (floats, and objects or arrays on the lenient path) are read again.
    A path through a list to a leaf (``$.a[0]``) is read with ``json_path_match``: the decoder
    would read a scalar there as a list of one.
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
        if segments is not None and _decodable(segments) and _insert(tree, segments):
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
        if not _decodable(segments):
            head_fallback.append(path)
            continue
        assert segments is not None
        node = _node(tree, segments)
        if isinstance(node, dict):
            parents.append((path, segments, "[" if node.get("list") else "{"))
        elif node is None and _insert(tree, segments):
            head_only.append((path, segments))
        else:
            head_fallback.append(path)
    objects = whole.str.starts_with("{").fill_null(False)
    wanted = decoded + head_only + [(p, s) for p, s, _ in parents]
    n = lines.len()
    empty = pl.repeat(None, n, dtype=pl.String, eager=True).alias("")
    values: pl.DataFrame | None = None
    lenient: pl.Series | None = None  # the rows (of the objects) the lenient reader read
    if wanted and bool(objects.any()):
        texts = whole.filter(objects)
        exprs = [_extract(s).cast(pl.String).alias(column_name(p)) for p, s in decoded + head_only]
        exprs += [
            pl.when(_extract(s).is_not_null()).then(pl.lit(c)).alias(head_column_name(p))
            for p, s, c in parents
        ]
        values, lenient = _decode_struct(texts, tree, exprs)
        floats = _Floats(texts)
        fixed = []
        for path, segments in decoded:
            got = values.get_column(column_name(path))
            got = floats.exact(texts, path, str(segments[-1][1]), got)
            if lenient is not None:
                got = _exact_containers(texts, path, got, lenient)
            fixed.append(got)
        if fixed:
            values = values.with_columns(fixed)

    def full(name: str) -> pl.Series:
        if values is None:
            return empty
        return _spread(values.get_column(name), objects, n)

    for path, _ in decoded:
        out[column_name(path)] = full(column_name(path)).alias(column_name(path))
    for path in fallback:
        out[column_name(path)] = path_match(lines, path).alias(column_name(path))
    for path in dict.fromkeys(heads):
        name = head_column_name(path)
        if path in valued:
            out[name] = out[column_name(path)].str.slice(0, 1).alias(name)
        elif path in head_fallback:
            out[name] = path_match(lines, path).str.slice(0, 1).alias(name)
    for path, _ in head_only:
        name = head_column_name(path)
        out[name] = full(column_name(path)).str.slice(0, 1).alias(name)
    for path, _, _ in parents:
        name = head_column_name(path)
        got = full(name)
        if lenient is not None:
            # Not a container of the decoded kind (a scalar, the other container kind): the
            # lenient reader gives null there, so those rows are read exactly, once more. The
            # strict decoder refuses such a value, so after it a null is absent or null.
            rest = got.is_null() & _spread(lenient, objects, n).fill_null(False)
            got = _reread(lines, path, got, rest).str.slice(0, 1)
        out[name] = got.alias(name)
    return pl.DataFrame(out)


# The last step of a path when it is a plain key: ``.name``, ``['name']`` or ``["name"]`` (any
# path, wildcards included: only the last step matters). Plain: forms every JSONPath reader
# reads alike (no ``-``, ``@``, quotes or escapes in a dotted key).
_LAST_KEY: Final = re.compile(r"(?:\.([A-Za-z_][A-Za-z0-9_]*)|\['([^'\\]*)'\]|\[\"([^\"\\]*)\"\])$")


def last_key(path: str) -> str | None:
    """The key ``path`` ends with, or None (an index, a wildcard, an unsupported form)."""
    found = _LAST_KEY.search(path)
    if found is None:
        return None
    return next(group for group in found.groups() if group is not None)


def path_match(lines: pl.Series, path: str) -> pl.Series:
    """``lines.str.json_path_match(path)``, run only on the lines that can hold the path's last
    key: a line that has neither the key's text nor a backslash (the only way to spell a key
    otherwise, ``\\u`` or ``\\/``) cannot have that key, so its value is null. Paths that end
    otherwise, and keys with characters JSON must escape, read every line."""
    key = last_key(path)
    if not key or not key.isprintable() or '"' in key or "\\" in key:
        return lines.str.json_path_match(path)
    maybe = (
        lines.str.contains(key, literal=True) | lines.str.contains("\\", literal=True)
    ).fill_null(False)
    if maybe.all():
        return lines.str.json_path_match(path)
    rows = maybe.arg_true()
    found = lines.gather(rows).str.json_path_match(path)
    return pl.repeat(None, lines.len(), dtype=pl.String, eager=True).scatter(rows, found)


OBJECT_COLUMN: Final = "__jp_object"
# Lines whose one-pass decode might differ from ``json_path_match``: a high surrogate escape (an
# unpaired one is invalid JSON there), a backslash in a key (a key spelled with escapes), deep
# nesting (``json_path_match`` refuses 128 levels).
_SURROGATE: Final = r"\\u[dD][89abAB]"
_ESCAPED_KEY: Final = r'\\(?:[^"\\]|\\.)*"\s*:'
_DEEP: Final = 64
_NULL_VALUE: Final = r":[ \t\r\n]*null"
_NULL_KEY: Final = r'"((?:[^"\\]|\\.)*)"[ \t\r\n]*:[ \t\r\n]*null'


def decode_lines(lines: pl.Series, paths: Sequence[str]) -> pl.DataFrame:
    """:data:`OBJECT_COLUMN` (the line is one JSON object, as :func:`is_json_object`) and one
    String column per path (named :func:`column_name`), null where absent or not an object.

    The values are those of ``json_path_match``, read with one parse of each line in the common
    case: the lines opening with ``{`` are decoded as logged with an explicit dtype. Lines that
    decode but might read differently from ``json_path_match`` (a key of a path repeated in an
    object, where ``json_path_match`` keeps the last value; a key spelled with escapes; an
    unpaired surrogate escape or deep nesting, which it refuses; floats, which it prints its own
    way) are read again exactly. A batch the decoder refuses (a line that is not JSON, a value of
    another type than its path says) and paths through lists are read by :func:`decode_paths`.
    """
    n = lines.len()
    candidates = lines.str.strip_chars_start().str.starts_with("{").fill_null(False)
    tree: dict[str, Any] = {}
    decoded: list[tuple[str, list[Segment]]] = []
    for path in dict.fromkeys(paths):
        segments = parse_path(path)
        keys_only = bool(segments) and all(kind == "key" for kind, _ in segments or [])
        if not keys_only or segments is None or not _insert(tree, segments):
            return _via_whole(lines, paths)
        decoded.append((path, segments))
    if not decoded or not bool(candidates.any()):
        return _via_whole(lines, paths)
    texts = lines.filter(candidates)
    schema = pl.Schema({k: _dtype(v) for k, v in tree["keys"].items()})
    try:
        frame = texts.str.json_decode(pl.Struct(schema)).struct.unnest()
    except pl.exceptions.PolarsError:
        return _via_whole(lines, paths)
    values = frame.select([_extract(s).alias(column_name(p)) for p, s in decoded])
    suspicious = _suspicious(texts, frame, tree)
    floats = _Floats(texts, raw=True)
    values = values.with_columns(
        floats.exact(texts, p, str(s[-1][1]), values.get_column(column_name(p))) for p, s in decoded
    )
    ok = pl.repeat(True, texts.len(), eager=True)
    if bool(suspicious.any()):
        again = _via_whole(texts.filter(suspicious), paths)
        rows = suspicious.arg_true()
        ok = ok.scatter(rows, again.get_column(OBJECT_COLUMN))
        values = values.with_columns(
            values.get_column(column_name(p))
            .clone()
            .scatter(rows, again.get_column(column_name(p)))
            for p, _ in decoded
        )
    out = {OBJECT_COLUMN: _spread(ok, candidates, n).fill_null(False).alias(OBJECT_COLUMN)}
    for path, _ in decoded:
        out[column_name(path)] = _spread(values.get_column(column_name(path)), candidates, n)
    return pl.DataFrame(out)


def _via_whole(lines: pl.Series, paths: Sequence[str]) -> pl.DataFrame:
    """:func:`decode_lines` through :func:`decode_paths` (``$`` first, then one decode)."""
    decoded = decode_paths(lines, paths)
    whole = decoded.get_column(column_name(ROOT))
    ok = (lines.str.strip_chars_start().str.starts_with("{") & whole.is_not_null()).fill_null(False)
    return decoded.select(
        pl.lit(ok).alias(OBJECT_COLUMN), *[pl.col(column_name(p)) for p in dict.fromkeys(paths)]
    )


def _suspicious(texts: pl.Series, frame: pl.DataFrame, tree: dict[str, Any]) -> pl.Series:
    """Rows whose decode might differ from ``json_path_match``: see :func:`decode_lines`. A key
    of the paths repeated is found by counting the keys of the paths holding a value other than
    ``null`` in the text: the count must equal the decoded nodes that are not null."""
    nodes: list[tuple[str, pl.Expr]] = []

    def walk(node: dict[str, Any], expr: pl.Expr | None) -> None:
        for key, child in node["keys"].items():
            here = pl.col(key) if expr is None else expr.struct.field(key)
            nodes.append((key, here))
            if child != "leaf":
                walk(child, here)

    walk(tree, None)
    names = sorted({json.dumps(k, ensure_ascii=False)[1:-1] for k, _ in nodes})
    keyed = '"(?:' + "|".join(re.escape(k) for k in names) + r')"[ \t\r\n]*:[ \t\r\n]*[^n \t\r\n]'
    present = frame.select(
        pl.sum_horizontal([e.is_not_null().cast(pl.UInt32) for _, e in nodes])
    ).to_series()
    counted = texts.str.count_matches(keyed).cast(pl.UInt32)
    odd = texts.str.contains(_SURROGATE) | texts.str.contains(_ESCAPED_KEY)
    deep = texts.str.count_matches(r"[\[{]") >= _DEEP
    suspicious = (odd | deep | (counted != present)).fill_null(True)
    # A key repeated with ``null`` last: the count above cannot see it (``null`` is not counted),
    # so the rows holding a ``null`` under a key of the paths whose node decoded to a value.
    with_null = texts.str.contains(_NULL_VALUE)
    if not bool(with_null.any()):
        return suspicious
    keys = texts.filter(with_null).str.extract_all(_NULL_KEY)
    keys = keys.list.eval(pl.element().str.extract(_NULL_KEY, 1))
    found = set(keys.explode().drop_nulls().unique().to_list())
    sub = frame.filter(with_null)
    hit = pl.repeat(False, sub.height, eager=True)
    for key, expr in nodes:
        escaped = json.dumps(key, ensure_ascii=False)[1:-1]
        if escaped in found:
            valued = sub.select(expr.is_not_null()).to_series()
            hit = hit | (valued & keys.list.contains(escaped)).fill_null(False)
    if not bool(hit.any()):
        return suspicious
    return suspicious | with_null.clone().scatter(with_null.arg_true(), hit)


def _decodable(segments: list[Segment] | None) -> bool:
    """Whether the decoder can read a path: from a key, not ending in a list element (a scalar
    where the list belongs would read as a list of one)."""
    if not segments:
        return False
    return segments[0][0] == "key" and segments[-1][0] == "key"


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
