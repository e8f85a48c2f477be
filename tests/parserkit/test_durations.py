"""timeline.parserkit.durations: Go / Rust durations and Elasticsearch TimeValue texts."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.parserkit.helpers import apply, one
from timeline.parserkit.durations import es_took_ms, go_duration_ms

X = pl.col("x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("35.684791792s", 35684.791792),
        ("6.2826ms", 6.2826),
        ("456µs", 0.456),  # MICRO SIGN
        ("456μs", 0.456),  # GREEK SMALL LETTER MU
        ("812us", 0.812),
        ("120ns", 0.00012),
        ("997.257µs", 0.997257),
        ("0s", 0.0),
        ("29m59s", 1_799_000.0),
        ("1m2.5s", 62_500.0),
        ("1h0m1.25s", 3_601_250.0),
        ("1.5h", 5_400_000.0),
        ("2h45.5m", 9_930_000.0),
        ("1s500ms", 1500.0),
        ("150ms", 150.0),
        (' "1.5s" ', 1500.0),
        ("3q", None),
        ("", None),
        ("12", None),
        ("-1.5s", None),
        ("1s1h", None),  # largest unit first, as Go and Rust print them
        ("1ss", None),
    ],
)
def test_go_durations(text: str, expected: float | None) -> None:
    assert one(go_duration_ms(X), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("70.4micros", 0.0704),
        ("9.9ms", 9.9),
        ("1.3s", 1300.0),
        ("2m", 120_000.0),
        ("1.5h", 5_400_000.0),
        ("1d", 86_400_000.0),
        ("450nanos", 0.00045),
        (" 12 ms ", 12.0),
        ("12 apples", None),
        ("-3ms", None),
    ],
)
def test_es_took(text: str, expected: float | None) -> None:
    got = one(es_took_ms(X), text)
    assert got == (pytest.approx(expected) if expected is not None else None)


amounts = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)
UNITS_MS = {"h": 3_600_000.0, "m": 60_000.0, "s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(amounts, st.sampled_from(list(UNITS_MS))), min_size=1, max_size=8))
def test_go_durations_are_non_negative_and_scale(items: list[tuple[object, str]]) -> None:
    texts = [f"{n}{u}" for n, u in items]
    got = apply(go_duration_ms(X), texts)
    for (n, unit), ms in zip(items, got, strict=True):
        assert ms is not None and ms >= 0
        assert ms == pytest.approx(float(str(n)) * UNITS_MS[unit], rel=1e-9, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 99),
    st.integers(0, 59),
    st.decimals(min_value=0, max_value=59, places=6, allow_nan=False, allow_infinity=False),
)
def test_go_duration_parts_add_up(h: int, m: int, s: object) -> None:
    whole = one(go_duration_ms(X), f"{h}h{m}m{s}s")
    parts = apply(go_duration_ms(X), [f"{h}h", f"{m}m", f"{s}s"])
    assert whole == pytest.approx(sum(parts), abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(amounts)
def test_es_took_scales_between_units(n: object) -> None:
    got = apply(es_took_ms(X), [f"{n}s", f"{n}ms", f"{n}micros"])
    assert all(v is not None and v >= 0 for v in got)
    assert got[0] == pytest.approx(got[1] * 1000, rel=1e-9, abs=1e-6)
    assert got[1] == pytest.approx(got[2] * 1000, rel=1e-9, abs=1e-6)
