"""Timestamp precision: ``ts_precision_ms`` from the parsed text, carried by inherited times, and
imprecise stamps treated as intervals by ordering, clock-skew evidence and the violation count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.correlation.config import CorrelationConfig
from timeline.correlation.order import order, violation_mask
from timeline.correlation.run import correlate
from timeline.normalize.events import normalize
from timeline.normalize.inherit import Carry, inherit
from timeline.parserkit import timestamps
from timeline.schema import POLARS_SCHEMA, conform

T0 = datetime(2025, 3, 2, 10, 0, 0, tzinfo=UTC)


def _precision(texts: list[str | None], expr: pl.Expr | None = None) -> list[float | None]:
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    chosen = timestamps.precision_ms(pl.col("t")) if expr is None else expr
    return frame.select(chosen.alias("p"))["p"].to_list()


def test_precision_from_the_text() -> None:
    texts = [
        "2025-03-02T10:15:04Z",
        "2025-03-02 10:15:04,123+0100",
        "10:15:04.123456",
        "2025-03-02T10:15:04.123456789Z",
        "1709374504",
        "1709374504123",
        "1709374504.25",
        "1709374504123456789",
        "03-02 10:15",
        "2025-03-02",
        "garbage",
        None,
    ]
    assert _precision(texts) == [
        1000.0,
        1.0,
        0.001,
        1e-6,
        1000.0,
        1.0,
        10.0,
        1e-6,
        60_000.0,
        86_400_000.0,
        None,
        None,
    ]


def test_parsed_formats_carry_their_precision() -> None:
    t = pl.col("t")
    assert _precision(
        ["17/May/2015:08:05:32 +0000", "x"],
        timestamps.parse_pattern(t, "%d/%b/%Y:%H:%M:%S %z").precision_ms,
    ) == [1000.0, None]
    # the unit comes from the format where the text cannot tell it
    assert _precision(
        ["1709374504", "1709374504.5"], timestamps.parse_epoch(t, "epoch_ms").precision_ms
    ) == [1.0, 0.1]
    assert _precision(
        ["20250302101504"], timestamps.parse_pattern(t, "%Y%m%d%H%M%S").precision_ms
    ) == [1000.0]
    assert _precision(
        ["02.03.2025 10:15:04.12"], timestamps.parse_pattern(t, "%d.%m.%Y %H:%M:%S.%f").precision_ms
    ) == [10.0]
    assert _precision(
        ["2025-03-02T10:15:04.5Z", "1709374504"],
        timestamps.parse_any(t, ["iso8601", "epoch_s"]).precision_ms,
    ) == [100.0, 1000.0]
    assert _precision(
        ["2025-03-02 10:15", "1709374504123"], timestamps.parse_guess(t).precision_ms
    ) == [None, 1.0]


def _normalized(rows: dict[str, list[object]]) -> pl.DataFrame:
    events = pl.DataFrame(rows, schema={k: POLARS_SCHEMA.get(k, pl.Int64) for k in rows})
    lines = pl.DataFrame({"source_line": [1], "line": ["x"]})
    return normalize(events, lines, "f.log", "p", "inference", keep_raw=False)


def test_normalize_fills_precision_from_ts_raw_and_keeps_a_parser_value() -> None:
    out = _normalized(
        {
            "source_line": [1, 2, 3, 4],
            "ts_source": [T0, T0, None, T0],
            "ts_raw": ["10:00:00", "10:00:00.250", "10:00:00", "1740909600"],
            "ts_precision_ms": [None, None, None, 1.0],
        }
    )
    assert out["ts_precision_ms"].to_list() == [1000.0, 1.0, None, 1.0]


def test_inherited_times_keep_the_precision_they_inherit_across_blocks() -> None:
    first = _normalized(
        {"source_line": [1, 2], "ts_source": [T0, None], "ts_raw": ["10:00:00", None]}
    )
    out, carry = inherit(first)
    assert out["ts_inherited"].to_list() == [None, True]
    assert out["ts_precision_ms"].to_list() == [1000.0, 1000.0]
    assert carry.precision_ms == 1000.0
    later = _normalized({"source_line": [3], "ts_source": [None], "ts_raw": [None]})
    out2, _ = inherit(later, carry)
    assert out2["ts_precision_ms"].to_list() == [1000.0]
    empty, _ = inherit(later, Carry())
    assert empty["ts_precision_ms"].to_list() == [None]


def _event(
    line: int,
    us: int,
    layer: str,
    event_type: str,
    *,
    precision: float | None = None,
    inherited: bool | None = None,
    source: str = "x.log",
    cid: str | None = "r1",
    **fields: object,
) -> dict[str, object]:
    ts = T0 + timedelta(microseconds=us)
    return {
        "event_id": f"{source}:{line}:0",
        "source_file": source,
        "source_line": line,
        "ts_source": ts,
        "ts": ts,
        "ts_precision_ms": precision,
        "ts_inherited": inherited,
        "layer": layer,
        "event_type": event_type,
        "correlation_id": cid,
        "correlation_method": "id" if cid else None,
        **fields,
    }


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {k: v for k, v in POLARS_SCHEMA.items() if any(k in r for r in rows)}
    return conform(pl.DataFrame(rows, schema=schema))


def test_a_whole_second_stamp_inside_its_second_is_no_violation() -> None:
    rows = [
        _event(1, 200_000, "gateway", "http.request", source="gw.log", duration_ms=700.0),
        # printed 10:00:00 by a second-resolution log: truly in [10:00:00, 10:00:01)
        _event(1, 0, "inference", "inference.request", precision=1000.0, source="vllm.log"),
    ]
    assert violation_mask(_frame(rows)).to_list() == [False, False]
    exact = [rows[0], {**rows[1], "ts_precision_ms": 1.0}]
    assert violation_mask(_frame(exact)).to_list() == [False, True]
    # an inherited time says "then or later": starting before the gateway is possible
    inherited = [rows[0], {**rows[1], "ts_precision_ms": 1.0, "ts_inherited": True}]
    assert violation_mask(_frame(inherited)).to_list() == [False, False]
    # ... but an inherited time after the gateway's end is after it for every point
    late = [rows[0], {**rows[1], "ts": T0 + timedelta(seconds=2), "ts_inherited": True}]
    assert violation_mask(_frame(late)).to_list() == [False, True]


def test_the_violation_count_uses_the_precision_column() -> None:
    rows = []
    for r in range(4):
        base = r * 10_000_000
        rid = [{"kind": "x_request_id", "value": f"req-{r}"}]
        rows.append(
            _event(1 + r, base + 300_000, "gateway", "http.request", source="gw.log", cid=None)
            | {"duration_ms": 600.0, "ids": rid}
        )
        # vLLM prints whole seconds without ts_raw here: only ts_precision_ms says so
        rows.append(
            _event(1 + r, base, "inference", "inference.request", precision=1000.0, cid=None)
            | {"ids": rid, "source_file": "vllm.log", "event_id": f"vllm.log:{1 + r}:0"}
        )
    _, _, report = correlate(_frame(rows), CorrelationConfig())
    assert report.violations_before == 0
    assert report.violations_after == 0
    assert all(c.offset_ms == 0 for c in report.corrections)


def test_an_inherited_event_sorts_after_the_line_it_inherited_from() -> None:
    rows = [
        # line 1: an output check at 10:00:00 (rank 4); line 2 (rank 3) has no time of its own
        _event(1, 0, "policy", "policy.check", precision=1000.0, cid=None, policy_stage="output"),
        _event(2, 0, "inference", "server.log", precision=1000.0, inherited=True, cid=None),
        _event(3, 0, "gateway", "http.request", precision=1000.0, inherited=True, cid=None),
    ]
    ordered = order(_frame(rows))
    assert ordered["source_line"].to_list() == [1, 2, 3]
    # in a request where the source line is moved later within its second, still after it
    rows = [
        _event(1, 500_000, "gateway", "http.request", source="gw.log", duration_ms=900.0),
        _event(1, 0, "inference", "inference.response", precision=1000.0, source="v.log"),
        _event(2, 0, "gateway", "http.response", precision=1000.0, inherited=True, source="v.log"),
    ]
    ordered = order(_frame(rows))
    assert ordered["event_id"].to_list() == ["gw.log:1:0", "v.log:1:0", "v.log:2:0"]


def test_skew_evidence_ignores_inherited_times_when_precise_ones_exist() -> None:
    rows = []
    for r in range(4):
        base = r * 10_000_000
        rid = [{"kind": "x_request_id", "value": f"req-{r}"}]
        gw = _event(1 + r, base, "gateway", "http.request", source="gw.log", cid=None)
        rows.append(gw | {"duration_ms": 900.0, "ids": rid})
        inf = _event(10 + 2 * r, base + 100_000, "inference", "inference.request", cid=None)
        rows.append(inf | {"ids": rid, "source_file": "v.log", "event_id": f"v.log:{10 + 2 * r}:0"})
        # an untimed line that inherited a stamp 3 s old: it is not evidence of the clock
        old = _event(11 + 2 * r, base - 3_000_000, "inference", "server.log", cid=None)
        rows.append(
            old
            | {"ids": rid, "source_file": "v.log", "event_id": f"v.log:{11 + 2 * r}:0"}
            | {"ts_inherited": True, "ts_precision_ms": 1.0}
        )
    _, _, report = correlate(_frame(rows), CorrelationConfig())
    by_source = {c.source: c for c in report.corrections}
    assert by_source["v.log"].offset_ms == 0
    assert not by_source["v.log"].applied
    assert report.violations_before == 0


PRECISIONS = st.sampled_from([None, 0.001, 1.0, 10.0, 1000.0, 60_000.0])


@st.composite
def _request(draw: st.DrawFn) -> list[dict[str, object]]:
    """A request whose true times are consistent (inner events inside the gateway span), printed
    with random precisions (the stamp is the true time truncated to its precision) and some inner
    times inherited from an earlier stamp."""
    start = draw(st.integers(0, 3_600_000_000))
    length = draw(st.integers(0, 5_000_000))

    def stamp(true_us: int, precision: float | None) -> int:
        if precision is None:
            return true_us
        step = max(1, round(precision * 1000))
        return (T0_US + true_us) // step * step - T0_US

    rows = []
    gw_p = draw(PRECISIONS)
    rows.append(
        _event(1, stamp(start, gw_p), "gateway", "http.request", precision=gw_p, source="gw")
        | {"duration_ms": length / 1000}
    )
    for i in range(draw(st.integers(1, 5))):
        a = draw(st.integers(start, start + length))
        b = draw(st.integers(a, start + length))
        p = draw(PRECISIONS)
        kind = draw(st.sampled_from(["inference.request", "inference.response", "policy.check"]))
        at_end = kind.endswith(".response")
        true = b if at_end else a
        inherited = draw(st.booleans())
        shown = true - draw(st.integers(0, 10_000_000)) if inherited else true
        layer = "policy" if kind == "policy.check" else "inference"
        rows.append(
            _event(2 + i, stamp(shown, p), layer, kind, precision=p, source=f"s{i % 2}")
            | {"duration_ms": (b - a) / 1000, "ts_inherited": inherited or None}
        )
    return rows


T0_US = int(T0.timestamp() * 1_000_000)


@settings(max_examples=60, deadline=None)
@given(_request())
def test_stamps_whose_intervals_allow_the_true_order_are_never_violations(
    rows: list[dict[str, object]],
) -> None:
    assert not violation_mask(_frame(rows)).any()
