"""Real inputs at the ingest stage: bad bytes cost only their own line, and tool prefixes
(``docker logs -t``, docker compose, ``kubectl logs --prefix``, ``grep -rH``) are envelopes
recognised line by line, end to end through :func:`timeline.build`."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline
from timeline.ingest.envelopes import detect_kinds
from timeline.ingest.reader import HOLE_REASON, NUL_REASON
from timeline.pipeline.accounting import FileAccount
from timeline.pipeline.plan import BINARY_REASON

# Columns an envelope legitimately changes (event_id also hashes the file's bytes).
ENVELOPE_COLUMNS = ("host", "attributes", "event_id", "source_file")


def nginx(i: int, second: int = 4) -> str:
    return (
        f'203.0.113.{i % 250} - - [02/Mar/2025:10:15:{second % 60:02d} +0000] "POST /v1/chat/completions'
        f' HTTP/1.1" 200 {15 + i} "-" "curl/8.5.0"'
    )


VLLM = [
    "INFO 03-02 10:15:01 [api_server.py:1043] vLLM API server version 0.8.4",
    "INFO 03-02 10:15:02 [logger.py:39] Received request chatcmpl-0123456789abcdef0123456789abcdef:"
    " prompt: 'Hello there', params: SamplingParams(n=1, temperature=0.7, max_tokens=16),"
    " prompt_token_ids: [1, 2, 3], lora_request: None, prompt_adapter_request: None.",
    "INFO 03-02 10:15:02 [async_llm.py:252] Added request chatcmpl-0123456789abcdef0123456789abcdef.",
    'INFO:     172.16.0.9:40110 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
    "ERROR 03-02 10:15:20 [engine.py:160] Exception in worker loop",
    "ERROR 03-02 10:15:20 [engine.py:160] Traceback (most recent call last):",
    'ERROR 03-02 10:15:20 [engine.py:160]   File "/opt/vllm/engine.py", line 158, in start',
    "ERROR 03-02 10:15:20 [engine.py:160] RuntimeError: NCCL error: unhandled system error",
    'INFO:     172.16.0.9:40112 - "POST /v1/chat/completions HTTP/1.1" 500 Internal Server Error',
    "INFO 03-02 10:15:30 [launcher.py:74] Shutting down FastAPI HTTP server.",
]
DOCKER_T0 = datetime(2025, 3, 2, 10, 15, 0, tzinfo=UTC)


def docker_time(i: int) -> str:
    """``docker logs -t``'s RFC3339NanoFixed stamp: always nine fraction digits."""
    stamp = DOCKER_T0 + timedelta(seconds=i)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{123456000 + i:09d}Z"


def _build(tmp: Path, files: dict[str, bytes], **options: Any) -> dict[str, Any]:
    inputs = tmp / "in"
    inputs.mkdir()
    for name, data in files.items():
        (inputs / name).write_bytes(data)
    report = timeline.build(
        [str(inputs)],
        tmp / "out",
        correlate=False,
        report=False,
        jobs=1,
        salt="prefix-tests",
        keep_content=True,
        **options,
    )
    accounts: dict[str, FileAccount] = {Path(a.source_file).name: a for a in report.accounts}
    assert all(a.balanced() for a in accounts.values())
    events = pl.read_parquet(tmp / "out" / "events.parquet").with_columns(
        pl.col("source_file").str.split("/").list.last()
    )
    rejects = pl.read_parquet(tmp / "out" / "rejects.parquet").with_columns(
        pl.col("source_file").str.split("/").list.last()
    )
    return {"accounts": accounts, "events": events, "rejects": rejects}


def _counts(account: FileAccount) -> tuple[int, int, int, int, int]:
    return (
        account.lines_read,
        account.lines_parsed,
        account.lines_rejected,
        account.lines_skipped,
        account.events,
    )


def _of(events: pl.DataFrame, name: str) -> pl.DataFrame:
    return events.filter(pl.col("source_file") == name).sort("source_line", maintain_order=True)


def _attributes(value: Any) -> dict[str, str]:
    """``attributes`` as a dict (a parquet MAP reads as a dict or as key/value structs)."""
    if isinstance(value, dict):
        return dict(value)
    return {kv["key"]: kv["value"] for kv in value or []}


def _envelope(row: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in _attributes(row["attributes"]).items() if k.startswith("envelope.")}


