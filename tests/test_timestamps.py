"""Vectorized timestamp parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from timeline.parserkit.timestamps import check_format, check_timezone, parse_any


def _parse(
    values: list[str | None], formats: list[str], tz: str = "UTC", year: int | None = None
) -> list[tuple[datetime | None, bool | None]]:
    parsed = parse_any(pl.col("t"), formats, tz, year)
    frame = pl.DataFrame({"t": values}, schema={"t": pl.String}).select(
        parsed.ts.alias("ts"), parsed.assumed_tz.alias("a")
    )
    return list(zip(frame["ts"].to_list(), frame["a"].to_list(), strict=True))


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected", "assumed"),
    [
        ("2025-03-02T10:15:04Z", utc(2025, 3, 2, 10, 15, 4), False),
        ("2025-03-02T10:15:04.123456789Z", utc(2025, 3, 2, 10, 15, 4, 123456), False),
        ("2019-01-29T08:31:40,426+0100", utc(2019, 1, 29, 7, 31, 40, 426000), False),
        ("2025-03-02 10:15:04.5+05:30", utc(2025, 3, 2, 4, 45, 4, 500000), False),
        ("2025-03-02 10:15:04", utc(2025, 3, 2, 10, 15, 4), True),
        ("2025-03-02T10:15:04 UTC", utc(2025, 3, 2, 10, 15, 4), False),
        ("not a time", None, None),
    ],
)
def test_iso8601_variants(text: str, expected: datetime | None, assumed: bool | None) -> None:
    assert _parse([text], ["iso8601"]) == [(expected, assumed)]


def test_naive_times_take_the_source_zone() -> None:
    assert _parse(["2025-07-01 12:00:00"], ["iso8601"], "Europe/Berlin") == [
        (utc(2025, 7, 1, 10), True)
    ]


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("epoch_s", "1740910504", utc(2025, 3, 2, 10, 15, 4)),
        ("epoch_s", "1740910504.25", utc(2025, 3, 2, 10, 15, 4, 250000)),
        ("epoch_ms", "1740910504123", utc(2025, 3, 2, 10, 15, 4, 123000)),
        ("epoch_us", "1740910504123456", utc(2025, 3, 2, 10, 15, 4, 123456)),
        ("epoch_ns", "1740910504123456789", utc(2025, 3, 2, 10, 15, 4, 123456)),
        ("epoch_ms", "abc", None),
    ],
)
def test_epochs(fmt: str, text: str, expected: datetime | None) -> None:
    assert _parse([text], [fmt])[0][0] == expected


def test_patterns_with_and_without_offset_and_year() -> None:
    assert _parse(["02/Mar/2025:11:15:04 +0100"], ["%d/%b/%Y:%H:%M:%S %z"]) == [
        (utc(2025, 3, 2, 10, 15, 4), False)
    ]
    assert _parse(["03-02 10:15:04"], ["%m-%d %H:%M:%S"], year=2025) == [
        (utc(2025, 3, 2, 10, 15, 4), True)
    ]
    assert _parse(["03-02 10:15:04"], ["%m-%d %H:%M:%S"], year=None) == [(None, None)]


def test_first_matching_format_wins() -> None:
    rows = _parse(["1740910504", "2025-03-02T10:15:04Z"], ["iso8601", "epoch_s"])
    assert [r[0] for r in rows] == [utc(2025, 3, 2, 10, 15, 4)] * 2


def test_format_and_zone_checks_explain_the_problem() -> None:
    assert check_format("iso8601") is None
    assert check_format("%Y-%m-%d") is None
    assert "neither a named format" in (check_format("rfc3339") or "")
    assert check_timezone("Europe/Berlin") is None
    assert (
        check_timezone("Mars/Olympus")
        == "unknown time zone 'Mars/Olympus'; use an IANA name such as 'UTC' or 'Europe/Berlin'"
    )


# --- Python strptime directives whose chrono meaning differs ------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-02 10:15:04.648712", utc(2025, 3, 2, 10, 15, 4, 648712)),  # not 648 µs
        ("2025-03-02 10:15:04.6", utc(2025, 3, 2, 10, 15, 4, 600000)),  # right-padded, as Python
        ("2025-03-02 10:15:04.000123", utc(2025, 3, 2, 10, 15, 4, 123)),
    ],
)
def test_percent_f_after_a_dot_is_read_as_python_reads_it(text: str, expected: datetime) -> None:
    assert _parse([text], ["%Y-%m-%d %H:%M:%S.%f"]) == [(expected, True)]
    assert datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC) == expected


def test_percent_f_without_a_dot_or_in_chrono_syntax_is_rejected() -> None:
    assert check_format("%H:%M:%S,%f") == (
        "timestamp format '%H:%M:%S,%f' has '%f' without a dot before it; write the fraction as"
        " '%S.%f' (microseconds, as Python reads them), or use the named format 'iso8601' for"
        " ',123' fractions"
    )
    assert check_format("%H:%M:%S%.f") == (
        "timestamp format '%H:%M:%S%.f' uses chrono's fraction syntax; write it the Python way,"
        " '%S.%f' (read exactly, any number of digits)"
    )
    assert check_format("%Y-%m-%d %H:%M:%S.%f") is None


def test_percent_z_accepts_what_python_accepts() -> None:
    fmt = "%Y-%m-%d %H:%M:%S %z"
    got = _parse(
        ["2025-03-02 11:15:04 +0100", "2025-03-02 11:15:04 +01:00", "2025-03-02 10:15:04 Z"], [fmt]
    )
    assert got == [(utc(2025, 3, 2, 10, 15, 4), False)] * 3


def test_percent_j_day_of_year_and_percent_p_match_python() -> None:
    assert _parse(["2025 061 10:00:00"], ["%Y %j %H:%M:%S"]) == [(utc(2025, 3, 2, 10), True)]
    assert _parse(["2025-03-02 01:02:03 PM"], ["%Y-%m-%d %I:%M:%S %p"]) == [
        (utc(2025, 3, 2, 13, 2, 3), True)
    ]
