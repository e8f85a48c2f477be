"""Vectorized timestamp parsing: text columns to UTC ``Datetime[us]`` with polars expressions.

Formats, by name:

* ``iso8601``: ``2025-03-02T10:15:04.123Z``, ``2025-03-02 10:15:04,123+0100``,
  ``...+01:00``, ``... UTC``, with or without fraction (up to nanoseconds) and offset;
* ``epoch_s`` / ``epoch_ms`` / ``epoch_us`` / ``epoch_ns``: numbers or numeric strings,
  fractions allowed;
* anything else is a strptime pattern (``%d/%b/%Y:%H:%M:%S %z``). A pattern without a year
  (``%m-%d %H:%M:%S``) takes the source's configured or inferred year.

:func:`parse_guess` reads a field that services fill either way: ISO 8601 text or an epoch number
whose unit its number of digits tells.

A timestamp without an offset is read in the source's zone (default UTC) and flagged as assumed.

Every parse also says how precise the text was (:func:`precision_ms`, the ``precision_ms`` of
:class:`Parsed`): the width in milliseconds of the interval ``[ts, ts + precision)`` the true time
lies in, 1000 for whole seconds, 1 for milliseconds, 0.001 for microseconds.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Final

import polars as pl

NAMED_FORMATS: Final = ("iso8601", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns")
_EPOCH_SCALE: Final = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1, "epoch_ns": None}
_UTC: Final = pl.Datetime("us", "UTC")


def _no_precision() -> pl.Expr:
    return pl.lit(None, dtype=pl.Float64)


@dataclass(frozen=True)
class Parsed:
    """Expressions: the UTC timestamp (null when unparseable), whether the zone was assumed, and
    the precision of the text in milliseconds (null when unknown; see :func:`precision_ms`)."""

    ts: pl.Expr
    assumed_tz: pl.Expr
    precision_ms: pl.Expr = field(default_factory=_no_precision)
    # A struct holding ``ts`` and ``assumed`` (and the steps' fields), when the parse builds one:
    # :func:`with_parsed` evaluates it once for both columns.
    steps: pl.Expr | None = None


def with_parsed(frame: pl.DataFrame, parsed: Parsed, ts: str, assumed_tz: str) -> pl.DataFrame:
    """``frame`` with columns ``ts`` and ``assumed_tz`` of ``parsed``, the parse evaluated once
    when it can be (selecting ``parsed.ts`` and ``parsed.assumed_tz`` evaluates it twice)."""
    if parsed.steps is None:
        return frame.with_columns(parsed.ts.alias(ts), parsed.assumed_tz.alias(assumed_tz))
    both = frame.select(parsed.steps.alias("_parsed")).get_column("_parsed")
    return frame.with_columns(
        both.struct.field("ts").alias(ts), both.struct.field("assumed").alias(assumed_tz)
    )


# Digits of an epoch number's integral part -> its unit (seconds until 2286 have 10 digits).
_EPOCH_BY_DIGITS: Final = ((11, "epoch_s"), (14, "epoch_ms"), (17, "epoch_us"), (20, "epoch_ns"))
# Milliseconds per unit of an epoch number's integral part.
_EPOCH_UNIT_MS: Final = {"epoch_s": 1000.0, "epoch_ms": 1.0, "epoch_us": 1e-3, "epoch_ns": 1e-6}
# Time of day with seconds and an optional fraction (``10:15:04``, ``10:15:04,123``).
_HMS: Final = r"\d{1,2}:\d{2}:\d{2}(?:[.,](\d+))?"
_HM: Final = r"\d{1,2}:\d{2}"
_EPOCH: Final = r"^\s*-?(\d+)(?:\.(\d+))?\s*$"


def _fraction(unit_ms: pl.Expr, digits: pl.Expr) -> pl.Expr:
    """``unit_ms`` divided by 10 per fraction digit (at most nanoseconds: 9 digits)."""
    return unit_ms / pl.lit(10.0).pow(digits.fill_null(0).clip(0, 9).cast(pl.Float64))


def epoch_precision_ms(text: pl.Expr, unit: str) -> pl.Expr:
    """Precision of an epoch number in ``unit`` (``epoch_s`` ...): the unit, divided by ten per
    fraction digit (``1709374504`` s: 1000 ms; ``1709374504.12``: 10 ms). Null when not a number."""
    parts = text.cast(pl.String).str.extract_groups(_EPOCH)
    digits = parts.struct.field("2").str.len_chars()
    value = _fraction(pl.lit(_EPOCH_UNIT_MS[unit]), digits)
    return pl.when(parts.struct.field("1").is_not_null()).then(value)


def precision_ms(text: pl.Expr) -> pl.Expr:
    """How precise a timestamp's text is, in milliseconds, from the text alone (null when the text
    shows no time):

    * a time of day with seconds: 1000, divided by ten per fraction digit (``10:15:04`` 1000,
      ``10:15:04.123`` 1, ``10:15:04,123456`` 0.001, nanoseconds 1e-6);
    * a time of day without seconds (``10:15``): 60000;
    * an epoch number: its unit told by its integral digits as :func:`parse_guess` reads it (up to
      11 seconds, 14 ms, 17 µs, 20 ns), divided by ten per fraction digit;
    * a date alone (``2025-03-02``): one day.

    Formats whose unit the text cannot tell (an epoch in ms with 10 digits, ``%Y%m%d%H%M%S``)
    set their precision from the format: :func:`parse_epoch` and :func:`parse_pattern` do."""
    value = text.cast(pl.String)
    hms = value.str.extract(_HMS, 0)
    frac = value.str.extract(_HMS, 1).str.len_chars()
    epoch = value.str.extract_groups(_EPOCH)
    int_digits = epoch.struct.field("1").str.len_chars()
    unit: pl.Expr = pl.lit(None, dtype=pl.Float64)
    for most, name in reversed(_EPOCH_BY_DIGITS):
        unit = pl.when(int_digits <= most).then(pl.lit(_EPOCH_UNIT_MS[name])).otherwise(unit)
    epoch_ms = _fraction(unit, epoch.struct.field("2").str.len_chars())
    return (
        pl.when(hms.is_not_null())
        .then(_fraction(pl.lit(1000.0), frac))
        .when(epoch.struct.field("1").is_not_null())
        .then(epoch_ms)
        .when(value.str.contains(_HM))
        .then(pl.lit(60_000.0))
        .when(value.str.contains(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\w{3}/\d{4}"))
        .then(pl.lit(86_400_000.0))
        .cast(pl.Float64)
    )


def pattern_precision_ms(text: pl.Expr, pattern: str) -> pl.Expr:
    """Precision of a timestamp read with a strptime ``pattern``: the fraction's digits after a
    ``%f`` (the last ``.digits`` / ``,digits`` of the text), else seconds (``%S``, ``%T``, ``%s``
    ...), minutes (``%M``, ``%R``), hours (``%H``, ``%I``) or a day."""
    value = text.cast(pl.String)
    if "%f" in pattern or "%.f" in pattern or re.search(r"%[0-9]f", pattern):
        frac = value.str.extract_all(r"[.,]\d+").list.last().str.len_chars() - 1
        return _fraction(pl.lit(1000.0), frac)
    if "%s" in pattern:
        return epoch_precision_ms(value.str.extract(r"(-?\d+(?:\.\d+)?)", 1), "epoch_s")
    if "%+" in pattern:
        return precision_ms(value)
    for tokens, ms in (
        (("%S", "%T", "%X", "%r", "%c"), 1000.0),
        (("%M", "%R"), 60_000.0),
        (("%H", "%I", "%k", "%l"), 3_600_000.0),
    ):
        if any(t in pattern for t in tokens):
            return pl.lit(ms, dtype=pl.Float64)
    return pl.lit(86_400_000.0, dtype=pl.Float64)


def has_year(pattern: str) -> bool:
    """Whether a strptime pattern carries a year."""
    return any(tok in pattern for tok in ("%Y", "%y", "%G", "%s", "%+", "%c", "%D", "%F"))


def has_offset(pattern: str) -> bool:
    """Whether a strptime pattern carries a UTC offset."""
    return any(tok in pattern for tok in ("%z", "%:z", "%#z", "%+"))


def check_timezone(name: str) -> str | None:
    """Return an error text when ``name`` is not an IANA zone, else None."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
    return None


