"""A parser plugin made from a declarative spec."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason, http_status, id_list, kv_list, nullify, severity
from timeline.parserkit.spec.model import FieldMap, Spec, load_spec
from timeline.parserkit.spec.readers import Extracted, extract
from timeline.parserkit.timestamps import has_year, parse_any
from timeline.schema import FIELDS_BY_NAME

SNIFF_LINES = 64


class SpecParser:
    """Implements the parser API for a :class:`~timeline.parserkit.spec.model.Spec`."""

    multiline = False

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.name = spec.name
        self.layer = spec.layer
        self.description = spec.description
        self.needs_year = (
            spec.ts_field is not None
            and not any(has_year(f) for f in spec.ts_formats if "%" in f)
            and not any("%" not in f for f in spec.ts_formats)
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
        for src in self.spec.sniff_require:
            ok = ok & pl.col(src).is_not_null()
        frame = ex.frame
        if self.spec.ts_field is not None and self.spec.ts_required:
            year = 2000 if self.needs_year else None  # any leap year will do for a fit test
            parsed = parse_any(pl.col(self.spec.ts_field), list(self.spec.ts_formats), "UTC", year)
            ok = ok & parsed.ts.is_not_null()
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
        if spec.ts_field is not None:
            ts_text = nullify(pl.col(spec.ts_field), spec.null_values)
            parsed = parse_any(
                ts_text,
                list(spec.ts_formats),
                source.settings.timezone or spec.ts_timezone,
                source.settings.year,
            )
            ts_exprs = [
                parsed.ts.alias("ts_source"),
                ts_text.alias("ts_raw"),
                parsed.assumed_tz.alias("ts_assumed_tz"),
            ]
            if spec.ts_required:
                fmts = " | ".join(spec.ts_formats)
                cases.append((ts_text.is_null(), f"missing timestamp field {spec.ts_field!r}"))
                cases.append(
                    (parsed.ts.is_null(), f"timestamp {spec.ts_field!r} does not match {fmts}")
                )
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
            mapped.add(fm.source)
            targets.add(fm.target)
        for target, value in spec.constants.items():
            if target not in targets:
                out.append(pl.lit(value).alias(target))
                targets.add(target)
        if "layer" not in targets:
            out.append(pl.lit(spec.layer).alias("layer"))
        if spec.ids:
            out.append(
                id_list(
                    {k: nullify(pl.col(v), spec.null_values) for k, v in spec.ids.items()}
                ).alias("ids")
            )
            mapped.update(spec.ids.values())
        if spec.status_from_http:
            code = nullify(pl.col(spec.status_from_http), spec.null_values).cast(
                pl.Int64, strict=False
            )
            out.append(http_status(code).alias("status"))
            if "status_code" not in targets:
                out.append(code.alias("status_code"))
        elif spec.status_field:
            out.append(_mapped(pl.col(spec.status_field), spec.status_map).alias("status"))
        if spec.severity_field:
            level = pl.col(spec.severity_field)
            custom = (
                _mapped(level, spec.severity_map, keep=False) if spec.severity_map else pl.lit(None)
            )
            out.append(pl.coalesce(custom, severity(level)).alias("severity"))
        mapped.update(
            x
            for x in (spec.ts_field, spec.status_from_http, spec.status_field, spec.severity_field)
            if x
        )
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


def _convert(fm: FieldMap, null_values: tuple[str, ...]) -> pl.Expr:
    kind = FIELDS_BY_NAME[fm.target].kind
    value = nullify(
        pl.col(fm.source), fm.null_values if fm.null_values is not None else null_values
    )
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
