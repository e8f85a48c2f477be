"""Declarative parser specs: the TOML model and its validation.

A spec names a reader (``jsonl`` | ``regex`` | ``logfmt`` | ``csv``), maps source fields onto
canonical fields, and says where the timestamp is. :func:`load_spec` validates everything at
once (through :mod:`timeline.tomlmodel`) and raises :class:`~timeline.errors.SpecError` listing
every problem with a suggestion. See ``docs/writing-a-parser.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import polars as pl

from timeline.errors import SpecError
from timeline.parserkit.frame import NULL_TOKENS
from timeline.parserkit.timestamps import check_format, check_timezone, has_date
from timeline.schema import FIELDS_BY_NAME, LAYERS, SEVERITIES
from timeline.tomlmodel import (
    Bool,
    Checked,
    Choice,
    Float,
    Key,
    List,
    Map,
    Model,
    OneOf,
    Problems,
    Scalar,
    Str,
    Table,
    Values,
    did_you_mean,
    fail,
    hint,
    join,
    load_toml,
    loads_toml,
)

READERS: Final = ("jsonl", "regex", "logfmt", "csv")
DATE_FROM: Final = ("previous_line", "setting")
JSON_IN_STRING: Final = "|json."
"""``"properties|json.modelName"``: read ``modelName`` inside the JSON text held in ``properties``."""
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


Sources = tuple[str, ...]
"""Alternative source fields, first present (non-null) wins."""


def base_field(source: str) -> str:
    """The field a reader produces for ``source`` (``properties`` for ``properties|json.a``)."""
    return source.split(JSON_IN_STRING, 1)[0]


@dataclass(frozen=True)
class FieldMap:
    """One canonical field taken from source fields (alternatives), with optional conversions;
    or (``start``/``end``) a duration between two timestamps."""

    target: str
    sources: Sources
    scale: float | None = None
    split: str | None = None
    json: bool = False
    mapping: dict[str, str] = field(default_factory=dict)
    null_values: tuple[str, ...] | None = None
    start: Sources = ()
    end: Sources = ()

    @property
    def source(self) -> str:
        """The first source field (or the start timestamp's)."""
        return (self.sources or self.start)[0]


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
    ts_field: Sources | None = None
    ts_formats: tuple[str, ...] = ("iso8601",)
    ts_timezone: str | None = None  # the format's own zone, if the spec names one
    ts_required: bool = True
    ts_field_formats: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ts_date_from: str | None = None
    ts_date: str | None = None
    constants: dict[str, Any] = field(default_factory=dict)
    fields: tuple[FieldMap, ...] = ()
    ids: dict[str, Sources] = field(default_factory=dict)
    status_from_http: Sources | None = None
    status_field: Sources | None = None
    status_map: dict[str, str] = field(default_factory=dict)
    severity_field: Sources | None = None
    severity_map: dict[str, str] = field(default_factory=dict)
    attr_include: tuple[str, ...] | None = None
    attr_exclude: tuple[str, ...] = ()
    sniff_require: tuple[Sources, ...] = ()
    warnings: tuple[str, ...] = ()

    def source_fields(self) -> list[str]:
        """Every source field the spec reads (each alternative, ``a|json.b`` as written),
        in a stable order without duplicates."""
        names: list[str] = []
        groups: list[Sources | None] = [
            self.ts_field,
            *(f.sources + f.start + f.end for f in self.fields),
            *self.ids.values(),
            self.status_from_http,
            self.status_field,
            self.severity_field,
            *((a,) for a in self.attr_include or ()),
            *self.sniff_require,
        ]
        for group in groups:
            for name in group or ():
                if name not in names:
                    names.append(name)
        return names


_SOURCE_FIELD: Final = "a source field name"
_PATTERN: Final = "a regular expression with named groups like '^(?P<time>\\S+) (?P<msg>.*)$'"
_DELIMITER: Final = "a single character other than a quote or newline, such as ',' or '\\t'"


def _snake_name(name: str) -> str | None:
    if _SNAKE.match(name):
        return None
    return f"{name!r} is not snake_case; use lowercase letters, digits and underscores, such as 'my_app_log'"


def _delimiter(value: str) -> str | None:
    if len(value) == 1 and value not in '"\n':
        return None
    return f"{value!r} cannot be the delimiter; use {_DELIMITER}"


def _format(fmt: str) -> str | None:
    problem = check_format(fmt)
    if problem is None:
        return None
    return f"{problem}; use a named format or a strptime pattern such as '%Y-%m-%d %H:%M:%S'"


def _timezone(zone: str) -> str | None:
    return check_timezone(zone) if zone else None  # an empty zone means UTC


def _target(target: str) -> str | None:
    if target in RESERVED:
        return "is filled by the pipeline and cannot be mapped; put the value under [attributes] instead"
    if target not in FIELDS_BY_NAME:
        choices = [n for n in FIELDS_BY_NAME if n not in RESERVED]
        return f"is not a canonical field{did_you_mean(target, choices)} (see docs/schema.md)"
    return None


def _id_kind(kind: str) -> str | None:
    if _SNAKE.match(kind):
        return None
    return "is not a snake_case id kind; use one such as 'x_request_id'"


_SOURCES: Final = List(Str(_SOURCE_FIELD), "a list of source field names")
_ALTERNATIVES: Final = "or a list of alternatives such as ['request_id', 'req_id']"


def _source(expected: str = _SOURCE_FIELD) -> OneOf:
    """A source field name, or a non-empty list of alternative names (first non-null wins)."""
    return OneOf(
        Str(),
        Checked(List(Str()), _nonempty),
        expected=f"{expected}, {_ALTERNATIVES}",
    )


def _nonempty(value: tuple[str, ...]) -> str | None:
    return None if value else f"is empty; use a source field name {_ALTERNATIVES}"


def _date(value: str) -> str | None:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            date.fromisoformat(value)
            return None
        except ValueError:
            pass
    return f"{value!r} is not a date; use 'YYYY-MM-DD' such as '2025-03-02'"


TIMESTAMP: Final = Model(
    Key("field", _source("the source field holding the time")),
    Key(
        "formats",
        List(Checked(Str("a named format or a strptime pattern"), _format)),
        default=(),
        expected="a list of named formats or strptime patterns, such as ['iso8601']",
    ),
    Key(
        "timezone",
        Checked(Str(), _timezone),
        default="UTC",
        expected="an IANA time zone such as 'UTC' or 'Europe/Berlin'",
    ),
    Key(
        "field_formats",
        Map(List(Checked(Str("a named format or a strptime pattern"), _format))),
        default={},
        expected="a table of formats for some alternatives, such as { time_local = ['%d/%b/%Y:%H:%M:%S %z'] }",
    ),
    Key("required", Bool(), default=True),
    Key("date_from", Choice(DATE_FROM)),
    Key("date", Checked(Str(), _date), expected="a date 'YYYY-MM-DD' such as '2025-03-02'"),
)
FIELD: Final = Model(
    Key("from", _source("the source field name")),
    Key("start", _source("the source field holding the start time")),
    Key("end", _source("the source field holding the end time")),
    Key("scale", Float(), expected="a number such as 1000.0"),
    Key("split", Str(), expected="a separator such as ','"),
    Key("json", Bool(), default=False),
    Key("map", Map(Str()), default={}),
    Key("null_values", List(Str())),
)
STATUS: Final = Model(
    Key("from_http", _source("the source field holding the HTTP status code")),
    Key("field", _source()),
    Key("map", Map(Str()), default={}),
)
SEVERITY: Final = Model(
    Key("field", _source()),
    Key("map", Map(Choice(SEVERITIES)), default={}),
)
ATTRIBUTES: Final = Model(Key("include", _SOURCES), Key("exclude", _SOURCES, default=()))
SNIFF: Final = Model(
    Key(
        "require",
        List(_source()),
        default=(),
        expected="a list of source fields (a list inside it: any one of those alternatives)",
    )
)
SPEC: Final = Model(
    Key(
        "name",
        Checked(Str(), _snake_name),
        required=True,
        expected="a snake_case name such as 'my_app_log'",
    ),
    Key("layer", Choice(LAYERS), required=True),
    Key("description", Str(), required=True, expected="a one-line description of the format"),
    Key("reader", Choice(READERS), required=True),
    Key("pattern", Str(), expected=_PATTERN),
    Key(
        "columns",
        List(Str()),
        default=(),
        expected="a list of the column names in order, such as ['time', 'level', 'msg']",
    ),
    Key("header", Bool(), default=False),
    Key("delimiter", Checked(Str(), _delimiter), default=",", expected=_DELIMITER),
    Key("null_values", List(Str())),
    Key("timestamp", Table(TIMESTAMP)),
    Key("constants", Map(Scalar(), keys=_target), default={}),
    Key(
        "fields",
        Map(
            OneOf(
                Str(),
                Checked(List(Str()), _nonempty),
                Table(FIELD),
                expected="a source field name, a list of alternatives, or a table like { from = 'field', scale = 1000.0 }",
            ),
            keys=_target,
        ),
        default={},
    ),
    Key("ids", Map(_source(), keys=_id_kind), default={}),
    Key("status", Table(STATUS)),
    Key("severity", Table(SEVERITY)),
    Key("attributes", Table(ATTRIBUTES)),
    Key("sniff", Table(SNIFF)),
)
"""The keys of a parser spec (see ``docs/writing-a-parser.md``)."""


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec at ``path``; raise ``SpecError`` with every problem."""
    where = str(path)
    problems = Problems()
    root = load_toml(path, problems)
    if root is None:
        fail(where, problems, SpecError)
    return spec_from_table(root, where)


def parse_spec(text: str, where: str = "<spec>") -> Spec:
    """Validate spec TOML ``text``; ``where`` names it in error messages."""
    problems = Problems()
    root = loads_toml(text, problems)
    if root is None:
        fail(where, problems, SpecError)
    return spec_from_table(root, where)


def spec_from_table(root: Any, where: str = "<spec>") -> Spec:
    """Validate a parsed spec table; raise ``SpecError`` listing every problem."""
    problems = Problems()
    v = SPEC.validate(root, problems)
    reader: str | None = v["reader"]
    groups = _check_pattern(problems, v, reader)
    columns: tuple[str, ...] = v["columns"]
    if reader == "csv" and not columns and "columns" not in v.invalid:
        problems.add(
            "columns",
            "is required by reader 'csv'; add the column names in order, such as ['time', 'level', 'msg']",
        )
    known = _known_fields(reader, groups, columns)

    def source_ok(value: str | tuple[str, ...] | None, at: str) -> Sources | None:
        if value is None:
            return None
        alts = (value,) if isinstance(value, str) else tuple(value)
        for i, src in enumerate(alts, 1):
            where = at if len(alts) == 1 else join(at, i)
            base = base_field(src)
            if src.endswith(JSON_IN_STRING) or not base:
                problems.add(
                    where,
                    f"{src!r} is not a path into JSON text; write 'field|json.key' such as 'properties|json.modelName'",
                )
            elif known is not None and base not in known:
                names = sorted(known)
                problems.add(
                    where,
                    f"source field {base!r} is not produced by the reader; {hint(base, names, 'available')}",
                )
        return alts

    ts: Values = v["timestamp"]
    if ts["field"] is None and ts["required"] and "field" not in ts.invalid:
        problems.add(
            "timestamp.field",
            "is required; add the source field holding the time, or set required = false if the format has no time",
        )
    ts_field = source_ok(ts["field"], "timestamp.field")
    for alt in ts["field_formats"]:
        if ts_field is not None and alt not in ts_field:
            problems.add(
                join("timestamp.field_formats", alt),
                f"{alt!r} is not one of timestamp.field's alternatives; {hint(alt, ts_field, 'alternatives')}",
            )
    _check_date_from(problems, ts)

    constants: dict[str, Any] = v["constants"]
    if "layer" in constants and constants["layer"] not in LAYERS:
        problems.unknown_value("constants.layer", constants["layer"], LAYERS)

    fields: list[FieldMap] = []
    for target, value in v["fields"].items():
        at = join("fields", target)
        if not isinstance(value, Values):
            fields.append(FieldMap(target=target, sources=source_ok(value, at) or ()))
            continue
        fm = _field_map(problems, target, value, at)
        if fm is not None:
            fields.append(
                FieldMap(
                    target=fm.target,
                    sources=source_ok(value["from"], join(at, "from")) or (),
                    scale=fm.scale,
                    split=fm.split,
                    json=fm.json,
                    mapping=fm.mapping,
                    null_values=fm.null_values,
                    start=source_ok(value["start"], join(at, "start")) or (),
                    end=source_ok(value["end"], join(at, "end")) or (),
                )
            )

    ids = {kind: source_ok(src, join("ids", kind)) or () for kind, src in v["ids"].items()}

    status: Values = v["status"]
    if status["from_http"] and status["field"]:
        problems.add(
            "status",
            "has both 'from_http' and 'field'; use either 'from_http' (derive from an HTTP code) or 'field' with 'map'",
        )
    if status["map"] and not status["field"] and "field" not in status.invalid:
        problems.add("status.map", "needs 'field'; add the source field whose values it maps")
    from_http = source_ok(status["from_http"], "status.from_http")
    status_field = source_ok(status["field"], "status.field")

    severity: Values = v["severity"]
    severity_field = source_ok(severity["field"], "severity.field")
    attrs: Values = v["attributes"]
    for i, src in enumerate(attrs["include"] or (), 1):
        source_ok(src, join("attributes.include", i))
    sniff: Values = v["sniff"]
    require = tuple(
        source_ok(src, join("sniff.require", i)) or () for i, src in enumerate(sniff["require"], 1)
    )
    warnings: list[str] = []
    if "sniff" not in v.given:
        warnings.append(
            "[sniff] is missing: the spec is chosen by sniffing only when no built-in parser fits"
            " as well, and never makes a file ambiguous; add [sniff] require = [...] with fields"
            " every line of the format has, or force it with --parser or [[sources]]"
        )

    problems.group(SPEC.names)
    problems.raise_if_any(where, SpecError)
    null_values: tuple[str, ...] | None = v["null_values"]
    return Spec(
        name=v["name"],
        layer=v["layer"],
        description=v["description"],
        reader=v["reader"],
        path=where,
        pattern=v["pattern"],
        columns=columns,
        header=v["header"],
        delimiter=v["delimiter"],
        null_values=null_values if null_values is not None else NULL_TOKENS,
        ts_field=ts_field,
        ts_formats=ts["formats"] or ("iso8601",),
        ts_timezone=ts["timezone"] or None,
        ts_required=ts["required"],
        ts_field_formats=dict(ts["field_formats"]),
        ts_date_from=ts["date_from"],
        ts_date=ts["date"],
        constants=dict(constants),
        fields=tuple(fields),
        ids=dict(ids),
        status_from_http=from_http,
        status_field=status_field,
        status_map=dict(status["map"]),
        severity_field=severity_field,
        severity_map=dict(severity["map"]),
        attr_include=attrs["include"],
        attr_exclude=attrs["exclude"],
        sniff_require=require,
        warnings=tuple(warnings),
    )


def _check_date_from(problems: Problems, ts: Values) -> None:
    formats: tuple[str, ...] = tuple(ts["formats"]) + tuple(
        f for fmts in ts["field_formats"].values() for f in fmts
    )
    time_only = [f for f in formats if "%" in f and not has_date(f)]
    date_from: str | None = ts["date_from"]
    if time_only and date_from is None and "date_from" not in ts.invalid:
        problems.add(
            "timestamp.date_from",
            f"is required: format {time_only[0]!r} has no date; add date_from = 'previous_line'"
            " (the date of the nearest earlier line with a full date) or date_from = 'setting'"
            " with date = 'YYYY-MM-DD'",
        )
    if date_from is not None and not time_only:
        problems.add(
            "timestamp.date_from",
            "only applies to time-only formats such as '%H:%M:%S'; remove it",
        )
    if date_from == "previous_line" and len(time_only) == len(formats):
        problems.add(
            "timestamp.formats",
            "has no format with a date for date_from = 'previous_line'; add the full format of"
            " the lines that carry the date, such as '%Y-%m-%d %H:%M:%S'",
        )
    if date_from == "setting" and ts["date"] is None and "date" not in ts.invalid:
        problems.add(
            "timestamp.date", "is required by date_from = 'setting'; add date = 'YYYY-MM-DD'"
        )
    if ts["date"] is not None and date_from != "setting":
        problems.add("timestamp.date", "is only used with date_from = 'setting'; remove it")


def _check_pattern(problems: Problems, v: Values, reader: str | None) -> list[str] | None:
    pattern: str | None = v["pattern"]
    if reader != "regex":
        if pattern is not None and reader is not None:
            problems.add(
                "pattern", "is only used by reader = 'regex'; remove it or change the reader"
            )
        return None
    if pattern is None:
        if "pattern" not in v.invalid:
            problems.add("pattern", f"is required by reader 'regex'; add {_PATTERN}")
        return None
    groups = _GROUP.findall(pattern)
    if not groups:
        problems.add(
            "pattern", "has no named capture groups; use named groups like '^(?P<my_key>.*)$'"
        )
        return None
    try:
        pl.DataFrame({"l": ["x"]}).select(pl.col("l").str.extract_groups(pattern))
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        problems.add(
            "pattern",
            f"is not a valid regular expression ({first}); look-around and back-references are not supported",
        )
        return None
    for g in groups:
        if g.startswith("_"):
            problems.add("pattern", f"group name {g!r} starts with '_' (reserved); rename it")
    return groups


def _known_fields(
    reader: str | None, groups: list[str] | None, columns: tuple[str, ...]
) -> set[str] | None:
    if reader == "regex":
        return set(groups) if groups is not None else None
    if reader == "csv":
        return set(columns) if columns else None
    return None  # jsonl and logfmt fields are open-ended


def _field_map(problems: Problems, target: str, value: Values, at: str) -> FieldMap | None:
    kind = FIELDS_BY_NAME[target].kind if target in FIELDS_BY_NAME else "string"
    scale: float | None = value["scale"]
    if scale is not None and kind not in ("int64", "float64"):
        problems.add(
            join(at, "scale"),
            f"only applies to numeric fields, and {target!r} is {kind}; remove it",
        )
    if (value["split"] or value["json"]) and not kind.startswith("list"):
        key = "split" if value["split"] else "json"
        problems.add(
            join(at, key),
            f"only applies to list fields, and {target!r} is {kind}; remove it",
        )
    span = value["start"] is not None or value["end"] is not None
    if span:
        if value["from"] is not None:
            problems.add(at, "has both 'from' and 'start'/'end'; use 'from', or 'start' and 'end'")
            return None
        if value["start"] is None or value["end"] is None:
            missing = "start" if value["start"] is None else "end"
            problems.add(
                join(at, missing),
                "is required with "
                + ("'end'" if missing == "start" else "'start'")
                + "; a duration needs both timestamps, such as { start = 'start_time', end = 'end_time' }",
            )
            return None
        if kind not in ("int64", "float64"):
            problems.add(
                join(at, "start"),
                f"a duration only fits numeric fields, and {target!r} is {kind}; use duration_ms",
            )
            return None
    elif value["from"] is None:
        if "from" not in value.invalid:
            problems.add(
                join(at, "from"),
                "is required; add the source field name, or start and end for a duration",
            )
        return None
    return FieldMap(
        target=target,
        sources=(),
        scale=scale,
        split=value["split"],
        json=value["json"],
        mapping=dict(value["map"]),
        null_values=value["null_values"],
    )