def has_date(pattern: str) -> bool:
    """Whether a strptime pattern carries a day (a pattern without one is time-only)."""
    return any(
        tok in pattern for tok in ("%d", "%e", "%j", "%s", "%+", "%c", "%D", "%F", "%x", "%U", "%W")
    )


def to_chrono(pattern: str) -> str:
    """A Python strptime pattern in chrono's dialect (what polars reads).

    Python's ``%f`` after a dot is a fraction of up to 6 digits zero-padded on the right
    (``.6`` = 600 ms, ``.648712`` = 648712 µs); chrono's ``%f`` counts nanoseconds instead, so
    ``.%f`` becomes chrono's ``%.f`` (a fraction of any precision, read exactly). Python's
    ``%z`` also accepts ``Z`` (see :func:`parse_pattern`). ``%j``, ``%b``, ``%p``, ``%y``,
    ``%I`` mean the same in both."""
    return pattern.replace(".%f", "%.f")


def check_format(fmt: str) -> str | None:
    """Return an error text when ``fmt`` is neither a named format nor a usable strptime pattern."""
    if fmt in NAMED_FORMATS:
        return None
    if "%" not in fmt:
        named = ", ".join(NAMED_FORMATS)
        return (
            f"timestamp format {fmt!r} is neither a named format ({named}) nor a strptime pattern"
        )
    if "%f" in fmt.replace(".%f", ""):
        return (
            f"timestamp format {fmt!r} has '%f' without a dot before it; write the fraction as"
            " '%S.%f' (microseconds, as Python reads them), or use the named format 'iso8601'"
            " for ',123' fractions"
        )
    if "%.f" in fmt or re.search(r"%[0-9]f", fmt):
        return (
            f"timestamp format {fmt!r} uses chrono's fraction syntax; write it the Python way,"
            " '%S.%f' (read exactly, any number of digits)"
        )
    try:
        pl.DataFrame({"t": ["x"]}).select(pl.col("t").str.to_datetime(to_chrono(fmt), strict=False))
    except pl.exceptions.PolarsError as exc:
        return f"timestamp format {fmt!r} is not a valid strptime pattern: {exc}"
    return None


