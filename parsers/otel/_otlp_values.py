"""OTLP/JSON values as polars expressions: the vectorized twins of ``otlp_json/values.py``.

Every leaf of a document is decoded as text (``pl.read_ndjson`` with a String leaf gives numbers
and booleans as their JSON text). These expressions turn that text into what the Python walker
computes from the decoded value: ``json_text(any_value(v))``, ``as_int``, ``as_float``,
``as_bool``, ids, nanosecond times, span kinds and status codes. Inputs whose text cannot tell
what the Python value was (a float where an integer is expected, base64 ids, nested arrays and
key/value lists) are flagged by the caller and go to the Python walker instead.
"""

from __future__ import annotations

from typing import Final

import polars as pl

# The AnyValue struct every attribute value is decoded into (arrays of scalars decoded; nested
# arrays and key/value lists kept as text only to flag their documents).
SCALAR: Final = pl.Struct(
    {
        "stringValue": pl.String(),
        "boolValue": pl.String(),
        "intValue": pl.String(),
        "doubleValue": pl.String(),
        "arrayValue": pl.String(),
        "kvlistValue": pl.String(),
        "bytesValue": pl.String(),
    }
)
ANY_VALUE: Final = pl.Struct(
    {
        "stringValue": pl.String(),
        "boolValue": pl.String(),
        "intValue": pl.String(),
        "doubleValue": pl.String(),
        "arrayValue": pl.Struct({"values": pl.List(SCALAR)}),
        "kvlistValue": pl.String(),
        "bytesValue": pl.String(),
    }
)
KEY_VALUE: Final = pl.Struct({"key": pl.String(), "value": ANY_VALUE})
ATTRIBUTES: Final = pl.List(KEY_VALUE)
# A log record's body: as ``ANY_VALUE``, with a key/value list decoded one level deep (a deeper
# one fails the decode: its document goes to the Python walker).
BODY: Final = pl.Struct(
    {
        **{name: dtype for name, dtype in ANY_VALUE.to_schema().items() if name != "kvlistValue"},
        "kvlistValue": pl.Struct({"values": ATTRIBUTES}),
    }
)
_SCOPE_DTYPE: Final = pl.Struct(
    {"name": pl.String(), "version": pl.String(), "attributes": ATTRIBUTES}
)
_LOG_RECORD: Final = pl.Struct(
    {
        "timeUnixNano": pl.String(),
        "observedTimeUnixNano": pl.String(),
        "severityNumber": pl.String(),
        "severityText": pl.String(),
        "eventName": pl.String(),
        "body": BODY,
        "attributes": ATTRIBUTES,
        "traceId": pl.String(),
        "spanId": pl.String(),
    }
)
RESOURCE_LOGS: Final = pl.List(
    pl.Struct(
        {
            "resource": pl.Struct({"attributes": ATTRIBUTES}),
            "scopeLogs": pl.List(
                pl.Struct({"scope": _SCOPE_DTYPE, "logRecords": pl.List(_LOG_RECORD)})
            ),
        }
    )
)

INT_RE: Final = r"^-?\d{1,20}$"
_SPAN_KINDS: Final = {
    "1": "internal",
    "2": "server",
    "3": "client",
    "4": "producer",
    "5": "consumer",
}


def int_text(text: pl.Expr) -> pl.Expr:
    """``str(_int(text))``: decimal text without leading zeros, null unless ``-?\\d{1,20}``.

    One chain of steps (no sub-expression used twice: eager polars would compute it again)."""
    valid = text.str.strip_chars().str.extract(r"^(-?\d{1,20})$")
    return valid.str.replace(r"^(-?)0+(\d)", "${1}${2}").replace("-0", "0")


def finite(text: pl.Expr) -> pl.Expr:
    """The number in ``text`` as a finite Float64, else null (``_float`` of a string)."""
    value = text.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def float_text(value: pl.Series) -> pl.Series:
    """Python's ``repr`` of finite floats (null stays null).

    polars writes the shortest round-trip digits as Python does, except below 1e-4, where
    Python switches to ``1e-05`` notation: those (rare) values are written by Python."""
    text = value.cast(pl.String)
    small = (value.abs() < 1e-4) & (value != 0.0)
    if bool(small.fill_null(False).any()):
        where = small.fill_null(False)
        fixed = pl.Series([repr(v) for v in value.filter(where).to_list()], dtype=pl.String)
        text = text.scatter(pl.int_range(value.len(), eager=True).filter(where), fixed)
    return text


