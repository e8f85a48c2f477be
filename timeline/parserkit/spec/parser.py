"""A parser plugin made from a declarative spec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason, http_status, severity
from timeline.parserkit.ids import id_list
from timeline.parserkit.kv import kv_list
from timeline.parserkit.spec.model import FieldMap, Sources, Spec, load_spec
from timeline.parserkit.spec.readers import Extracted, extract
from timeline.parserkit.text import nullify
from timeline.parserkit.timestamps import Parsed, has_date, has_year, parse_any, parse_pattern
from timeline.schema import FIELDS_BY_NAME

SNIFF_LINES = 64
DATE_FROM_ATTRIBUTE = "ts_date_from"
"""Attribute set on events whose time-only timestamp took its date from ``date_from``."""


class SpecParser:
    """Implements the parser API for a :class:`~timeline.parserkit.spec.model.Spec`."""

    multiline = False

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.name = spec.name
        self.layer = spec.layer
        self.description = spec.description
        formats = spec.ts_formats + tuple(f for fs in spec.ts_field_formats.values() for f in fs)
        dated = [f for f in formats if spec.ts_date_from is None or "%" not in f or has_date(f)]
        self.needs_year = (
            spec.ts_field is not None
            and bool(dated)
            and not any(has_year(f) for f in dated if "%" in f)
            and not any("%" not in f for f in dated)
        )

    @classmethod
    def from_file(cls, path: str | Path) -> SpecParser:
        """Load and validate the spec at ``path``."""
        return cls(load_spec(path))

    def __repr__(self) -> str:
        return f"SpecParser({self.spec.name!r}, {self.spec.path!r})"

    # -- sniff ---------------------------------------------------------------------------------
    def sniff(self, sample: Sample) -> float:
        """Fraction of sample lines that the reader accepts, with a timestamp and required fields."""
        if not sample.lines:
            return 0.0
        lines = sample.frame().head(SNIFF_LINES)
        ex = extract(self.spec, lines)
        ok = pl.col("_ok")
        for alts in self.spec.sniff_require:
            ok = ok & pl.any_horizontal([pl.col(src).is_not_null() for src in alts])
        frame = ex.frame
        if self.spec.ts_field is not None and self.spec.ts_required:
            year = 2000 if self.needs_year else None  # any leap year will do for a fit test
            ts = _event_time(self.spec, "UTC", year, None)
            frame = ts.prepared(frame)
            ok = ok & ts.parsed.ts.is_not_null()
        if self.spec.reader == "csv" and self.spec.header:
            frame = frame.slice(1)
        if frame.height == 0:
            return 0.0
        return float(frame.select(ok.mean()).item() or 0.0)

    # -- parse ---------------------------------------------------------------------------------
    def parse(self, source: Source) -> ParseResult:
        """Parse one chunk of lines."""
        spec = self.spec
        lines = source.lines
        skipped = pl.DataFrame(schema={"source_line": pl.Int64, "reason": pl.String})
        if spec.reader == "csv" and spec.header:
            header = lines.filter(pl.col("source_line") == 1)
            skipped = marks(header, "csv header")
            lines = lines.filter(pl.col("source_line") != 1)
        ex = extract(spec, lines)
        frame = pl.concat([lines.select("source_line", "line"), ex.frame], how="horizontal")

        cases: list[tuple[pl.Expr, str]] = [(~pl.col("_ok"), ex.not_ok_reason)]
        ts_exprs: list[pl.Expr] = []
        # A rule for this file wins, then the format's own zone, then the build's default.
        zone = source.settings.timezone
        if spec.ts_timezone is not None and source.settings.timezone_origin != "rule":
            zone = spec.ts_timezone
        if spec.ts_field is not None:
            ts = _event_time(spec, zone, source.settings.year, spec.null_values)
            frame = ts.prepared(frame)
            ts_exprs = [
                ts.parsed.ts.alias("ts_source"),
                ts.text.alias("ts_raw"),
                ts.parsed.assumed_tz.alias("ts_assumed_tz"),
            ]
            if ts.dated_by is not None:
                ts_exprs.append(ts.dated_by.alias("_ts_date_from"))
            if spec.ts_required:
                cases += ts.reasons
        for fm in spec.fields:
            if fm.start:
                fmts = list(spec.ts_formats)
                start, _ = _timestamp(
                    spec, _pick(fm.start, spec.null_values), fmts, zone, source.settings.year
                )
                end, _ = _timestamp(
                    spec, _pick(fm.end, spec.null_values), fmts, zone, source.settings.year
                )
                ms = (end.ts - start.ts).dt.total_microseconds() / 1000.0
                ts_exprs.append(ms.alias(f"_span_{fm.target}"))
        frame = frame.with_columns(first_reason(cases).alias("_reason"), *ts_exprs)
        bad = frame.filter(pl.col("_reason").is_not_null())
        good = frame.filter(pl.col("_reason").is_null())
        events = good.select(self._event_columns(ex, good.columns))
        return ParseResult(
            events=events,
            rejects=bad.select("source_line", pl.col("_reason").alias("reason")),
            skipped=skipped,
        )

    def _event_columns(self, ex: Extracted, columns: list[str]) -> list[pl.Expr]:
        spec = self.spec
        out: list[pl.Expr] = [pl.col("source_line")]
        if spec.ts_field is not None:
            out += [pl.col("ts_source"), pl.col("ts_raw"), pl.col("ts_assumed_tz")]
        mapped: set[str] = set()
        targets: set[str] = set()
        for fm in spec.fields:
            out.append(_convert(fm, spec.null_values).alias(fm.target))
            mapped.update(fm.sources + fm.start + fm.end)
            targets.add(fm.target)
        for target, value in spec.constants.items():
            if target not in targets:
                out.append(pl.lit(value).alias(target))
                targets.add(target)
        if "layer" not in targets:
            out.append(pl.lit(spec.layer).alias("layer"))
        if spec.ids:
            out.append(
                id_list({k: _pick(v, spec.null_values) for k, v in spec.ids.items()}).alias("ids")
            )
            for alts in spec.ids.values():
                mapped.update(alts)
        if spec.status_from_http:
            code = _pick(spec.status_from_http, spec.null_values).cast(pl.Int64, strict=False)
            out.append(http_status(code).alias("status"))
            if "status_code" not in targets:
                out.append(code.alias("status_code"))
        elif spec.status_field:
            out.append(_mapped(_pick(spec.status_field), spec.status_map).alias("status"))
        if spec.severity_field:
            level = _pick(spec.severity_field)
            custom = (
                _mapped(level, spec.severity_map, keep=False) if spec.severity_map else pl.lit(None)
            )
            out.append(pl.coalesce(custom, severity(level)).alias("severity"))
        for group in (spec.ts_field, spec.status_from_http, spec.status_field, spec.severity_field):
            mapped.update(group or ())
        out.append(self._attributes(ex, columns, mapped).alias("attributes"))
        return out

    def _attributes(self, ex: Extracted, columns: list[str], mapped: set[str]) -> pl.Expr:
        spec = self.spec
        exclude = mapped | set(spec.attr_exclude)
        if spec.attr_include is not None:
            names = [n for n in spec.attr_include if n in columns]
        elif ex.all_fields is not None:
            names = [n for n in ex.all_fields if n not in exclude]
        else:
            names = []
        pairs = kv_list({n: nullify(pl.col(n), spec.null_values) for n in names})
        if spec.ts_date_from is not None and spec.ts_field is not None:
            pairs = pl.concat_list(pairs, kv_list({DATE_FROM_ATTRIBUTE: pl.col("_ts_date_from")}))
        if ex.pairs_column is not None and spec.attr_include is None:
            rest = pl.col(ex.pairs_column).list.filter(
                ~pl.element().struct.field("key").is_in(sorted(exclude))
                & ~pl.element().struct.field("value").is_in(list(spec.null_values))
            )
            return rest if not names else pl.concat_list(pairs, rest)
        return pairs


def _mapped(expr: pl.Expr, mapping: dict[str, str], keep: bool = True) -> pl.Expr:
    if not mapping:
        return expr
    default = expr if keep else None
    return expr.replace_strict(mapping, default=default, return_dtype=pl.String)


def _pick(sources: Sources, null_values: tuple[str, ...] | None = None) -> pl.Expr:
    """The first present (non-null, not a null token) of alternative source fields."""
    if len(sources) == 1:
        col = pl.col(sources[0])
        return col if null_values is None else nullify(col, null_values)
    return pl.coalesce([nullify(pl.col(s), null_values or ()) for s in sources])


@dataclass(frozen=True)
class _EventTime:
    text: pl.Expr  # the first present alternative (ts_raw)
    parsed: Parsed
    dated_by: pl.Expr | None  # where a time-only value's date came from (date_from)
    reasons: list[tuple[pl.Expr, str]]  # reject cases, in order
    # Columns the expressions above read, computed first, one ``with_columns`` per stage.
    prepare: tuple[tuple[pl.Expr, ...], ...] = ()

    def prepared(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with the :attr:`prepare` columns."""
        for stage in self.prepare:
            frame = frame.with_columns(stage)
        return frame


