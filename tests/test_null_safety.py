"""Valid data never crashes a stage after parsing: nulls and odd values in every column.

A property test generates small timelines in the canonical schema with nulls, empty strings and
lists, huge and negative numbers, NaN, far-past and far-future times, duplicate ids and unicode in
every column, writes them as an OUTDIR and runs correlation, the appendix in every format (and
the postmortem template) and ``show``. An end-to-end test builds real-shaped logs: a vLLM log whose
uvicorn lines carry no time, beside a gateway log with failing requests.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_helpers import run_cli
from tests.test_report_schema import SCHEMA, validate
from timeline.correlation.config import CorrelationConfig
from timeline.correlation.run import correlate_outdir
from timeline.correlation.show import find_request, load_request, render
from timeline.errors import InputError
from timeline.export.write import ReportOptions, write_report
from timeline.io.parquet import read_events, write_tables
from timeline.layout import APPENDIX, CORRELATION, EVENTS, MANIFEST, POSTMORTEM, REJECTS, TIMELINE
from timeline.normalize.inherit import Carry, inherit
from timeline.schema import (
    ARROW_SCHEMA,
    FIELDS,
    LAYERS,
    POLARS_SCHEMA,
    REJECT_SCHEMA,
    Field,
    conform,
    to_arrow,
)

UTC_TS = POLARS_SCHEMA["ts"]
BASE = datetime(2025, 3, 2, 10, 0, tzinfo=UTC)

_TEXT = st.sampled_from(["", " ", "a", "é☃𝄞", "<b>x</b>|`*_", "line\nbreak", "x" * 500, "-", "0"])
_TIMES = st.one_of(
    st.builds(lambda s: BASE + timedelta(seconds=s), st.integers(-600, 3600)),
    st.sampled_from(
        [
            datetime(1970, 1, 1, tzinfo=UTC),
            datetime(1900, 1, 1, tzinfo=UTC),
            datetime(1, 1, 1, tzinfo=UTC),
            datetime(2262, 4, 11, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        ]
    ),
)
_INTS = st.one_of(
    st.sampled_from([0, -1, 200, 404, 429, 500, 503, 2**62, -(2**63), 2**63 - 1]),
    st.integers(-(2**63), 2**63 - 1),
)
_FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, -1.0, 1.5, 1e308, -1e308, math.inf, -math.inf, math.nan]),
    st.floats(allow_nan=True, allow_infinity=True),
)
_IDS = st.sampled_from(["r1", "r2", "", "5b8efff798038103d269b633813fc60c", "é"])
_ID_KINDS = st.sampled_from(["x_request_id", "trace_id", "request_id", "session_id", "", "odd"])

# A null printed as Python's None (the generated strings never contain the word).
NONE = re.compile(r"\bNone\b")

# Columns the build always fills (from the input file and the parser: normalize gives every event
# its parser's layer); odd values, never null.
ALWAYS_SET = ("event_id", "source_file", "source_line", "parser", "layer")

_CHOICES: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.sampled_from(["f:1:0", "f:1:0", "f:2:0", "f:3:1", "", "é:x", "f:9:99"]),
    "source_file": st.sampled_from(["gw.log", "vllm.log", "", "dir/é.log", "-"]),
    "source_line": st.sampled_from([1, 2, 3, 0, -1, 2**62]),
    "parser": st.sampled_from(["nginx_combined", "vllm", ""]),
    "layer": st.sampled_from([*LAYERS, "", "weird"]),
    "event_type": st.sampled_from(
        [
            "http.request",
            "http.response",
            "policy.check",
            "retrieval.query",
            "inference.request",
            "inference.response",
            "inference.error",
            "deploy.change",
            "server.start",
            "server.log",
            "",
        ]
    ),
    "status": st.sampled_from(["ok", "error", "timeout", "blocked", "rate_limited", ""]),
    "severity": st.sampled_from(["INFO", "ERROR", "", "weird"]),
    "policy_stage": st.sampled_from(["input", "output", ""]),
    "verdict": st.sampled_from(["allow", "block", "flag", ""]),
    "correlation_method": st.sampled_from(["id", "alias", "heuristic", "none", ""]),
    "request_id": _IDS,
    "trace_id": _IDS,
    "session_id": _IDS,
    "model_revision": st.sampled_from(["fp_old", "fp_new", "", "é"]),
    "model": st.sampled_from(["m1", "m2", ""]),
    "ts_raw": st.sampled_from(["", "10:15:04", "02/Mar/2025:10:15:04 +0000", "é"]),
}


def _kind_values(field: Field) -> st.SearchStrategy[Any]:
    if field.name in _CHOICES:
        return _CHOICES[field.name]
    kind = field.kind
    if kind == "string":
        return _TEXT
    if kind == "int64":
        return _INTS
    if kind == "float64":
        return _FLOATS
    if kind == "bool":
        return st.booleans()
    if kind == "timestamp":
        return _TIMES
    if kind == "list<string>":
        return st.lists(st.one_of(st.none(), _TEXT), max_size=3)
    if kind == "list<float64>":
        return st.lists(st.one_of(st.none(), _FLOATS), max_size=3)
    if kind == "ids":
        return st.lists(
            st.fixed_dictionaries(
                {"kind": st.one_of(st.none(), _ID_KINDS), "value": st.one_of(st.none(), _IDS)}
            ),
            max_size=3,
        )
    return st.lists(
        st.fixed_dictionaries(
            {"key": st.one_of(st.none(), _TEXT), "value": st.one_of(st.none(), _TEXT)}
        ),
        max_size=2,
    )


def _column(field: Field) -> st.SearchStrategy[Any]:
    values = _kind_values(field)
    return values if field.name in ALWAYS_SET else st.one_of(st.none(), values)


_ROW = st.fixed_dictionaries({f.name: _column(f) for f in FIELDS})


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return conform(pl.DataFrame(rows, schema=POLARS_SCHEMA, orient="row"))


_REJECTS = st.lists(
    st.fixed_dictionaries(
        {
            "source_file": st.one_of(st.none(), _CHOICES["source_file"]),
            "source_line": st.one_of(st.none(), _INTS),
            "parser": st.one_of(st.none(), _TEXT),
            "reason": st.one_of(st.none(), _TEXT),
            "excerpt": st.one_of(st.none(), _TEXT),
            "line_length": st.one_of(st.none(), _INTS),
        }
    ),
    max_size=3,
)

_ACCOUNT = st.fixed_dictionaries(
    {
        "source_file": st.one_of(st.none(), _TEXT),
        "parser": st.one_of(st.none(), _TEXT),
        "lines_read": st.one_of(st.none(), _INTS),
        "events": st.one_of(st.none(), _INTS),
        "notes": st.lists(_TEXT, max_size=2),
    }
)


def write_outdir(
    outdir: Path,
    events: pl.DataFrame,
    rejects: list[dict[str, Any]] | None = None,
    accounts: list[dict[str, Any]] | None = None,
) -> None:
    """An OUTDIR as ``timeline build`` leaves it: events, rejects and build.json, correlated."""
    outdir.mkdir(parents=True, exist_ok=True)
    write_tables(outdir / EVENTS, ARROW_SCHEMA, [to_arrow(events)], {})
    pl.DataFrame(rejects or [], schema=REJECT_SCHEMA, orient="row").write_parquet(outdir / REJECTS)
    manifest = {"accounting": accounts or [], "inputs": [{"path": None, "sha256": None}]}
    (outdir / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    correlate_outdir(outdir, EVENTS, CorrelationConfig())


def show_all(outdir: Path) -> int:
    """``show`` every request of the timeline (and a few odd needles); the lines printed."""
    timeline = read_events(outdir / TIMELINE)
    printed = 0
    for cid in timeline["correlation_id"].drop_nulls().unique().to_list():
        lines = render(load_request(outdir, cid))
        assert not any(NONE.search(line) for line in lines), lines
        printed += len(lines)
    for needle in ("r1", "", "é", "nope"):
        with contextlib.suppress(InputError):
            find_request(timeline, needle)
    return printed


@pytest.mark.slow  # a build per example: runs in CI's slow step
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rows=st.lists(_ROW, min_size=0, max_size=8),
    rejects=_REJECTS,
    accounts=st.lists(_ACCOUNT, max_size=2),
)
def test_nulls_and_odd_values_never_crash(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[dict[str, Any]],
    rejects: list[dict[str, Any]],
    accounts: list[dict[str, Any]],
) -> None:
    outdir = tmp_path_factory.mktemp("nulls")
    write_outdir(outdir, _frame(rows), rejects, accounts)
    written = write_report(outdir, ReportOptions(template=True))
    assert {p.name for p in written} == {*APPENDIX.values(), POSTMORTEM}
    doc = json.loads((outdir / APPENDIX["json"]).read_text(encoding="utf-8"))
    assert validate(doc, SCHEMA) == []
    for name in (*APPENDIX.values(), POSTMORTEM):
        text = (outdir / name).read_text(encoding="utf-8")
        assert not NONE.search(text), (name, NONE.search(text))
    show_all(outdir)
    assert (outdir / CORRELATION).is_file()


REQUEST_ID = "c219f6da-8a6c-4c30-8f0e-2bd2f6fa5b1e"


def _null_row(i: int) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(POLARS_SCHEMA.names())
    row.update(
        event_id=f"f:{i}:0",
        source_file="all-null.log",
        source_line=i,
        parser="p",
        layer="gateway",
        correlation_id=None,
    )
    return row


def test_events_with_only_the_provenance_set_never_crash(tmp_path: Path) -> None:
    events = _frame([_null_row(1), _null_row(2)]).with_columns(
        pl.Series("ids", [[{"kind": "x_request_id", "value": REQUEST_ID}]] * 2)
    )
    write_outdir(tmp_path, events)
    write_report(tmp_path, ReportOptions(template=True))
    assert show_all(tmp_path) > 0
    for name in (*APPENDIX.values(), POSTMORTEM):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert not NONE.search(text), (name, NONE.search(text))


# --- timestamp inheritance ------------------------------------------------------------------


def _events(times: list[datetime | None], lines: list[int] | None = None) -> pl.DataFrame:
    n = len(times)
    frame = conform(
        pl.DataFrame(
            {
                "source_line": lines or list(range(1, n + 1)),
                "ts_source": pl.Series(times, dtype=UTC_TS),
                "ts": pl.Series(times, dtype=UTC_TS),
            }
        )
    )
    return frame.with_columns(
        pl.when(pl.col("ts_source").is_not_null()).then(False).alias("ts_assumed_tz"),
        pl.when(pl.col("ts_source").is_not_null()).then(0.0).alias("clock_offset_ms"),
    )


def test_inherit_fills_from_the_nearest_earlier_timed_event() -> None:
    t1, t2 = BASE, BASE + timedelta(seconds=5)
    frame, carry = inherit(_events([None, t1, None, None, t2, None]))
    assert frame["ts_source"].to_list() == [None, t1, t1, t1, t2, t2]
    assert frame["ts"].to_list() == frame["ts_source"].to_list()
    assert frame["ts_inherited"].to_list() == [None, None, True, True, None, True]
    assert frame["ts_raw"].null_count() == frame.height
    assert frame["clock_offset_ms"].to_list() == [None, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert frame["ts_assumed_tz"].to_list() == [None, False, False, False, False, False]
    assert carry == Carry(t2, False)


def test_inherit_carries_the_last_time_across_blocks() -> None:
    t1 = BASE
    whole, _ = inherit(_events([t1, None, None, None]))
    first, carry = inherit(_events([t1, None]))
    second, after = inherit(_events([None, None], [3, 4]), carry)
    assert pl.concat([first, second])["ts"].to_list() == whole["ts"].to_list()
    assert second["ts_inherited"].to_list() == [True, True]
    assert after == carry
    untouched, same = inherit(_events([None, None]))
    assert untouched["ts"].to_list() == [None, None] and same == Carry()
    assert untouched["ts_inherited"].to_list() == [None, None]


def test_inherited_times_follow_the_assumed_zone() -> None:
    frame = _events([BASE, None]).with_columns(
        pl.when(pl.col("ts_source").is_not_null()).then(True).alias("ts_assumed_tz")
    )
    out, carry = inherit(frame)
    assert out["ts_assumed_tz"].to_list() == [True, True]
    assert carry == Carry(BASE, True)


# --- end to end: vLLM's uvicorn lines beside a failing gateway -------------------------------

VLLM = """\
(APIServer pid=4012) INFO:     Started server process [4012]
(APIServer pid=4012) INFO:     Application startup complete.
(APIServer pid=4012) INFO 03-02 10:14:50 [api_server.py:1805] vLLM API server version 0.10.1
(APIServer pid=4012) INFO:     Application startup complete.
(APIServer pid=4012) INFO 03-02 10:15:04 [logger.py:47] Received request chatcmpl-aaa: params: SamplingParams(n=1, temperature=0.7, top_p=0.9, max_tokens=128, stop=[]), lora_request: None.
(APIServer pid=4012) INFO:     10.0.0.1:5000 - "POST /v1/chat/completions HTTP/1.1" 200 OK
(APIServer pid=4012) INFO:     10.0.0.1:5001 - "POST /v1/chat/completions HTTP/1.1" 500 Internal Server Error
(APIServer pid=4012) INFO 03-02 10:15:10 [loggers.py:123] Engine 000: Avg prompt throughput: 0.3 tokens/s, Avg generation throughput: 0.7 tokens/s, Running: 0 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.0%, Prefix cache hit rate: 0.0%
(APIServer pid=4012) INFO:     10.0.0.1:5002 - "POST /v1/chat/completions HTTP/1.1" 200 OK
"""


def _gateway() -> str:
    lines = []
    for i in range(60):
        code = 502 if 30 <= i < 50 else 200
        lines.append(
            f"203.0.113.{i % 7} - - [02/Mar/2025:{10 + i // 10:02d}:15:{i % 60:02d} +0000] "
            f'"POST /v1/chat/completions HTTP/1.1" {code} 1532 "-" "python-requests/2.32.3"'
        )
    return "\n".join(lines) + "\n"


def test_build_with_untimed_vllm_lines_and_failing_gateway(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "vllm.log").write_text(VLLM, encoding="utf-8")
    (logs / "access.log").write_text(_gateway(), encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli(capsys, "build", str(logs), "-o", str(out))
    assert result.code == 0, result.err
    for name in APPENDIX.values():
        assert (out / name).is_file()
    events = read_events(out / TIMELINE).filter(pl.col("parser") == "vllm").sort("source_line")
    inherited = events.filter(pl.col("ts_inherited"))
    # Lines 4, 6, 7 and 9 inherit; lines 1 and 2 come before any timed line and stay untimed.
    assert inherited["source_line"].to_list() == [4, 6, 7, 9]
    assert inherited["ts_raw"].null_count() == inherited.height
    assert events.filter(pl.col("source_line") <= 2)["ts"].null_count() == 2
    doc = json.loads((out / APPENDIX["json"]).read_text(encoding="utf-8"))
    timing = doc["data_quality"]["timestamps"]
    assert timing["inherited"] == 4 and timing["untimed"] == 2
    vllm = next(s for s in timing["sources"] if s["source_file"].endswith("vllm.log"))
    assert (vllm["inherited"], vllm["untimed"]) == (4, 2)
    md = (out / APPENDIX["md"]).read_text(encoding="utf-8")
    assert "Timestamps: 4 events without a time of their own inherited" in md
    assert "2 events have no time" in md
    assert "Timestamps: 4 events" in (out / APPENDIX["html"]).read_text(encoding="utf-8")
    report = run_cli(capsys, "report", str(out), "--template")
    assert report.code == 0, report.err
    assert (out / POSTMORTEM).is_file()
