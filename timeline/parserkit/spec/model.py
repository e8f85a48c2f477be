"""Declarative parser specs: the TOML model and its validation.

A spec names a reader (``jsonl`` | ``regex`` | ``logfmt`` | ``csv``), maps source fields onto
canonical fields, and says where the timestamp is. :func:`load_spec` validates everything at
once and raises :class:`~timeline.errors.SpecError` listing every problem with a suggestion.
See ``docs/writing-a-parser.md``.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from timeline.errors import SpecError
from timeline.parserkit.frame import NULL_TOKENS
from timeline.parserkit.timestamps import NAMED_FORMATS, check_format, check_timezone
from timeline.schema import FIELDS_BY_NAME, LAYERS, SEVERITIES

READERS: Final = ("jsonl", "regex", "logfmt", "csv")
TOP_KEYS: Final = (
    "name",
    "layer",
    "description",
    "reader",
    "pattern",
    "columns",
    "header",
    "delimiter",
    "null_values",
    "timestamp",
    "constants",
    "fields",
    "ids",
    "status",
    "severity",
    "attributes",
    "sniff",
)
TABLE_KEYS: Final = {
    "timestamp": ("field", "formats", "timezone", "required"),
    "status": ("from_http", "field", "map"),
    "severity": ("field", "map"),
    "attributes": ("include", "exclude"),
    "sniff": ("require",),
}
FIELD_OPTIONS: Final = ("from", "scale", "split", "json", "map", "null_values")
# Canonical columns the pipeline or the correlation stage fills; a spec cannot map onto them.
RESERVED: Final = frozenset(
    {
        "event_id",
        "source_file",
        "source_line",
        "parser",
        "ts",
        "ts_source",
        "ts_raw",
        "ts_assumed_tz",
        "clock_offset_ms",
        "ids",
        "attributes",
        "prompt_hash",
        "correlation_id",
        "correlation_method",
        "correlation_confidence",
        "seq",
        "offset_ms",
    }
)
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_GROUP = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass(frozen=True)
class FieldMap:
    """One canonical field taken from one source field, with optional conversions."""

    target: str
    source: str
    scale: float | None = None
    split: str | None = None
    json: bool = False
    mapping: dict[str, str] = field(default_factory=dict)
    null_values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Spec:
    """A validated declarative parser spec."""

    name: str
    layer: str
    description: str
    reader: str
    path: str
    pattern: str | None = None
    columns: tuple[str, ...] = ()
    header: bool = False
    delimiter: str = ","
    null_values: tuple[str, ...] = NULL_TOKENS
    ts_field: str | None = None
    ts_formats: tuple[str, ...] = ("iso8601",)
    ts_timezone: str = "UTC"
    ts_required: bool = True
    constants: dict[str, Any] = field(default_factory=dict)
    fields: tuple[FieldMap, ...] = ()
    ids: dict[str, str] = field(default_factory=dict)
    status_from_http: str | None = None
    status_field: str | None = None
    status_map: dict[str, str] = field(default_factory=dict)
    severity_field: str | None = None
    severity_map: dict[str, str] = field(default_factory=dict)
    attr_include: tuple[str, ...] | None = None
    attr_exclude: tuple[str, ...] = ()
    sniff_require: tuple[str, ...] = ()

    def source_fields(self) -> list[str]:
        """Every source field the spec reads, in a stable order without duplicates."""
        names: list[str] = []
        for name in (
            [self.ts_field]
            + [f.source for f in self.fields]
            + list(self.ids.values())
            + [self.status_from_http, self.status_field, self.severity_field]
            + list(self.attr_include or ())
            + list(self.sniff_require)
        ):
            if name is not None and name not in names:
                names.append(name)
        return names


def _suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, text: str) -> None:
        self.problems.append(text)

    def keys(self, table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                self.add(
                    f"{where}: unknown key {key!r}{_suggest(key, allowed)} (allowed: {', '.join(allowed)})"
                )

    def string(
        self, table: dict[str, Any], key: str, where: str, required: bool = False
    ) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.add(f"{where}: {key!r} is required")
            return None
        if not isinstance(value, str):
            self.add(f"{where}: {key!r} must be a string, not {type(value).__name__}")
            return None
        return value

    def strings(self, table: dict[str, Any], key: str, where: str) -> tuple[str, ...] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(f"{where}: {key!r} must be a list of strings")
            return None
        return tuple(value)

    def table(self, root: dict[str, Any], key: str) -> dict[str, Any]:
        value = root.get(key, {})
        if not isinstance(value, dict):
            self.add(f"{key!r} must be a table ([{key}])")
            return {}
        return value

    def str_map(self, value: Any, where: str) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.add(f"{where} must be a table of strings")
            return {}
        return {str(k): v for k, v in value.items()}


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec at ``path``; raise ``SpecError`` with every problem."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(where, ["no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(where, [f"cannot read: {exc}"]) from None
    return parse_spec(text, where)


def parse_spec(text: str, where: str = "<spec>") -> Spec:
    """Validate spec TOML ``text``; ``where`` names it in error messages."""
    try:
        root = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(where, [f"not valid TOML: {exc}"]) from None
    c = _Checker()
    c.keys(root, TOP_KEYS, "spec")

    name = c.string(root, "name", "spec", required=True)
    if name is not None and not _SNAKE.match(name):
        c.add(
            f"name {name!r} must be snake_case (lowercase letters, digits, underscores), e.g. 'my_app_log'"
        )
    layer = c.string(root, "layer", "spec", required=True)
    if layer is not None and layer not in LAYERS:
        c.add(f"layer {layer!r} is not one of {', '.join(LAYERS)}{_suggest(layer, LAYERS)}")
    description = c.string(root, "description", "spec", required=True)
    reader = c.string(root, "reader", "spec", required=True)
    if reader is not None and reader not in READERS:
        c.add(f"reader {reader!r} is not one of {', '.join(READERS)}{_suggest(reader, READERS)}")

    pattern = c.string(root, "pattern", "spec")
    groups: list[str] | None = None
    if reader == "regex":
        groups = _check_pattern(c, pattern)
    elif pattern is not None:
        c.add("'pattern' is only used by reader = 'regex'; remove it or change the reader")
    columns = c.strings(root, "columns", "spec") or ()
    if reader == "csv" and not columns:
        c.add(
            "reader 'csv' needs 'columns', the names of the columns in order, e.g. columns = ['time', 'level', 'msg']"
        )
    header = root.get("header", False)
    if not isinstance(header, bool):
        c.add("'header' must be true or false")
        header = False
    delimiter = root.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\n':
        c.add(
            "'delimiter' must be a single character other than a quote or newline, e.g. ',' or '\\t'"
        )
        delimiter = ","
    null_values = c.strings(root, "null_values", "spec")
    known = _known_fields(reader, groups, columns)

    def source_ok(src: str, where: str) -> None:
        if known is not None and src not in known:
            c.add(
                f"{where}: source field {src!r} is not produced by the reader{_suggest(src, sorted(known))} (available: {', '.join(sorted(known))})"
            )

    ts = c.table(root, "timestamp")
    c.keys(ts, TABLE_KEYS["timestamp"], "[timestamp]")
    ts_field = c.string(ts, "field", "[timestamp]")
    ts_required = ts.get("required", True)
    if not isinstance(ts_required, bool):
        c.add("[timestamp]: 'required' must be true or false")
        ts_required = True
    if ts_field is None and ts_required:
        c.add(
            "[timestamp]: 'field' is required (the source field holding the time); set required = false if the format has no time"
        )
    if ts_field is not None:
        source_ok(ts_field, "[timestamp]")
    formats = c.strings(ts, "formats", "[timestamp]") or ("iso8601",)
    for fmt in formats:
        problem = check_format(fmt)
        if problem:
            c.add(f"[timestamp]: {problem}; named formats are {', '.join(NAMED_FORMATS)}")
    timezone = c.string(ts, "timezone", "[timestamp]") or "UTC"
    tz_problem = check_timezone(timezone)
    if tz_problem:
        c.add(f"[timestamp]: {tz_problem}")

    constants = c.table(root, "constants")
    for target, value in constants.items():
        _check_target(c, target, "[constants]")
        if not isinstance(value, str | int | float | bool):
            c.add(f"[constants]: {target!r} must be a string, number or boolean")
    if constants.get("layer") is not None and constants.get("layer") not in LAYERS:
        c.add(f"[constants]: layer {constants['layer']!r} is not one of {', '.join(LAYERS)}")

    fields: list[FieldMap] = []
    for target, value in c.table(root, "fields").items():
        where_f = f"[fields] {target}"
        _check_target(c, target, "[fields]")
        fm = _field_map(c, target, value, where_f)
        if fm is not None:
            source_ok(fm.source, where_f)
            fields.append(fm)

    ids: dict[str, str] = {}
    for kind, src in c.table(root, "ids").items():
        if not isinstance(src, str):
            c.add(f"[ids] {kind}: must name a source field (a string)")
            continue
        if not _SNAKE.match(kind):
            c.add(f"[ids]: id kind {kind!r} must be snake_case, e.g. 'x_request_id'")
        source_ok(src, f"[ids] {kind}")
        ids[kind] = src

    status = c.table(root, "status")
    c.keys(status, TABLE_KEYS["status"], "[status]")
    status_from_http = c.string(status, "from_http", "[status]")
    status_field = c.string(status, "field", "[status]")
    status_map = c.str_map(status.get("map", {}), "[status] map")
    if status_from_http and status_field:
        c.add(
            "[status]: use either 'from_http' (derive from an HTTP code) or 'field' with 'map', not both"
        )
    if status_map and not status_field:
        c.add("[status]: 'map' needs 'field', the source field whose values it maps")
    for src in (status_from_http, status_field):
        if src is not None:
            source_ok(src, "[status]")

    sev = c.table(root, "severity")
    c.keys(sev, TABLE_KEYS["severity"], "[severity]")
    severity_field = c.string(sev, "field", "[severity]")
    severity_map = c.str_map(sev.get("map", {}), "[severity] map")
    for key, level in severity_map.items():
        if level not in SEVERITIES:
            c.add(
                f"[severity] map: {key!r} maps to {level!r}, which is not one of {', '.join(SEVERITIES)}"
            )
    if severity_field is not None:
        source_ok(severity_field, "[severity]")

    attrs = c.table(root, "attributes")
    c.keys(attrs, TABLE_KEYS["attributes"], "[attributes]")
    include = c.strings(attrs, "include", "[attributes]")
    for src in include or ():
        source_ok(src, "[attributes] include")
    exclude = c.strings(attrs, "exclude", "[attributes]") or ()

    sniff = c.table(root, "sniff")
    c.keys(sniff, TABLE_KEYS["sniff"], "[sniff]")
    sniff_require = c.strings(sniff, "require", "[sniff]") or ()
    for src in sniff_require:
        source_ok(src, "[sniff] require")

    if c.problems:
        raise SpecError(where, c.problems)
    assert name is not None and layer is not None and description is not None and reader is not None
    return Spec(
        name=name,
        layer=layer,
        description=description,
        reader=reader,
        path=where,
        pattern=pattern,
        columns=columns,
        header=header,
        delimiter=delimiter,
        null_values=null_values if null_values is not None else NULL_TOKENS,
        ts_field=ts_field,
        ts_formats=formats,
        ts_timezone=timezone,
        ts_required=ts_required,
        constants=dict(constants),
        fields=tuple(fields),
        ids=ids,
        status_from_http=status_from_http,
        status_field=status_field,
        status_map=status_map,
        severity_field=severity_field,
        severity_map=severity_map,
        attr_include=include,
        attr_exclude=exclude,
        sniff_require=sniff_require,
    )


def _check_pattern(c: _Checker, pattern: str | None) -> list[str] | None:
    if pattern is None:
        c.add(
            "reader 'regex' needs 'pattern', a regular expression with named groups like '^(?P<time>\\S+) (?P<msg>.*)$'"
        )
        return None
    groups = _GROUP.findall(pattern)
    if not groups:
        c.add("'pattern' has no named capture groups; use named groups like '^(?P<my_key>.*)$'")
        return None
    try:
        pl.DataFrame({"l": ["x"]}).select(pl.col("l").str.extract_groups(pattern))
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        c.add(
            f"'pattern' is not a valid regular expression ({first}); look-around and back-references are not supported"
        )
        return None
    for g in groups:
        if g.startswith("_"):
            c.add(f"'pattern': group name {g!r} must not start with '_' (reserved)")
    return groups


def _known_fields(
    reader: str | None, groups: list[str] | None, columns: tuple[str, ...]
) -> set[str] | None:
    if reader == "regex":
        return set(groups) if groups is not None else None
    if reader == "csv":
        return set(columns) if columns else None
    return None  # jsonl and logfmt fields are open-ended


def _check_target(c: _Checker, target: str, where: str) -> None:
    if target in RESERVED:
        c.add(
            f"{where}: {target!r} is filled by the pipeline and cannot be mapped; put the value under [attributes] instead"
        )
    elif target not in FIELDS_BY_NAME:
        choices = [n for n in FIELDS_BY_NAME if n not in RESERVED]
        c.add(
            f"{where}: {target!r} is not a canonical field{_suggest(target, choices)} (see docs/schema.md)"
        )


def _field_map(c: _Checker, target: str, value: Any, where: str) -> FieldMap | None:
    if isinstance(value, str):
        return FieldMap(target=target, source=value)
    if not isinstance(value, dict):
        c.add(
            f"{where}: must be a source field name or a table like {{ from = 'field', scale = 1000.0 }}"
        )
        return None
    c.keys(value, FIELD_OPTIONS, where)
    src = c.string(value, "from", where, required=True)
    scale = value.get("scale")
    if scale is not None and (not isinstance(scale, int | float) or isinstance(scale, bool)):
        c.add(f"{where}: 'scale' must be a number")
        scale = None
    kind = FIELDS_BY_NAME[target].kind if target in FIELDS_BY_NAME else "string"
    if scale is not None and kind not in ("int64", "float64"):
        c.add(f"{where}: 'scale' only applies to numeric fields, and {target!r} is {kind}")
    split = c.string(value, "split", where)
    as_json = value.get("json", False)
    if not isinstance(as_json, bool):
        c.add(f"{where}: 'json' must be true or false")
        as_json = False
    if (split or as_json) and not kind.startswith("list"):
        c.add(f"{where}: 'split' and 'json' only apply to list fields, and {target!r} is {kind}")
    mapping = c.str_map(value.get("map", {}), f"{where} map")
    nulls = c.strings(value, "null_values", where)
    if src is None:
        return None
    return FieldMap(
        target=target,
        source=src,
        scale=float(scale) if scale is not None else None,
        split=split,
        json=as_json,
        mapping=mapping,
        null_values=nulls,
    )
