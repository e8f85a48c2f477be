"""The faster shared parser helpers (issue 15) against the slower code they replace: the same
values on fuzzed input (timestamps: identical ``ts``, ``assumed_tz`` and ``precision_ms``)."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.parserkit import logfmt
from timeline.parserkit.kv import kv_column
from timeline.parserkit.text import unescape, unquote
from timeline.parserkit.timestamps import (
    _EPOCH_BY_DIGITS,
    Parsed,
    _localize,
    parse_epoch,
    parse_guess,
    parse_iso8601,
    precision_ms,
    with_parsed,
)
from timeline.schema import KV_STRUCT

X = pl.col("x")
_UTC = pl.Datetime("us", "UTC")


# --- the replaced implementations (the reference) ------------------------------------------


def _old_iso(text: pl.Expr, timezone: str = "UTC") -> Parsed:
    norm = (
        text.str.strip_chars()
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]", "${1}T")
        .str.replace(r"(T\d{2}:\d{2}:\d{2}),(\d+)", "${1}.${2}")
        .str.replace(r"(?:[Zz]| ?UTC| ?GMT)$", "+00:00")
        .str.replace(r" ?([+-]\d{2}):?(\d{2})$", "${1}:${2}")
    )
    aware = norm.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us", time_zone="UTC"
    )
    naive = _localize(
        norm.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us"), timezone
    )
    return Parsed(
        pl.coalesce(aware, naive),
        pl.when(aware.is_not_null()).then(False).when(naive.is_not_null()).then(True),
        pl.when(pl.coalesce(aware, naive).is_not_null()).then(precision_ms(text)),
    )


def _old_guess(text: pl.Expr, timezone: str = "UTC") -> Parsed:
    iso = _old_iso(text, timezone)
    digits = text.str.extract(r"^(\d+)(?:\.\d+)?$", 1).str.len_chars()
    epoch: pl.Expr = pl.lit(None, dtype=_UTC)
    for most, unit in reversed(_EPOCH_BY_DIGITS):
        epoch = pl.when(digits <= most).then(parse_epoch(text, unit).ts).otherwise(epoch)
    assumed = pl.when(iso.ts.is_not_null()).then(iso.assumed_tz).when(epoch.is_not_null())
    ts = pl.coalesce(iso.ts, epoch)
    return Parsed(ts, assumed.then(False), pl.when(ts.is_not_null()).then(precision_ms(text)))


def _old_unquote(expr: pl.Expr, quotes: str = '"') -> pl.Expr:
    inner = [expr.str.extract(rf"(?s)^{re.escape(q)}(.*){re.escape(q)}$", 1) for q in quotes]
    return pl.coalesce(*[unescape(i, quotes) for i in inner], expr)


def _old_pairs(text: pl.Expr, rename: Mapping[str, str] | None = None) -> pl.Expr:
    item = pl.element().str.strip_chars_start()
    key = item.str.extract(r"^([^=]+)=", 1)
    return (
        text.str.extract_all(logfmt.PAIR_RE)
        .list.eval(
            pl.struct(
                key=key.replace(rename) if rename else key,
                value=_old_unquote(item.str.replace(r"^[^=]+=", "")),
            )
        )
        .cast(pl.List(KV_STRUCT))
    )


def _old_kv_column(
    frame: pl.DataFrame, pairs: Mapping[str, pl.Expr], lists: Sequence[pl.Expr] = ()
) -> pl.Series:
    dtype = pl.List(KV_STRUCT)
    height = frame.height
    values = frame.select(
        *[expr.cast(pl.String).alias(f"_p{i}") for i, expr in enumerate(pairs.values())],
        *[lst.cast(dtype).alias(f"_l{i}") for i, lst in enumerate(lists)],
    )
    parts: list[pl.LazyFrame] = []
    for i, key in enumerate(pairs):
        parts.append(
            values.get_column(f"_p{i}")
            .to_frame("value")
            .lazy()
            .with_row_index("_row")
            .filter(pl.col("value").is_not_null())
            .select("_row", pl.struct(key=pl.lit(key, dtype=pl.String), value="value").alias("_v"))
        )
    for i in range(len(lists)):
        parts.append(
            values.get_column(f"_l{i}")
            .to_frame("_v")
            .lazy()
            .with_row_index("_row")
            .filter(pl.col("_v").list.len() > 0)
            .explode("_v")
            .filter(pl.col("_v").is_not_null())
        )
    rows = pl.int_range(height, eager=True, dtype=pl.UInt32).alias("_row").to_frame()
    empty = pl.lit([], dtype=dtype)
    if not parts:
        return rows.with_columns(empty.alias("a")).get_column("a")
    grouped = pl.concat(parts).group_by("_row").agg(pl.col("_v")).collect()
    joined = rows.join(grouped, on="_row", how="left", maintain_order="left")
    return joined.select(pl.col("_v").fill_null(empty).cast(dtype).alias("a")).get_column("a")


# --- fuzzed input ------------------------------------------------------------------------------


def _num(low: int, high: int, width: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: str(n).zfill(width))


_FRACTION = st.one_of(
    st.just(""),
    st.tuples(st.sampled_from(".,"), st.text("0123456789", min_size=0, max_size=11)).map("".join),
)
_OFFSET = st.one_of(
    st.sampled_from(["", "Z", "z", " UTC", "UTC", " GMT", "+00:00", "-00:00", "+0200", " +02:00"]),
    st.tuples(
        st.sampled_from("+-"), _num(0, 25, 2), st.sampled_from(["", ":"]), _num(0, 61, 2)
    ).map("".join),
    st.tuples(st.sampled_from("+-"), _num(0, 14, 2)).map("".join),
)
_ISO = st.tuples(
    st.sampled_from(["", " ", "\t"]),
    st.one_of(_num(1970, 2100, 4), _num(0, 99999, 4), st.just("+2025")),
    st.sampled_from(["-", "/"]),
    _num(0, 13, 2),
    st.just("-"),
    _num(0, 32, 2),
    st.sampled_from(["T", "t", " ", "  ", ""]),
    _num(0, 25, 2),
    st.just(":"),
    _num(0, 60, 2),
    st.sampled_from([":", ""]),
    _num(0, 61, 2),
    _FRACTION,
    _OFFSET,
    st.sampled_from(["", "", " ", "x"]),
).map("".join)
_EPOCHS = st.tuples(
    st.sampled_from(["", "", "-", " ", "+"]),
    st.text("0123456789", min_size=1, max_size=21),
    st.one_of(st.just(""), st.text("0123456789", max_size=10).map(lambda d: "." + d)),
    st.sampled_from(["", "", " "]),
).map("".join)
_TEXTS = st.lists(
    st.one_of(_ISO, _EPOCHS, st.none(), st.text(max_size=12)), min_size=1, max_size=60
)


def _check(new: Parsed, old: Parsed, values: list[str | None]) -> None:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.String})
    fields = ("ts", "assumed_tz", "precision_ms")
    got = frame.select(**{f: getattr(new, f) for f in fields}).with_columns(
        pl.col("ts").cast(pl.Int64)
    )
    want = frame.select(**{f: getattr(old, f) for f in fields}).with_columns(
        pl.col("ts").cast(pl.Int64)
    )
    differ = frame.with_row_index().filter(
        pl.any_horizontal(got[f].ne_missing(want[f]) for f in fields)
    )
    assert differ.is_empty(), differ.head(5).to_dicts()


@pytest.mark.slow
@settings(max_examples=1500, deadline=None)
@given(_TEXTS, st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]))
def test_parse_iso8601_matches_the_general_path(values: list[str | None], zone: str) -> None:
    _check(parse_iso8601(X, zone), _old_iso(X, zone), values)
    _check(parse_guess(X, zone), _old_guess(X, zone), values)


def _pick(rng: random.Random, low: int, high: int, width: int) -> str:
    """Mostly a value in ``[low, high - 1]`` (``high`` is out of range already), else up to
    ``high + 1`` or a negative."""
    if rng.random() < 0.9:
        return str(rng.randint(low, max(low, high - 1))).zfill(width)
    return str(rng.choice([high, high + 1, rng.randint(0, high), -1])).zfill(width)


def _random_stamp(rng: random.Random) -> str:
    """One fuzzed text: mostly near-ISO 8601 (every part sometimes out of range or malformed),
    else an epoch-like number or noise."""
    kind = rng.random()
    if kind < 0.5:  # a valid instant in a common form
        year, month, day = rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28)
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 60):02d}"
        frac = "".join(rng.choices("0123456789", k=rng.randint(1, 10)))
        return (
            f"{year:04d}-{month:02d}-{day:02d}{rng.choice('TTT ')}{clock}"
            + rng.choice(["", "." + frac, "." + frac, "," + frac])
            + rng.choice(["Z", "Z", "z", "", "+02:00", "-09:30", "+0530", "+14:00", " UTC"])
        )
    if kind < 0.6:
        sign = rng.choice(["", "", "-", " ", "+"])
        digits = "".join(rng.choices("0123456789", k=rng.randint(1, 21)))
        frac = rng.choice(["", "", "." + "".join(rng.choices("0123456789", k=rng.randint(0, 9)))])
        return sign + digits + frac
    if kind < 0.2:
        return "".join(rng.choices("0123456789-:TZz .,+", k=rng.randint(0, 30)))
    frac = rng.choice(["", ".", ","]) + "".join(rng.choices("0123456789", k=rng.randint(0, 11)))
    offset = rng.choice(
        [
            "",
            "Z",
            "Z",
            "z",
            " UTC",
            " GMT",
            rng.choice("+-")
            + _pick(rng, 0, 25, 2)
            + rng.choice([":", "", ":"])
            + _pick(rng, 0, 61, 2),
            rng.choice("+-") + _pick(rng, 0, 14, 2),
        ]
    )
    return "".join(
        [
            rng.choice(["", "", "", " "]),
            rng.choice(
                [_pick(rng, 1970, 2100, 4), _pick(rng, 1970, 2100, 4), _pick(rng, 0, 99999, 4)]
            ),
            rng.choice(["-", "-", "-", "/"]),
            _pick(rng, 1, 13, 2),
            "-",
            _pick(rng, 1, 29, 2),
            rng.choice(["T", "T", "T", "t", " ", ""]),
            _pick(rng, 0, 25, 2),
            ":",
            _pick(rng, 0, 60, 2),
            rng.choice([":", ":", ":", ""]),
            _pick(rng, 0, 61, 2),
            rng.choice([frac, frac, ""]),
            offset,
            rng.choice(["", "", "", " ", "x"]),
        ]
    )


def test_fuzzed_texts_match_the_general_path() -> None:
    rng = random.Random(15)
    values: list[str | None] = [_random_stamp(rng) for _ in range(10_000)] + [None]
    for zone in ("UTC", "Europe/Berlin"):
        _check(parse_iso8601(X, zone), _old_iso(X, zone), values)
        _check(parse_guess(X, zone), _old_guess(X, zone), values)


def test_fast_forms_match_the_general_path() -> None:
    values = [
        "2025-05-20T08:30:00.120Z",
        "2025-05-20T08:30:00Z",
        "2025-05-20T08:30:00.123456789Z",
        "2025-05-20T08:30:00.1234567891Z",
        "2025-05-20T08:30:00.120+02:00",
        "2025-05-20T08:30:00-11:30",
        "2025-05-20T08:30:00.120z",
        "2016-12-31T23:59:60Z",
        "2016-12-31T23:59:60.5+01:00",
        "2025-02-30T08:30:00Z",
        "2025-05-20T24:00:00Z",
        "2025-05-20T08:30:00+24:00",
        " 2025-05-20T08:30:00Z",
        "2025-05-20T08:30:00Z ",
        "",
        "1716190000",
        "1716190000123",
        "99999999999999",
        "999999999999999",
        "00000000001",
        "0",
        "-1716190000",
        "1716190000.5",
        None,
    ]
    for zone in ("UTC", "Europe/Berlin"):
        _check(parse_iso8601(X, zone), _old_iso(X, zone), values)
        _check(parse_guess(X, zone), _old_guess(X, zone), values)


def test_parse_guess_fields_evaluate_alone() -> None:
    frame = pl.DataFrame({"x": ["2025-05-20T08:30:00Z", "1716190000", "2025-05-20 10:30:00"]})
    parsed = parse_guess(X, "Europe/Berlin")
    assert frame.select(parsed.assumed_tz).to_series().to_list() == [False, False, True]
    assert frame.select(parsed.ts.dt.hour()).to_series().to_list() == [8, 7, 8]
    assert frame.select(parsed.ts).columns == ["x"]


def test_with_parsed_adds_both_columns() -> None:
    frame = pl.DataFrame({"x": ["2025-05-20T08:30:00+02:00", "1716190000", "20 May", None]})
    for parsed in (parse_guess(X), parse_iso8601(X), parse_epoch(X, "epoch_s")):
        got = with_parsed(frame, parsed, "ts", "a")
        want = frame.with_columns(parsed.ts.alias("ts"), parsed.assumed_tz.alias("a"))
        assert got.equals(want)


_QUOTED_TEXT = st.one_of(
    st.text(alphabet="ab \"'\\\n=é", max_size=8),
    st.text(alphabet="ab \"\\'é", max_size=6).map(lambda t: f'"{t}"'),
    st.text(alphabet="ab \"\\'é", max_size=6).map(lambda t: f"'{t}'"),
    st.sampled_from(['"', "'", '""', "''", "\"'", None]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_QUOTED_TEXT, min_size=1, max_size=30), st.sampled_from(['"', "'\"", "'"]))
def test_unquote_matches_the_regex_version(values: list[str | None], quotes: str) -> None:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.String})
    for expr in (X, X.str.slice(0)):
        got = frame.select(unquote(expr, quotes)).to_series()
        assert got.name == "x"
        assert got.to_list() == frame.select(_old_unquote(expr, quotes)).to_series().to_list()


_LOGFMT = st.lists(
    st.tuples(
        st.sampled_from(["a", "msg", "k.v", "_x", "b/c", "=", "1a"]),
        st.sampled_from(["=", "= ", ""]),
        _QUOTED_TEXT.map(lambda t: t or ""),
    ).map("".join),
    max_size=6,
).map(" ".join)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(_LOGFMT, st.none()), min_size=1, max_size=20))
def test_logfmt_pairs_match_the_regex_version(values: list[str | None]) -> None:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.String})
    for rename in (None, {"msg": "message"}):
        got = frame.select(logfmt.pairs(X, rename)).to_series().to_list()
        assert got == frame.select(_old_pairs(X, rename)).to_series().to_list()


_KV_ITEM: st.SearchStrategy[dict[str, str] | None] = st.one_of(
    st.none(), st.builds(dict, key=st.sampled_from("kq"), value=st.text("xy"))
)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text("ab", max_size=2)),
            st.one_of(st.none(), st.integers(0, 9)),
            st.one_of(st.none(), st.lists(_KV_ITEM, max_size=3)),
        ),
        max_size=25,
    )
)
def test_kv_column_matches_the_join_version(rows: list[tuple[object, object, object]]) -> None:
    frame = pl.DataFrame(
        {
            "a": [r[0] for r in rows],
            "n": [r[1] for r in rows],
            "l": [r[2] for r in rows],
        },
        schema={"a": pl.String, "n": pl.Int64, "l": pl.List(KV_STRUCT)},
    )
    pairs = {"a": pl.col("a"), "n": pl.col("n"), "none": pl.lit(None, dtype=pl.String)}
    lists = [pl.col("l"), pl.col("l")]
    got = kv_column(frame, pairs, lists).to_list()
    assert got == _old_kv_column(frame, pairs, lists).to_list()
    assert kv_column(frame, {}).to_list() == [[] for _ in rows]