def _localize(naive: pl.Expr, timezone: str) -> pl.Expr:
    if timezone == "UTC":
        return naive.dt.replace_time_zone("UTC")
    return naive.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")


# Exact formats of the common ISO 8601 forms, read directly (see :func:`parse_iso8601`):
# ``2025-05-20T08:30:00.120Z`` (with any fraction or none) and ``...+02:00``.
_ISO_FAST: Final = ("%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%dT%H:%M:%S%.f%:z")
# Whole epoch numbers :func:`parse_guess` reads directly: up to 11 digits seconds, 14 ms.
_EPOCH_FAST: Final = r"^[0-9]{1,14}$"

# The parses below are built as one struct, a field per step (``steps``): a struct field read
# several times is computed once, where an expression used twice is evaluated twice. Each step
# reads only the texts the steps before it left unread (null to it, which costs next to nothing).


def _field_when_null(done: str, value: str) -> pl.Expr:
    """Field ``value`` where field ``done`` is null; else null."""
    return pl.when(pl.field(done).is_null()).then(pl.field(value))


def _to_utc(text: pl.Expr, fmt: str) -> pl.Expr:
    return text.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")


def _iso_fast(steps: pl.Expr) -> pl.Expr:
    """``steps`` with field ``fast``: the instant of the common ISO 8601 forms of field ``text``
    (:data:`_ISO_FAST`, each format on the texts the ones before it did not read), null for the
    others; the instant the general path reads from them, at a fraction of its cost."""
    steps = steps.struct.with_fields(_to_utc(pl.field("text"), _ISO_FAST[0]).alias("fast"))
    for fmt in _ISO_FAST[1:]:
        steps = steps.struct.with_fields(
            pl.coalesce(pl.field("fast"), _to_utc(_field_when_null("fast", "text"), fmt)).alias(
                "fast"
            )
        )
    return steps


