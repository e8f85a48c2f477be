"""Multi-line parsers merge only real continuation lines: a foreign line between records is a reject.

For every multi-line parser of the registry, one golden input gets foreign lines (an nginx line, a
JSON object of another format, plain text, a syslog line) inserted before lines where a record
starts (its ``record_start``, or the first line). Each inserted line must come out as a reject and
every other event must be unchanged apart from its ``source_line``/``event_id``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.inference.tgi_text.parser import FREE_TEXT as TGI_FREE_TEXT
from parsers.policy.nemo_guardrails.parser import FREE_TEXT as NEMO_FREE_TEXT
from timeline.parse.registry import default_registry
from timeline.parserkit.api import (
    LINE_SCHEMA,
    ParseResult,
    Source,
    SourceSettings,
    is_multiline,
    keeps_blank,
)
from timeline.pipeline.golden import GoldenCase, registry_cases, run_one

REGISTRY = default_registry(plugins=False)
MULTILINE: Final = sorted(p.name for p in REGISTRY if is_multiline(p))

FOREIGN: Final = (
    '10.0.0.1 - - [02/Mar/2025:10:15:04 +0000] "GET /health HTTP/1.1" 200 2 "-" "curl/8.5.0"',
    '{"ts": "2025-03-02T10:15:04Z", "service": "billing", "msg": "invoice sent"}',
    "hello world",
    "Mar  2 10:15:04 host-1 sshd[812]: Accepted publickey for ops from 10.0.0.9 port 52144",
)

# Parsers that still fold foreign lines into the record before them (not this change's files):
# they are expected to fail until fixed; ``strict`` makes a fix visible.
KNOWN_FOLDING: Final[dict[str, str]] = {}

# Documented free-text records: a message that carries real newlines (a prompt, a completion) owns
# every line after it up to the next record, so no line placed there can be told apart from it.
# Per parser: (the message part of a record's first line, the free-text test on that message).
FREE_TEXT_AFTER: Final[dict[str, tuple[str, str]]] = {
    "tgi_text": (
        r"^\S+\s+[A-Z]+\s+(?:.*?: )?(?:[\w:]+): (?:[^\s:]+\.rs:\d+: )?(.*)$",
        TGI_FREE_TEXT,
    ),
    "nemo_guardrails": (r"^[A-Z]+:nemoguardrails[\w.]*:(.*)$", NEMO_FREE_TEXT),
}

# Fields that shift with line numbers.
_SHIFTING: Final = ("source_line", "event_id", "parent_event_id")


def _case(name: str) -> GoldenCase:
    cases = [c for c in registry_cases(REGISTRY, [name]) if not c.expects_rejects_only]
    cases = cases or registry_cases(REGISTRY, [name])
    # the largest well-formed case exercises the most record boundaries
    return max(cases, key=lambda c: c.input.stat().st_size)


def _lines(case: GoldenCase) -> list[str] | None:
    try:
        return case.input.read_text(encoding="utf-8").splitlines()
    except (UnicodeDecodeError, OSError):
        return None


def _boundaries(name: str, lines: list[str]) -> list[int]:
    """Indexes of lines before which a foreign line goes: the first line, and record starts."""
    pattern = getattr(REGISTRY.get(name), "record_start", None)
    if not pattern:
        return [0]
    rx = re.compile(pattern)
    starts = [i for i, line in enumerate(lines) if rx.search(line)]
    points = {0, *starts}
    if name in FREE_TEXT_AFTER:
        message, free = (re.compile(p) for p in FREE_TEXT_AFTER[name])
        owned = set()
        for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
            found = message.search(lines[start])
            if found and free.search(found.group(1)):
                owned.add(end)
        points -= owned
    return sorted(points)


def _run(name: str, lines: list[str]) -> ParseResult:
    """The parser's own result for the whole file (blank lines dropped as the pipeline does)."""
    parser = REGISTRY.get(name)
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines}, schema=LINE_SCHEMA
    )
    if not keeps_blank(parser):
        frame = frame.filter(pl.col("line").str.strip_chars() != "")
    return parser.parse(Source(name, frame, SourceSettings(year=2025)))


def _comparable(events: pl.DataFrame) -> list[dict[str, Any]]:
    return events.drop([c for c in _SHIFTING if c in events.columns]).to_dicts()