def _without_envelope(events: pl.DataFrame) -> list[dict[str, Any]]:
    """The events as the parser made them: envelope attributes and provenance columns left out
    (also ``host_from``: a host taken from the file name where no envelope names one)."""
    rows = []
    for row in events.iter_rows(named=True):
        own = {
            k: v
            for k, v in _attributes(row["attributes"]).items()
            if not k.startswith("envelope.") and k != "host_from"
        }
        rows.append({k: v for k, v in row.items() if k not in ENVELOPE_COLUMNS} | {"own": own})
    return rows


# --- bad bytes cost only their own line ----------------------------------------------------------


def test_one_nul_line_rejects_that_line_only(tmp_path: Path) -> None:
    lines = [nginx(i).encode() for i in range(16)]
    lines[7] = lines[7][:30] + b"\x00\x00\x00" + lines[7][30:]
    out = _build(tmp_path, {"access.log": b"\n".join(lines) + b"\n"})
    account = out["accounts"]["access.log"]
    # Before: the NUL in the head made the whole file "binary": parsed 0 + rejected 16.
    assert account.parser == "nginx_combined"
    assert _counts(account) == (16, 15, 1, 0, 15)
    assert account.rejects_by_reason == {NUL_REASON: 1}
    assert account.notes == []
    assert out["rejects"]["source_line"].to_list() == [8]
    assert 8 not in out["events"]["source_line"].to_list()


def test_copytruncate_holes(tmp_path: Path) -> None:
    text = "".join(nginx(i) + "\n" for i in range(5)).encode()
    out = _build(
        tmp_path,
        {
            "rotated.log": b"\x00" * 300_000 + text,  # the hole runs into line 1
            "rotated-nl.log": b"\x00" * 4096 + b"\n" + text,  # the hole is a line of its own
            "hole-only.log": b"\x00" * 70_000,  # truncated, nothing written yet
        },
    )
    accounts = out["accounts"]
    rotated = accounts["rotated.log"]
    assert _counts(rotated) == (5, 5, 0, 0, 5)
    assert rotated.notes == [
        "the file starts with 300000 NUL bytes, the hole copytruncate rotation leaves: they were"
        " dropped and line 1 is the text after them"
    ]
    assert _of(out["events"], "rotated.log")["source_line"].to_list() == [1, 2, 3, 4, 5]
    with_newline = accounts["rotated-nl.log"]
    assert _counts(with_newline) == (6, 5, 1, 0, 5)
    assert with_newline.rejects_by_reason == {HOLE_REASON: 1}
    hole_only = accounts["hole-only.log"]
    assert _counts(hole_only) == (1, 0, 1, 0, 0)
    assert hole_only.rejects_by_reason == {HOLE_REASON: 1}
    holes = out["rejects"].filter(pl.col("reason") == HOLE_REASON).sort("source_file")
    assert holes.select("source_file", "source_line", "line_length").rows() == [
        ("hole-only.log", 1, 70_000),
        ("rotated-nl.log", 1, 4096),
    ]


def test_an_empty_file_counts_as_zero_lines(tmp_path: Path) -> None:
    good = "".join(nginx(i) + "\n" for i in range(3)).encode()
    out = _build(tmp_path, {"empty.log": b"", "access.log": good})
    empty = out["accounts"]["empty.log"]
    assert _counts(empty) == (0, 0, 0, 0, 0)
    assert empty.notes == ["empty file: no lines"]
    assert _counts(out["accounts"]["access.log"]) == (3, 3, 0, 0, 3)


def test_a_mostly_binary_file_is_rejected_with_a_note(tmp_path: Path) -> None:
    lines = [b"\x00\x01\x02\x03 frame %d \xff\xfe" % i for i in range(9)] + [nginx(1).encode()]
    out = _build(tmp_path, {"capture.bin": b"\n".join(lines) + b"\n"})
    account = out["accounts"]["capture.bin"]
    assert account.parser is None and account.detection == "binary"
    assert _counts(account) == (10, 0, 10, 0, 0)
    assert account.rejects_by_reason == {"invalid UTF-8": 9, BINARY_REASON: 1}
    assert account.notes == [
        "treated as binary (not a text log): 9 of the 10 lines read to sniff it (90%) are not text"
        " (NUL bytes, invalid UTF-8 or control characters)"
    ]