_TS_TEXT = "__spec_ts_text"
_TS_FIRST = "__spec_ts_first"


def _event_time(
    spec: Spec, zone: str, year: int | None, null_values: tuple[str, ...] | None
) -> _EventTime:
    """The event time: the first present ``timestamp.field`` alternative, read with its formats
    (``field_formats``, else ``formats``); a present but unreadable value is not replaced by a
    later alternative."""
    assert spec.ts_field is not None
    alts = spec.ts_field
    texts = [_pick((a,), null_values) for a in alts]
    if spec.ts_date_from is None:
        return _first_time(spec, texts, zone, year)
    text = texts[0] if len(alts) == 1 else pl.coalesce(texts)
    reasons: list[tuple[pl.Expr, str]] = [(text.is_null(), f"missing timestamp field {alts[0]!r}")]
    parsed: list[Parsed] = []
    dated: list[pl.Expr | None] = []
    for alt, alt_text in zip(alts, texts, strict=True):
        fmts = list(spec.ts_field_formats.get(alt, spec.ts_formats))
        one, by = _timestamp(spec, alt_text, fmts, zone, year)
        parsed.append(one)
        dated.append(by)
        reason = f"timestamp {alt!r} does not match {' | '.join(fmts)}"
        if spec.ts_date_from == "previous_line" and any(not has_date(f) for f in fmts if "%" in f):
            reason += " (or no earlier line in the chunk had a full date)"
        # the first present alternative decides; first_reason keeps the first true case
        reasons.append((alt_text.is_not_null() & one.ts.is_null(), reason))
    if len(alts) == 1:
        return _EventTime(text, parsed[0], dated[0], reasons)
    present = [t.is_not_null() for t in texts]
    by_first = _by_first(present, [d if d is not None else pl.lit(None) for d in dated])
    combined = Parsed(
        _by_first(present, [p.ts for p in parsed]),
        _by_first(present, [p.assumed_tz for p in parsed]),
    )
    ts_null = combined.ts.is_null()
    reasons = reasons[:1] + [(ts_null & cond, text_) for cond, text_ in reasons[1:]]
    return _EventTime(text, combined, by_first if spec.ts_date_from else None, reasons)