def _iso_general(steps: pl.Expr, timezone: str) -> pl.Expr:
    """``steps`` with fields ``iso_ts`` and ``iso_assumed``: field ``rest`` (ISO 8601 text and
    its log variants) normalized and read, with an offset or else in ``timezone``."""
    norm = (
        pl.field("rest")
        .str.strip_chars()
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]", "${1}T")
        .str.replace(r"(T\d{2}:\d{2}:\d{2}),(\d+)", "${1}.${2}")
        .str.replace(r"(?:[Zz]| ?UTC| ?GMT)$", "+00:00")
        .str.replace(r" ?([+-]\d{2}):?(\d{2})$", "${1}:${2}")
    )
    naive = _localize(
        _field_when_null("aware", "norm").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us"
        ),
        timezone,
    )
    aware = pl.field("aware")
    return (
        steps.struct.with_fields(norm.alias("norm"))
        .struct.with_fields(_to_utc(pl.field("norm"), "%Y-%m-%dT%H:%M:%S%.f%:z").alias("aware"))
        .struct.with_fields(naive.alias("naive"))
        .struct.with_fields(
            pl.coalesce(aware, pl.field("naive")).alias("iso_ts"),
            pl.when(aware.is_not_null())
            .then(False)
            .when(pl.field("naive").is_not_null())
            .then(True)
            .alias("iso_assumed"),
        )
    )


def _parsed(text: pl.Expr, steps: pl.Expr) -> Parsed:
    """:class:`Parsed` of the fields ``ts`` and ``assumed`` of ``steps``, built on ``text``."""
    ts = steps.struct.field("ts")
    name = text.meta.output_name(raise_if_undetermined=False)
    return Parsed(
        ts if name is None else ts.alias(name),
        steps.struct.field("assumed"),
        pl.when(ts.is_not_null()).then(precision_ms(text)),
        steps,
    )


def parse_iso8601(text: pl.Expr, timezone: str = "UTC") -> Parsed:
    """ISO 8601 / RFC 3339 and their common log variants.

    The common forms (``2025-05-20T08:30:00.120Z``, ``...+02:00``) are read with one exact
    format each; the general path (normalize, then read) runs on the other texts only."""
    steps = _iso_fast(pl.struct(text.alias("text")))
    steps = steps.struct.with_fields(_field_when_null("fast", "text").alias("rest"))
    steps = _iso_general(steps, timezone).struct.with_fields(
        pl.coalesce(pl.field("fast"), pl.field("iso_ts")).alias("ts"),
        pl.when(pl.field("fast").is_not_null())
        .then(False)
        .otherwise(pl.field("iso_assumed"))
        .alias("assumed"),
    )
    return _parsed(text, steps)


def parse_epoch(text: pl.Expr, unit: str) -> Parsed:
    """Epoch numbers (or numeric strings) in seconds, ms, µs or ns; fractions allowed."""
    parts = (
        text.cast(pl.String)
        .str.strip_chars()
        .str.extract_groups(r"^(?P<int>-?\d+)(?:\.(?P<frac>\d+))?$")
    )
    whole = parts.struct.field("int").cast(pl.Int64, strict=False)
    frac_text = parts.struct.field("frac").fill_null("0")
    frac = ("0." + frac_text).cast(pl.Float64, strict=False)
    scale = _EPOCH_SCALE[unit]
    if scale is None:  # nanoseconds
        micros = whole // 1_000
    else:
        micros = whole * scale + (frac * scale).round(0).cast(pl.Int64)
    ts = micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return Parsed(ts, pl.lit(False), pl.when(ts.is_not_null()).then(epoch_precision_ms(text, unit)))