def test_a_few_binary_lines_do_not_make_a_binary_file(tmp_path: Path) -> None:
    lines = [nginx(i).encode() for i in range(6)]
    lines[1] = b"\xff\xfe\xfd not utf-8"
    lines[4] = b"\x00\x00\x00\x00"
    out = _build(tmp_path, {"access.log": b"\n".join(lines)})
    account = out["accounts"]["access.log"]
    assert _counts(account) == (6, 4, 2, 0, 4)
    assert account.rejects_by_reason == {"invalid UTF-8": 1, NUL_REASON: 1}


# --- prefixes are envelopes, line by line --------------------------------------------------------


def _same_as_plain(
    tmp_path: Path, plain: list[str], prefixed: list[str], same_time: bool = True, **options: Any
) -> tuple[pl.DataFrame, pl.DataFrame, FileAccount]:
    """Build both files; assert the prefixed one parses exactly like the plain one (and has the
    same times, with ``same_time``: every line has its own)."""
    out = _build(
        tmp_path,
        {
            "plain.log": ("\n".join(plain) + "\n").encode(),
            "prefixed.log": ("\n".join(prefixed) + "\n").encode(),
        },
        **options,
    )
    base, wrapped = out["accounts"]["plain.log"], out["accounts"]["prefixed.log"]
    assert wrapped.parser == base.parser
    assert _counts(wrapped) == _counts(base)
    assert wrapped.rejects_by_reason == base.rejects_by_reason
    plain_events = _of(out["events"], "plain.log")
    prefixed_events = _of(out["events"], "prefixed.log")
    times = (
        ()
        if same_time
        else (
            "ts",
            "ts_source",
            "ts_assumed_tz",
            "ts_inherited",
            "ts_precision_ms",
            "clock_offset_ms",
        )
    )
    keep = [c for c in plain_events.columns if c not in times]
    assert _without_envelope(prefixed_events.select(keep)) == _without_envelope(
        plain_events.select(keep)
    )
    return plain_events, prefixed_events, wrapped


def test_vllm_behind_docker_timestamps_on_some_lines(tmp_path: Path) -> None:
    prefixed = [
        f"{docker_time(i)} {line}" if i < 4 or i % 3 == 0 else line for i, line in enumerate(VLLM)
    ]
    plain, wrapped, account = _same_as_plain(tmp_path, VLLM, prefixed, same_time=False, year=2025)
    assert account.detection.endswith(" in docker_timestamps envelope")
    for base, row in zip(plain.iter_rows(named=True), wrapped.iter_rows(named=True), strict=True):
        index = row["source_line"] - 1
        if prefixed[index] == VLLM[index]:
            assert _envelope(row) == {}
            assert row["ts"] == base["ts"]
            continue
        assert _envelope(row) == {
            "envelope.kind": "docker_timestamps",
            "envelope.time": docker_time(index),
        }
        # The line's own time wins; the prefix's time fills a line that has none (a time
        # inherited from an earlier line is not the line's own).
        own = base["ts"] is not None and not base.get("ts_inherited")
        prefix_time = DOCKER_T0 + timedelta(seconds=index, microseconds=123456)
        assert row["ts"] == (base["ts"] if own else prefix_time)
    access = wrapped.filter(pl.col("source_line") == 4).row(0, named=True)
    assert access["ts"] is not None and access["ts_assumed_tz"] is False


def test_compose_prefix_on_the_lines_after_a_restart(tmp_path: Path) -> None:
    prefixed = [line if i < 3 else f"vllm-1     | {line}" for i, line in enumerate(VLLM)]
    _, wrapped, account = _same_as_plain(tmp_path, VLLM, prefixed, year=2025)
    assert account.detection.endswith(" in compose envelope")
    hosts = dict(zip(wrapped["source_line"], wrapped["host"], strict=True))
    assert [hosts[n] for n in (1, 2, 3)] == ["prefixed"] * 3  # no envelope: the file's name
    assert {hosts[n] for n in hosts if n > 3} == {"vllm-1"}
    row = wrapped.filter(pl.col("source_line") == 4).row(0, named=True)
    assert _envelope(row) == {"envelope.kind": "compose", "envelope.service": "vllm-1"}