def _first_time(spec: Spec, texts: list[pl.Expr], zone: str, year: int | None) -> _EventTime:
    """:func:`_event_time` without ``date_from``: only the first present alternative counts, so
    its text is read once with its formats (one parse per distinct list of formats, not one per
    alternative), from columns computed once."""
    assert spec.ts_field is not None
    alts = spec.ts_field
    text = texts[0] if len(alts) == 1 else pl.coalesce(texts)
    first = _by_first(
        [t.is_not_null() for t in texts], [pl.lit(i, dtype=pl.Int32) for i in range(len(alts))]
    )
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, alt in enumerate(alts):
        groups.setdefault(tuple(spec.ts_field_formats.get(alt, spec.ts_formats)), []).append(i)
    col_first = pl.col(_TS_FIRST)
    parsed_cols: list[pl.Expr] = []
    ts_parts: list[pl.Expr] = []
    assumed_parts: list[pl.Expr] = []
    for k, (fmts, members) in enumerate(groups.items()):
        mine = col_first.is_in(members) if len(groups) > 1 else pl.lit(True)
        one = parse_any(pl.when(mine).then(pl.col(_TS_TEXT)), list(fmts), zone, year)
        parsed_cols += [
            one.ts.alias(f"__spec_ts_{k}"),
            one.assumed_tz.alias(f"__spec_ts_{k}_assumed"),
        ]
        ts_parts.append(pl.col(f"__spec_ts_{k}"))
        assumed_parts.append(pl.when(mine).then(pl.col(f"__spec_ts_{k}_assumed")))
    ts = ts_parts[0] if len(ts_parts) == 1 else pl.coalesce(ts_parts)
    assumed = assumed_parts[0] if len(assumed_parts) == 1 else pl.coalesce(assumed_parts)
    reasons: list[tuple[pl.Expr, str]] = [
        (pl.col(_TS_TEXT).is_null(), f"missing timestamp field {alts[0]!r}")
    ]
    for i, alt in enumerate(alts):
        listed = spec.ts_field_formats.get(alt, spec.ts_formats)
        reason = f"timestamp {alt!r} does not match {' | '.join(listed)}"
        reasons.append((ts.is_null() & (col_first == i), reason))
    prepare = ((text.alias(_TS_TEXT), first.alias(_TS_FIRST)), tuple(parsed_cols))
    return _EventTime(pl.col(_TS_TEXT), Parsed(ts, assumed), None, reasons, prepare)


