"""timeline.parserkit.timestamps.parse_guess: ISO 8601 or an epoch number of any unit."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.parserkit.helpers import apply
from timeline.parserkit.timestamps import parse_guess

X = pl.col("x")


def test_guesses() -> None:
    values = [
        "2025-03-02T10:15:04.123Z",
        "2025-03-02 10:15:06",
        "1740910504",
        "1740910504.25",
        "1740910504123",
        "1740910504123456",
        "1740910504123456789",
        "123456789012345678901",
        "yesterday",
        None,
    ]
    parsed = parse_guess(X, "Europe/Berlin")
    got = apply(pl.struct(ts=parsed.ts, assumed=parsed.assumed_tz), values)
    stamps = [g["ts"].isoformat() if g["ts"] else None for g in got]
    assert stamps == [
        "2025-03-02T10:15:04.123000+00:00",
        "2025-03-02T09:15:06+00:00",  # no offset: read in the source's zone
        "2025-03-02T10:15:04+00:00",
        "2025-03-02T10:15:04.250000+00:00",
        "2025-03-02T10:15:04.123000+00:00",
        "2025-03-02T10:15:04.123456+00:00",
        "2025-03-02T10:15:04.123456+00:00",
        None,
        None,
        None,
    ]
    assert [g["assumed"] for g in got] == [False, True, *[False] * 5, None, None, None]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=10**9, max_value=9 * 10**9), st.integers(0, 999_999))  # ns fit Int64
def test_every_unit_names_the_same_instant(seconds: int, micros: int) -> None:
    texts = [
        f"{seconds}.{micros:06d}",
        f"{seconds}{micros // 1000:03d}.{micros % 1000:03d}",
        f"{seconds}{micros:06d}",
        f"{seconds}{micros:06d}789",
    ]
    expected = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
    assert apply(parse_guess(X).ts, texts) == [expected] * 4