def _params() -> list[Any]:
    out = []
    for name in MULTILINE:
        marks = []
        if name in KNOWN_FOLDING:
            marks.append(pytest.mark.xfail(reason=KNOWN_FOLDING[name], strict=True))
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.slow  # every multi-line parser on its golden inputs: runs in the slow step
@pytest.mark.parametrize("name", _params())
@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_foreign_lines_between_records_are_rejected(name: str, data: st.DataObject) -> None:
    case = _case(name)
    lines = _lines(case)
    if lines is None:
        pytest.skip(f"{case.input.name} is not UTF-8 text")
    points = _boundaries(name, lines)
    chosen = data.draw(
        st.lists(st.sampled_from(points), min_size=1, max_size=3, unique=True), label="before"
    )
    foreign = data.draw(
        st.lists(st.sampled_from(FOREIGN), min_size=len(chosen), max_size=len(chosen)),
        label="foreign",
    )
    mixed: list[str] = []
    inserted: list[int] = []  # 1-based source lines of the inserted lines
    by_point = dict(zip(sorted(chosen), foreign, strict=True))
    for i, line in enumerate(lines):
        if i in by_point:
            mixed.append(by_point[i])
            inserted.append(len(mixed))
        mixed.append(line)

    base = _run(name, lines)
    run = _run(name, mixed)

    rejected = set(run.rejects.get_column("source_line").to_list())
    missing = [n for n in inserted if n not in rejected]
    assert not missing, f"{name}: inserted lines {missing} were not rejected:\n" + "\n".join(
        mixed[n - 1] for n in missing
    )
    assert run.rejects.height == base.rejects.height + len(inserted)
    assert run.skipped.height == base.skipped.height
    assert run.merged_lines == base.merged_lines
    assert _comparable(run.events) == _comparable(base.events)


VLLM_MIXED: Final = """\
INFO 03-02 10:15:00 [api_server.py:1090] vLLM API server version 0.8.5
INFO:     Started server process [1]
INFO:     Waiting for application startup.
INFO:     Application startup complete.
INFO:root:Loading chat template from /models/template.jinja
WARNING:root:Overriding max_model_len to 4096
INFO 03-02 10:15:04 [logger.py:39] Received request chatcmpl-0123456789abcdef0123456789abcdef: \
prompt: 'hi', params: SamplingParams(n=1, max_tokens=16), prompt_token_ids: [1, 2, 3], \
lora_request: None, prompt_adapter_request: None.
INFO:     10.0.0.5:51234 - "POST /v1/chat/completions HTTP/1.1" 200 OK
INFO 03-02 10:15:05 [async_llm.py:252] Added request chatcmpl-0123456789abcdef0123456789abcdef.
Request finished request_id=chatcmpl-0123456789abcdef0123456789abcdef prompt_tokens=3 \
generated_tokens=16
INFO:root:request served in 0.8s
INFO:     10.0.0.5:51240 - "GET /health HTTP/1.1" 200 OK
hello world
ERROR 03-02 10:15:09 [engine.py:160] Engine loop failed
Traceback (most recent call last):
  File "/opt/vllm/engine.py", line 158, in run
    step()
RuntimeError: CUDA error: out of memory
INFO:     10.0.0.5:51250 - "POST /v1/chat/completions HTTP/1.1" 500 Internal Server Error
Finished request chatcmpl-0123456789abcdef0123456789abcdef
"""


def test_vllm_interleaved_lines_are_events_of_their_own(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(VLLM_MIXED, encoding="utf-8")
    config = tmp_path / "timeline.toml"
    config.write_text("[defaults]\nyear = 2025\n", encoding="utf-8")
    run = run_one(log, "vllm", config, REGISTRY)
    acc = run.account
    # 20 lines: 15 events, 4 traceback lines merged into the ERROR record, `hello world` rejected
    assert (acc.lines_read, acc.lines_parsed, acc.lines_rejected, acc.lines_skipped) == (
        20,
        19,
        1,
        0,
    )
    assert acc.events == 15
    assert acc.rejects_by_reason == {"not a vLLM log line": 1}
    assert run.rejects.get_column("source_line").to_list() == [13]
    events = {row["source_line"]: row for row in run.events.to_dicts()}
    assert sorted(events) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 19, 20]
    assert events[5]["message"] == "Loading chat template from /models/template.jinja"
    assert events[6]["severity"] == "WARN"
    assert [events[n]["event_type"] for n in (8, 12, 19)] == ["http.response"] * 3
    stats = events[10]
    assert stats["event_type"] == "inference.response"
    assert (stats["input_tokens"], stats["output_tokens"]) == (3, 16)
    assert stats["request_id"] == "chatcmpl-0123456789abcdef0123456789abcdef"
    error = events[14]
    assert error["error_type"] == "RuntimeError"
    attrs = error["attributes"]
    if isinstance(attrs, list):
        attrs = {a["key"]: a["value"] for a in attrs}
    traceback = attrs["traceback"]
    assert traceback.splitlines()[-1] == "RuntimeError: CUDA error: out of memory"
    assert "Finished request" not in traceback and "INFO:" not in traceback