def _by_first(present: list[pl.Expr], values: list[pl.Expr]) -> pl.Expr:
    """The value of the first alternative that is present."""
    expr: pl.Expr = pl.lit(None)
    for cond, value in reversed(list(zip(present, values, strict=True))):
        expr = pl.when(cond).then(value).otherwise(expr)
    return expr


def _timestamp(
    spec: Spec, text: pl.Expr, formats: list[str], zone: str, year: int | None
) -> tuple[Parsed, pl.Expr | None]:
    """Parse ``text`` with the spec's formats; with ``date_from``, time-only formats take their
    date from the setting or from the nearest earlier line with a full date. Returns the parsed
    time and (with ``date_from``) where a time-only value's date came from, else None."""
    if spec.ts_date_from is None:
        return parse_any(text, formats, zone, year), None
    dated = [f for f in formats if "%" not in f or has_date(f)]
    time_only = [f for f in formats if f not in dated]
    full = parse_any(text, dated, zone, year) if dated else None
    if spec.ts_date_from == "setting" or full is None:
        day: pl.Expr = pl.lit(spec.ts_date, dtype=pl.String)
    else:
        day = full.ts.dt.convert_time_zone(zone).dt.strftime("%Y-%m-%d").forward_fill()
    value = day + pl.lit(" ") + text.str.strip_chars()
    parsed = [full] if full is not None else []
    parsed += [parse_pattern(value, "%Y-%m-%d " + f, zone) for f in time_only]
    ts = pl.coalesce([p.ts for p in parsed])
    assumed = pl.coalesce([pl.when(p.ts.is_not_null()).then(p.assumed_tz) for p in parsed])
    from_full = full.ts.is_not_null() if full is not None else pl.lit(False)
    dated_by = pl.when(~from_full & ts.is_not_null()).then(pl.lit(spec.ts_date_from))
    return Parsed(ts, assumed), dated_by


def _convert(fm: FieldMap, null_values: tuple[str, ...]) -> pl.Expr:
    kind = FIELDS_BY_NAME[fm.target].kind
    if fm.start:
        span = pl.col(f"_span_{fm.target}")
        span = span * fm.scale if fm.scale is not None else span
        return span.round(0).cast(pl.Int64) if kind == "int64" else span
    value = _pick(fm.sources, fm.null_values if fm.null_values is not None else null_values)
    if fm.mapping:
        value = _mapped(value, fm.mapping)
    if kind == "int64":
        num = value.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
        if fm.scale is not None:
            num = num * fm.scale
        return num.round(0).cast(pl.Int64, strict=False)
    if kind == "float64":
        num = value.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
        return num * fm.scale if fm.scale is not None else num
    if kind == "bool":
        low = value.str.to_lowercase()
        return (
            pl.when(low.is_in(["true", "1", "yes"]))
            .then(True)
            .when(low.is_in(["false", "0", "no"]))
            .then(False)
        )
    if kind.startswith("list"):
        inner = pl.Float64 if kind == "list<float64>" else pl.String
        if fm.json:
            valid = value.str.starts_with("[") & value.str.json_path_match("$").is_not_null()
            return pl.when(valid).then(value).str.json_decode(pl.List(inner))
        sep = fm.split or ","
        items = (
            value.str.split(sep)
            .list.eval(pl.element().str.strip_chars())
            .list.filter(pl.element() != "")
        )
        return items.cast(pl.List(inner), strict=False)
    return value