def test_kubectl_prefix_with_and_without_timestamps(tmp_path: Path) -> None:
    prefixed = [
        f"[pod/vllm-7d9f8-x2k4q/vllm] {docker_time(i) + ' ' if i % 2 else ''}{line}"
        for i, line in enumerate(VLLM)
    ]
    _, wrapped, account = _same_as_plain(tmp_path, VLLM, prefixed, same_time=False, year=2025)
    assert account.detection.endswith(" in kubectl_prefix envelope")
    assert set(wrapped["host"]) == {"vllm-7d9f8-x2k4q"}
    first, second = wrapped.head(2).iter_rows(named=True)
    assert _envelope(first) == {
        "envelope.kind": "kubectl_prefix",
        "envelope.pod": "vllm-7d9f8-x2k4q",
        "envelope.container": "vllm",
    }
    assert _envelope(second)["envelope.time"] == docker_time(1)


def test_grep_rh_output_with_and_without_line_numbers(tmp_path: Path) -> None:
    plain = [nginx(i) for i in range(8)]
    prefixed = [
        f"logs/gw-a/access.log:{line}" if i < 4 else f"logs/gw-b/access.log.1:{i - 3}:{line}"
        for i, line in enumerate(plain)
    ]
    _, wrapped, account = _same_as_plain(tmp_path, plain, prefixed)
    assert account.detection.endswith(" in grep_prefix envelope")
    rows = list(wrapped.iter_rows(named=True))
    assert _envelope(rows[0]) == {
        "envelope.kind": "grep_prefix",
        "envelope.file": "logs/gw-a/access.log",
    }
    assert _envelope(rows[5]) == {
        "envelope.kind": "grep_prefix",
        "envelope.file": "logs/gw-b/access.log.1",
        "envelope.file_line": "2",
    }
    # grep names files, not hosts: the host is the last resort, the file's own name (flagged)
    assert set(wrapped["host"]) == {"prefixed"}
    assert {_attributes(r["attributes"]).get("host_from") for r in rows} == {"file_name"}


def _frame(lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines},
        schema={"source_line": pl.Int64, "line": pl.String},
    )


@pytest.mark.parametrize(
    ("lines", "kinds"),
    [
        # grep: a path (a slash or a log extension), not a URL, a source file or a date
        ([f"access.log:{nginx(1)}", f"access.log:{nginx(2)}"], ("grep_prefix",)),
        (["http://example.com/a:b", "https://example.com/a:b"], ()),
        (["example.com/v1://x", "example.com/v1://y"], ()),
        (["/usr/lib/python3/site.py:52: UserWarning: a", "/usr/lib/python3/site.py:53: b"], ()),
        (["/src/app/main.go:12: listening", "/src/app/main.go:14: ready"], ()),
        (["02/Mar/2025:10:15:04 +0000 one", "02/Mar/2025:10:15:05 +0000 two"], ()),
        (['{"a/b": 1}', '{"a/b": 2}'], ()),
        (["ts=2025-03-02T10:15:04Z level=info", "ts=2025-03-02T10:15:05Z level=info"], ()),
        # one stray path-like line among plain ones is not grep output
        ([f"logs/a.log:{nginx(1)}", nginx(2), nginx(3)], ()),
        # compose: the separator at a consistent column
        ([f"vllm-1     | {VLLM[0]}", f"gateway-1  | {nginx(1)}", VLLM[1]], ("compose",)),
        ([f"vllm-1  | {VLLM[0]}", "name | value", VLLM[1]], ()),
        # docker --timestamps: nine fraction digits; an ALB or TGI time is the line's own
        ([f"{docker_time(1)} {VLLM[0]}", VLLM[1]], ("docker_timestamps",)),
        (["2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80"], ()),
        (["2025-03-02T10:00:00.000100Z  INFO text_generation_launcher: Args"], ()),
        # CRI lines have the same stamp, but are CRI
        ([f"{docker_time(1)} stdout F {nginx(1)}"], ("cri",)),
        (["[pod/gw-0/nginx] " + nginx(1), nginx(2)], ("kubectl_prefix",)),
    ],
)
def test_prefix_rules(lines: list[str], kinds: tuple[str, ...]) -> None:
    assert detect_kinds(_frame(lines)) == kinds


# --- property: any prefix on any lines gives the same events -------------------------------------