def parse_pattern(
    text: pl.Expr, pattern: str, timezone: str = "UTC", year: int | None = None
) -> Parsed:
    """A strptime pattern. Without a year in the pattern, ``year`` is prepended (null if unknown)."""
    value = text.str.strip_chars()
    precision = pattern_precision_ms(value, pattern)
    fmt = to_chrono(pattern)
    if fmt.endswith("%z"):  # Python's %z reads Z as +00:00; chrono does not
        value = value.str.replace(r"[Zz]$", "+00:00")
    if not has_year(pattern):
        if year is None:
            return Parsed(pl.lit(None, dtype=_UTC), pl.lit(None, dtype=pl.Boolean))
        value = pl.lit(f"{year:04d} ") + value
        fmt = "%Y " + fmt
    if has_offset(pattern):
        ts = value.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
        return Parsed(
            ts, pl.when(ts.is_not_null()).then(False), pl.when(ts.is_not_null()).then(precision)
        )
    ts = _localize(value.str.to_datetime(fmt, strict=False, time_unit="us"), timezone)
    return Parsed(
        ts, pl.when(ts.is_not_null()).then(True), pl.when(ts.is_not_null()).then(precision)
    )


def parse_any(
    text: pl.Expr, formats: list[str], timezone: str = "UTC", year: int | None = None
) -> Parsed:
    """Try ``formats`` in order; the first that parses a value wins."""
    parsed: list[Parsed] = []
    for fmt in formats:
        if fmt == "iso8601":
            parsed.append(parse_iso8601(text, timezone))
        elif fmt in _EPOCH_SCALE:
            parsed.append(parse_epoch(text, fmt))
        else:
            parsed.append(parse_pattern(text, fmt, timezone, year))
    if len(parsed) == 1:
        return parsed[0]
    ts = pl.coalesce([p.ts for p in parsed])
    assumed = pl.coalesce([pl.when(p.ts.is_not_null()).then(p.assumed_tz) for p in parsed])
    precision = pl.coalesce([pl.when(p.ts.is_not_null()).then(p.precision_ms) for p in parsed])
    return Parsed(ts, assumed, precision)


def parse_guess(text: pl.Expr, timezone: str = "UTC") -> Parsed:
    """ISO 8601 text, or an epoch number whose unit its number of integral digits tells:
    up to 11 seconds, 14 milliseconds, 17 microseconds, 20 nanoseconds (fractions allowed).

    The common forms (ISO 8601 as :func:`parse_iso8601` reads them fast, whole epoch seconds
    and milliseconds) are read directly; the general path runs on the other texts only."""
    whole = pl.when(pl.field("text").str.contains(_EPOCH_FAST)).then(pl.field("text"))
    scale = pl.when(whole.str.len_bytes() <= 11).then(1_000_000).otherwise(1_000)
    epoch_fast = (
        (whole.cast(pl.Int64, strict=False) * scale)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    steps = pl.struct(text.alias("text")).struct.with_fields(epoch_fast.alias("epoch_fast"))
    steps = _iso_fast(
        steps.struct.with_fields(_field_when_null("epoch_fast", "text").alias("text"))
    )
    steps = steps.struct.with_fields(
        pl.coalesce(pl.field("epoch_fast"), pl.field("fast")).alias("fast"),
    ).struct.with_fields(_field_when_null("fast", "text").alias("rest"))
    steps = _iso_general(steps, timezone)
    epoch_text = _field_when_null("iso_ts", "rest")
    digits = epoch_text.str.extract(r"^(\d+)(?:\.\d+)?$", 1).str.len_chars()
    epoch: pl.Expr = pl.lit(None, dtype=_UTC)
    for most, unit in reversed(_EPOCH_BY_DIGITS):
        epoch = pl.when(digits <= most).then(parse_epoch(epoch_text, unit).ts).otherwise(epoch)
    steps = steps.struct.with_fields(epoch.alias("epoch")).struct.with_fields(
        pl.coalesce(pl.field("fast"), pl.field("iso_ts"), pl.field("epoch")).alias("ts"),
        pl.when(pl.field("fast").is_not_null())
        .then(False)
        .when(pl.field("iso_ts").is_not_null())
        .then(pl.field("iso_assumed"))
        .when(pl.field("epoch").is_not_null())
        .then(False)
        .alias("assumed"),
    )
    return _parsed(text, steps)