def value_kind(value: pl.Expr) -> pl.Expr:
    """Which AnyValue member holds the value: s | b | i | d | a | k | y, null when none."""
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for field, code in reversed(
        (
            ("stringValue", "s"),
            ("boolValue", "b"),
            ("intValue", "i"),
            ("doubleValue", "d"),
            ("arrayValue", "a"),
            ("kvlistValue", "k"),
            ("bytesValue", "y"),
        )
    ):
        expr = pl.when(value.struct.field(field).is_not_null()).then(pl.lit(code)).otherwise(expr)
    return expr


_BASE64: Final = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def _base64_hex(raw: pl.Expr) -> pl.Expr:
    """The bytes of canonical base64 text as lowercase hex (null where polars does not decode it)."""
    decoded = raw.str.decode("base64", strict=False).bin.encode("hex")
    return pl.when(raw.str.contains(_BASE64)).then(decoded)


def hex_id(text: pl.Expr, size: int) -> pl.Expr:
    """A trace (16 bytes) or span (8 bytes) id as lowercase hex, from hex or (older exporters)
    base64 text; empty, all-zero, of another size or absent means null."""
    raw = text.str.strip_chars()
    hexed = raw.str.extract(rf"^([0-9a-fA-F]{{{2 * size}}})$").str.to_lowercase()
    from_base64 = _base64_hex(raw)
    sized = pl.when(from_base64.str.len_bytes() == 2 * size).then(from_base64)
    return pl.coalesce(hexed, sized).replace("0" * (2 * size), None)


def odd_id(text: pl.Expr, size: int) -> pl.Expr:
    """True where an id may be base64 that Python reads and polars does not (non-canonical
    padding bits, unusual padding): its document goes to the Python walker."""
    raw = text.str.strip_chars()
    alphabet = raw.str.contains(r"^[A-Za-z0-9+/]*={0,2}$") & (raw != "")
    plain_hex = raw.str.contains(rf"^[0-9a-fA-F]{{{2 * size}}}$")
    return (alphabet & ~plain_hex & _base64_hex(raw).is_null()).fill_null(False)


def int_value(text: pl.Expr) -> pl.Expr:
    """``_int(text)`` as Int64 (null beyond its range): ``int_text(text)`` cast, in fewer steps."""
    return text.str.strip_chars().str.extract(r"^(-?\d{1,20})$").cast(pl.Int64, strict=False)


def nanos(text: pl.Expr) -> pl.Expr:
    """``*TimeUnixNano`` as Int64; 0, negative, out of range or absent means null."""
    # positive only: a minus sign fails the match, zeros strip to "" (which casts to null)
    digits = text.str.strip_chars().str.extract(r"^(\d{1,20})$").str.strip_chars_start("0")
    return digits.cast(pl.Int64, strict=False)


def span_kind(text: pl.Expr) -> pl.Expr:
    """server | client | internal | producer | consumer from a number or ``SPAN_KIND_*``."""
    low = text.str.to_lowercase()
    low = pl.when(low.str.starts_with("span_kind_")).then(low.str.slice(10)).otherwise(low)
    named = pl.when(low.is_in(list(_SPAN_KINDS.values()))).then(low)
    by_number = low.replace_strict(_SPAN_KINDS, default=None, return_dtype=pl.String)
    return pl.when(low.str.contains(r"^\d+$")).then(by_number).otherwise(named)


def status_code(text: pl.Expr) -> pl.Expr:
    """unset | ok | error from a numeric or ``STATUS_CODE_*`` status code."""
    upper = text.str.to_uppercase()
    return (
        pl.when(upper.str.ends_with("ERROR") | (upper == "2"))
        .then(pl.lit("error"))
        .when(upper.str.ends_with("OK") | (upper == "1"))
        .then(pl.lit("ok"))
        .otherwise(pl.lit("unset"))
    )