_METHODS = ("GET", "POST", "PUT", "DELETE")
_nginx_line = st.builds(
    lambda ip, when, method, path, status, size: (
        f"{ip[0]}.{ip[1]}.{ip[2]}.{ip[3]} - - [{when.strftime('%d/%b/%Y:%H:%M:%S')} +0000]"
        f' "{method} /{path} HTTP/1.1" {status} {size} "-" "curl/8.5.0"'
    ),
    st.tuples(*[st.integers(1, 254)] * 4),
    st.datetimes(datetime(2024, 1, 1), datetime(2026, 1, 1)),
    st.sampled_from(_METHODS),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/_-", max_size=30),
    st.integers(100, 599),
    st.integers(0, 10**7),
)


def _prefix(kind: str, index: int, service: str, variant: bool) -> str:
    if kind == "docker_timestamps":
        return f"{docker_time(index)} "
    if kind == "compose":
        return f"{service:<12} | "
    if kind == "kubectl_prefix":
        return f"[pod/{service}-5f6d7/{service.replace('.', '-')}] "  # a container name has no dot
    # grep -rHn, or grep -H on one file
    return f"logs/{service}/access.log:{index + 1}:" if variant else f"{service}.log:"


@pytest.mark.slow  # a build per example: runs in CI's slow step
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(_nginx_line, min_size=2, max_size=20),
    kind=st.sampled_from(("docker_timestamps", "compose", "kubectl_prefix", "grep_prefix")),
    service=st.sampled_from(("gateway", "nginx-1", "edge.proxy")),
    variant=st.booleans(),
    chosen=st.data(),
)
def test_any_prefix_on_any_lines_gives_the_same_events(
    lines: list[str], kind: str, service: str, variant: bool, chosen: st.DataObject
) -> None:
    # At least two prefixed lines: compose and grep need two to tell a prefix from content.
    subset = chosen.draw(
        st.sets(st.integers(0, len(lines) - 1), min_size=2, max_size=len(lines)), label="subset"
    )
    prefixed = [
        _prefix(kind, i, service, variant) + line if i in subset else line
        for i, line in enumerate(lines)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        _, wrapped, account = _same_as_plain(Path(tmp), lines, prefixed)
    assert account.detection.endswith(f" in {kind} envelope")
    assert account.lines_parsed == len(lines)
    wrapped_lines = {
        row["source_line"] - 1 for row in wrapped.iter_rows(named=True) if _envelope(row)
    }
    assert wrapped_lines == subset


# --- prefixes that first appear after the sample -------------------------------------------------

LATE_PREFIXES: dict[str, Callable[[int], str]] = {
    "docker_timestamps": lambda i: f"{docker_time(i)} ",
    "compose": lambda i: "gateway-1  | ",
    "kubectl_prefix": lambda i: "[pod/gw-7d9f8-x2k4q/nginx] ",
    "grep_prefix": lambda i: "logs/gw/access.log.1:",
}


@pytest.mark.parametrize("kind", sorted(LATE_PREFIXES))
def test_a_prefix_first_seen_after_the_sample_is_still_an_envelope(
    tmp_path: Path, kind: str
) -> None:
    # 70 plain lines fill the detection sample (64 lines); the prefix starts on line 71.
    plain = [nginx(i, second=i) for i in range(80)]
    prefixed = [line if i < 70 else LATE_PREFIXES[kind](i) + line for i, line in enumerate(plain)]
    _, wrapped, account = _same_as_plain(tmp_path, plain, prefixed, same_time=kind != "compose")
    assert account.lines_rejected == 0
    late = wrapped.filter(pl.col("source_line") > 70)
    assert {_envelope(r)["envelope.kind"] for r in late.iter_rows(named=True)} == {kind}
    assert all(_envelope(r) == {} for r in wrapped.head(70).iter_rows(named=True))


def test_traefik_json_behind_a_grep_file_prefix(tmp_path: Path) -> None:
    record = (
        '{"ClientHost":"203.0.113.9","DownstreamStatus":200,"Duration":12000000,'
        '"RequestMethod":"POST","RequestPath":"/v1/chat/completions","RequestProtocol":"HTTP/1.1",'
        '"RouterName":"llm@docker","StartUTC":"2025-03-02T10:15:%02d.5Z","level":"info","msg":""}'
    )
    plain = [record % i for i in range(6)]
    prefixed = [f"traefik/access.log:{line}" for line in plain]
    _, wrapped, account = _same_as_plain(tmp_path, plain, prefixed)
    assert account.parser == "traefik_json"
    assert account.detection.endswith(" in grep_prefix envelope")
    assert {_envelope(r)["envelope.file"] for r in wrapped.iter_rows(named=True)} == {
        "traefik/access.log"
    }
