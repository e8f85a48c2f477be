"""Nothing secret in the default outputs: credentials and personal data planted in every format.

Every kind of secret the redaction knows is planted in logs of each format family (an nginx access
line's URL, referer and user agent; Envoy JSON and LiteLLM JSON records with headers; vLLM text
messages; OTLP span attributes; OpenAI moderation records; malformed lines that become rejects).
A build through the library API writes every output, and each output file is scanned, Parquet
columns, map values and metadata included: nothing is found by default, everything with
``keep_content``.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import timeline
from tests.cli_helpers import run_cli
from timeline.normalize.redact import (
    is_credential_name,
    luhn_ok,
    marker,
    redact_frame,
    redact_rejects,
    redact_text,
    scrub_option,
)
from timeline.schema import conform

ROOT = Path(__file__).resolve().parent.parent


def _luhn_complete(prefix: str) -> str:
    """``prefix`` + the check digit that makes it pass Luhn."""
    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))


@dataclass(frozen=True)
class Plant:
    """One planted secret: its kind, the text carrying it, and the value that must not leak."""

    kind: str
    text: str  # how it appears in a free-text field
    secret: str  # the part that must not appear in any default output
    header: tuple[str, str] | None = None  # (name, value) when it is a header
    param: tuple[str, str] | None = None  # (name, value) when it is a query parameter


QUERY_NAMES = (
    "key",
    "token",
    "secret",
    "password",
    "signature",
    "sig",
    "access_token",
    "api_key",
    "apikey",
)


def plants(tag: str, n: int) -> list[Plant]:
    """Every kind of secret, with values unique to the family ``tag`` (letters) number ``n``."""
    up = tag.upper()
    out = [
        Plant("authorization", "", f"AuthTok{tag}0123456789", ("Authorization", "")),
        Plant("proxy-authorization", "", f"UHJveHk{tag}6cGFzcw", ("Proxy-Authorization", "")),
        Plant("cookie", "", f"Cookie{tag}Val42", ("Cookie", "")),
        Plant("set-cookie", "", f"SetCookie{tag}Val42", ("Set-Cookie", "")),
        Plant("x-api-key", "", f"XApiKey{tag}Val42", ("x-api-key", "")),
        Plant("api-key", "", f"ApiKeyHdr{tag}Val42", ("api-key", "")),
    ]
    header_values = {
        "authorization": "Bearer {s}",
        "proxy-authorization": "Basic {s}",
        "cookie": "sid={s}; theme=dark",
        "set-cookie": "id={s}; Path=/; HttpOnly",
    }
    out = [
        Plant(
            p.kind,
            f"{p.header[0]}: {header_values.get(p.kind, '{s}').format(s=p.secret)}",
            p.secret,
            (p.header[0], header_values.get(p.kind, "{s}").format(s=p.secret)),
        )
        for p in out
        if p.header
    ]
    for name in QUERY_NAMES:
        value = f"Qp{name.replace('_', '')}{tag}v1"
        out.append(
            Plant(f"query:{name}", f"GET /v1/x?model=m&{name}={value}", value, None, (name, value))
        )
    jwt = f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{tag}In0.c2lnbmF0dXJl{tag}"
    aws = (up + "EXAMPLE0123456789")[:16]
    shapes = {
        "jwt": jwt,
        "sk": f"sk-{tag}abcdefghijklmnop1234",
        "sk-proj": f"sk-proj-{tag}AbCdEfGhIjKlMnOp12",
        "sk-ant": f"sk-ant-api03-{tag}AbCdEfGhIjKlMnOp",
        "akia": f"AKIA{aws}",
        "asia": f"ASIA{aws}",
        "ghp": "ghp_" + (tag + "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8")[:36],
        "gho": "gho_" + (tag + "z1y2x3w4v5u6t7s6r5q4p3o2n1m0l9k8j7i6")[:36],
        "github_pat": f"github_pat_11{up}0123456789_abcdefghijklmnopqrstuv",
        "xoxb": f"xoxb-1234567890-{tag}abcdefgh",
        "xoxp": f"xoxp-2234567890-{tag}abcdefgh",
        "xoxa": f"xoxa-3234567890-{tag}abcdefgh",
        "xoxs": f"xoxs-4234567890-{tag}abcdefgh",
        "aiza": "AIza" + ("Sy" + tag + "abcdefghijklmnopqrstuvwxyz0123456789")[:35],
    }
    out += [Plant(k, f"failed with key {v} (rotated)", v) for k, v in shapes.items()]
    url_pw = f"UrlPw{tag}9876"
    out.append(Plant("url-password", f"clone https://deploy:{url_pw}@git.example.com/r", url_pw))
    bearer = f"BearerTok{tag}123456789"
    out.append(Plant("bearer", f"retry with bearer {bearer} now", bearer))
    email = f"person.{tag}@example.com"
    out.append(Plant("email", f"notify {email} today", email))
    phone = f"(415) 555-01{n:02d}"
    out.append(Plant("phone", f"call {phone} asap", phone))
    intl = f"+44 20 7946 09{n:02d}"
    out.append(Plant("phone-intl", f"call {intl} asap", intl))
    card = _luhn_complete(f"411111111111{n:03d}")
    spaced = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    out.append(Plant("card", f"card {spaced} on file", spaced))
    return out


FAMILIES = ("nginx", "envoy", "litellm", "vllm", "otlp", "moderation", "reject")


def _nginx(ps: list[Plant]) -> list[str]:
    lines = []
    for i, p in enumerate(ps):
        path, referer, agent = "/v1/chat", "-", "curl/8.0"
        if p.param:
            path = f"/v1/chat?model=m&{p.param[0]}={p.param[1]}"
        elif p.kind in ("url-password", "jwt"):
            referer = (
                f"https://deploy:{p.secret}@app.example.com/cb"
                if p.kind == "url-password"
                else (f"https://app.example.com/cb?state=1&id_token={p.secret}")
            )
        else:
            agent = f"curl/8.0 ({p.text})"
        lines.append(
            f"10.0.0.{i % 250 + 1} - - [02/Mar/2025:10:15:{i % 60:02d} +0000] "
            f'"GET {path} HTTP/1.1" '
            f'200 612 "{referer}" "{agent}"'
        )
    # clean lines so that the malformed ones below are past the detection sample
    lines += [
        f"10.0.1.{i} - - [02/Mar/2025:10:16:{i % 60:02d} +0000] "
        '"GET /health HTTP/1.1" 200 2 "-" "probe"'
        for i in range(1, 40)
    ]
    return lines


def _rejects(ps: list[Plant]) -> list[str]:
    return [f"<<garbled {i}>> {p.text} {'x' * (i * 7)}" for i, p in enumerate(ps)]


def _envoy(ps: list[Plant]) -> list[str]:
    lines = []
    for i, p in enumerate(ps):
        record: dict[str, object] = {
            "start_time": f"2025-03-02T10:15:{i % 60:02d}.120Z",
            "method": "POST",
            "path": "/v1/chat/completions",
            "protocol": "HTTP/1.1",
            "response_code": 200,
            "duration": 12,
            "request_id": f"env-req-{i}",
            "upstream_host": "10.0.4.12:443",
        }
        if p.header:
            record[p.header[0].lower()] = p.header[1]
        elif p.param:
            record["path"] = f"/v1/chat/completions?{p.param[0]}={p.param[1]}"
        elif p.kind == "email":
            record["user_id"] = p.secret
            record["session.id"] = p.secret
            record["user_agent"] = p.text
        else:
            record["user_agent"] = f"sdk/1.0 {p.text}"
            record["referer"] = p.text
        lines.append(json.dumps(record))
    return lines


def _litellm(ps: list[Plant]) -> list[str]:
    lines = []
    for i, p in enumerate(ps):
        record: dict[str, object] = {
            "message": f"litellm.acompletion(model=gpt-4o) Exception {p.text}",
            "level": "ERROR",
            "timestamp": f"2025-03-02T10:30:{i % 60:02d}.120456",
            "litellm_call_id": f"b980db26-9512-45cc-b1da-{i:012d}",
            "component": "LiteLLM Router",
        }
        if p.header:
            record["headers"] = {p.header[0]: p.header[1]}
        if p.kind == "email":
            record["session_id"] = p.secret
        lines.append(json.dumps(record))
    return lines


def _vllm(ps: list[Plant]) -> list[str]:
    return [
        f"(APIServer pid=4012) ERROR 03-02 10:15:{i % 60:02d} [serving_chat.py:200] "
        f"Error in request chatcmpl-{i:04d}: {p.text}"
        for i, p in enumerate(ps)
    ]


def _otlp(ps: list[Plant]) -> list[str]:
    spans = []
    for i, p in enumerate(ps):
        if p.header:
            attr = (f"http.request.header.{p.header[0].lower()}", p.header[1])
        elif p.param:
            attr = ("url.full", f"https://api.example.com/v1/chat?{p.param[0]}={p.param[1]}")
        elif p.kind == "email":
            attr = ("enduser.id", p.secret)
        else:
            attr = ("exception.message", p.text)
        start = 1740910504000000000 + i * 1_000_000_000
        spans.append(
            {
                "traceId": f"{i + 1:032x}",
                "spanId": f"{i + 1:016x}",
                "name": "POST /v1/chat",
                "kind": 2,
                "startTimeUnixNano": str(start),
                "endTimeUnixNano": str(start + 5_000_000),
                "attributes": [
                    {"key": "http.request.method", "value": {"stringValue": "POST"}},
                    {"key": attr[0], "value": {"stringValue": attr[1]}},
                ],
                "status": {},
            }
        )
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "gateway"}}]}
    doc = {
        "resourceSpans": [
            {"resource": resource, "scopeSpans": [{"scope": {"name": "x"}, "spans": spans}]}
        ]
    }
    return [json.dumps(doc)]


def _moderation(ps: list[Plant]) -> list[str]:
    ok = {"flagged": False, "categories": {"hate": False}, "category_scores": {"hate": 0.01}}
    lines = [  # ordinary records first: error responses alone look like OpenAI HTTP logs
        json.dumps(
            {
                "ts": f"2025-04-01T11:00:{i:02d}.250Z",
                "request_id": f"mod-ok-{i}",
                "stage": "input",
                "response": {
                    "id": f"modr-ok{i}",
                    "model": "omni-moderation-latest",
                    "results": [ok],
                },
            }
        )
        for i in range(40)
    ]
    for i, p in enumerate(ps):
        record = {
            "ts": f"2025-04-01T12:00:{i % 60:02d}.250Z",
            "request_id": f"mod-req-{i}",
            "stage": "input",
            "user": p.secret if p.kind == "email" else None,
            "response": {
                "model": "omni-moderation-latest",
                "error": {"message": p.text, "type": "invalid_request_error", "code": "bad"},
            },
        }
        lines.append(json.dumps(record))
    return lines


@dataclass(frozen=True)
class Corpus:
    """The planted logs and what was planted."""

    root: Path
    secrets: dict[str, list[Plant]]  # family -> plants


def write_corpus(root: Path) -> Corpus:
    """The planted logs, one folder per layer."""
    secrets = {f: plants(f[:3].lower() + "x", n) for n, f in enumerate(FAMILIES)}
    files = {
        "gateway/access.log": _nginx(secrets["nginx"]) + _rejects(secrets["reject"]),
        "gateway/envoy.jsonl": _envoy(secrets["envoy"]),
        "gateway/litellm.log": _litellm(secrets["litellm"]),
        "inference/vllm.log": _vllm(secrets["vllm"]),
        "otel/traces.jsonl": _otlp(secrets["otlp"]),
        "policy/moderation.jsonl": _moderation(secrets["moderation"]),
    }
    for name, lines in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Corpus(root, secrets)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)


def _column_strings(array: pa.Array) -> Iterator[str]:
    """The distinct strings anywhere in ``array``: lists, structs and maps (keys, values) included."""
    kind = array.type
    if pa.types.is_map(kind):
        yield from _column_strings(array.keys)
        yield from _column_strings(array.items)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        yield from _column_strings(array.flatten())
    elif pa.types.is_struct(kind):
        for i in range(kind.num_fields):
            yield from _column_strings(array.field(i))
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        yield from (v for v in pc.unique(array).to_pylist() if v is not None)
    elif pa.types.is_dictionary(kind):
        yield from _column_strings(array.dictionary)


def output_text(path: Path) -> str:
    """Everything a reader of ``path`` could see, as one text (Parquet: every cell and metadata)."""
    if path.suffix == ".parquet":
        table = pq.read_table(path).combine_chunks()
        meta = table.schema.metadata or {}
        parts = [
            k.decode("utf-8", "replace") + " " + v.decode("utf-8", "replace")
            for k, v in meta.items()
        ]
        for column in table.columns:
            for chunk in column.chunks:
                parts += _column_strings(chunk)
        text = "\n".join(parts)
    else:
        text = path.read_bytes().decode("utf-8", "replace")
    # undo the escapes of the renderers (HTML entities, Markdown backslashes)
    unescaped = html.unescape(re.sub(r"\\([\\`*_{}\[\]()#+\-.!|<>~])", r"\1", text))
    return text + "\n" + unescaped


def scan(outdir: Path, values: list[str]) -> dict[str, list[str]]:
    """For every output file (relative name), the planted values found in it (Aho-Corasick)."""
    found = {}
    for path in sorted(p for p in outdir.rglob("*") if p.is_file()):
        text = pl.Series([output_text(path)])
        hits = set(text.str.extract_many(values, overlapping=True).explode().drop_nulls())
        found[str(path.relative_to(outdir))] = [v for v in values if v in hits]
    return found


def _build(corpus: Corpus, outdir: Path, keep: bool, correlate: bool = True) -> None:
    timeline.build([str(corpus.root)], outdir, keep_content=keep, year=2025, correlate=correlate)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The planted logs."""
    return write_corpus(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def default_out(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default build (with the appendix) of the planted logs."""
    out = tmp_path_factory.mktemp("default-out")
    _build(corpus, out, keep=False)
    return out


def _values(corpus: Corpus) -> list[str]:
    return [p.secret for ps in corpus.secrets.values() for p in ps]


def test_every_family_and_kind_is_planted_and_parsed(corpus: Corpus, default_out: Path) -> None:
    build = json.loads((default_out / "build.json").read_text(encoding="utf-8"))
    parsers = {Path(a["source_file"]).name: a["parser"] for a in build["accounting"]}
    assert parsers == {
        "access.log": "nginx_combined",
        "envoy.jsonl": "envoy_json",
        "litellm.log": "litellm_proxy",
        "vllm.log": "vllm",
        "traces.jsonl": "otlp_json",
        "moderation.jsonl": "openai_moderation",
    }
    kinds = {p.kind for p in corpus.secrets["nginx"]}
    assert len(kinds) == 35  # every kind the issue names, each family
    rejects = pl.read_parquet(default_out / "rejects.parquet")
    assert rejects.height >= len(corpus.secrets["reject"])


def test_default_outputs_hold_no_planted_secret(corpus: Corpus, default_out: Path) -> None:
    values = _values(corpus)
    found = scan(default_out, values)
    print("\nplanted values found per output (default):")
    for name, hits in found.items():
        print(f"  {name}: {len(hits)} of {len(values)}")
    assert {n: h for n, h in found.items() if h} == {}
    assert {"timeline.parquet", "requests.parquet", "rejects.parquet"} <= set(found)
    assert {"build.json", "appendix.md", "appendix.html", "appendix.json"} <= set(found)
    # the values reached the tables and were replaced there, not silently dropped by a parser
    events = output_text(default_out / "timeline.parquet")
    rejects = output_text(default_out / "rejects.parquet")
    for kind in ("email", "phone", "card", "api_key", "jwt", "token", "password"):
        assert f"[{kind}:" in events, kind
    assert rejects.count("[") > len(values) // 10


def test_keep_content_keeps_every_planted_secret(corpus: Corpus, tmp_path: Path) -> None:
    values = _values(corpus)
    _build(corpus, tmp_path, keep=True, correlate=False)  # events.parquet: the events alone
    found = scan(tmp_path, values)
    print("\nplanted values found per output (keep_content):")
    for name, hits in found.items():
        print(f"  {name}: {len(hits)} of {len(values)}")
    everywhere = {v for hits in found.values() for v in hits}
    assert sorted(set(values) - everywhere) == []
    # and not only in ``raw``: the parsers put them in columns and attributes (but rejects)
    table = pq.read_table(tmp_path / "events.parquet").drop(["raw"])
    columns = "\n".join(_strings(table.to_pylist()))
    for family, ps in corpus.secrets.items():
        if family != "reject":
            assert [p.kind for p in ps if p.secret not in columns] == [], family
    assert len(found["rejects.parquet"]) >= len(corpus.secrets["reject"])


def test_markers_join_across_columns(corpus: Corpus, default_out: Path) -> None:
    """The same value gives the same marker wherever it is; different values differ."""
    email = next(p.secret for p in corpus.secrets["envoy"] if p.kind == "email")
    row = (
        pl.read_parquet(default_out / "timeline.parquet")
        .filter(pl.col("parser") == "envoy_json", pl.col("session_id").is_not_null())
        .sort("source_line")
        .row(0, named=True)
    )
    session = row["session_id"]
    assert re.fullmatch(r"\[email:[0-9a-f]{12}\]", session)
    attributes = dict(row["attributes"])
    assert attributes["user_id"] == session
    assert session in attributes["user_agent"]
    assert {"kind": "session_id", "value": session} in row["ids"]
    requests = output_text(default_out / "requests.parquet")
    assert session in requests and email not in requests
    text = output_text(default_out / "timeline.parquet")
    assert len(set(re.findall(r"\[email:[0-9a-f]{12}\]", text))) == len(FAMILIES) - 1


def test_salt_and_old_derivable_hashes_never_written(
    corpus: Corpus, default_out: Path, _private_config_home: Path
) -> None:
    salt_file = _private_config_home / "ai-timeline" / "salt"
    assert salt_file.stat().st_mode & 0o777 == 0o600
    salt = bytes.fromhex(salt_file.read_text(encoding="ascii").strip())
    build = json.loads((default_out / "build.json").read_text(encoding="utf-8"))
    assert build["settings"]["salt"] == "installation"
    # the old salt: derived from the input hashes that build.json prints
    digest = hashlib.sha256(b"ai-timeline prompt salt\0")
    for sha in sorted(i["sha256"] for i in build["inputs"]):
        digest.update(sha.encode())
    old = digest.digest()
    email = next(p.secret for p in corpus.secrets["envoy"] if p.kind == "email")
    old_hash = hmac.new(old, email.encode(), hashlib.sha256).hexdigest()[:12]
    new_marker = marker(salt, "email", email)
    texts = {p.name: output_text(p) for p in default_out.iterdir() if p.is_file()}
    assert new_marker in texts["timeline.parquet"]
    for name, text in texts.items():
        assert old_hash not in text, name
        assert salt.hex() not in text and salt.hex()[:16] not in text, name


def test_custom_salt_is_never_written(corpus: Corpus, tmp_path: Path) -> None:
    value = "Custom-Salt-Value-8c1f"
    envoy = corpus.root / "gateway" / "envoy.jsonl"
    command = f"timeline build logs --salt {value}"
    timeline.build([str(envoy)], tmp_path, salt=value, command=command)
    build = json.loads((tmp_path / "build.json").read_text(encoding="utf-8"))
    assert build["settings"]["salt"] == "custom"
    assert build["command"] == "timeline build logs --salt ***"
    email = next(p.secret for p in corpus.secrets["envoy"] if p.kind == "email")
    assert marker(value.encode(), "email", email) in output_text(tmp_path / "timeline.parquet")
    for path in tmp_path.iterdir():
        assert value not in output_text(path), path.name


# ---- the redaction functions on their own ----


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("GET /x?api_key=abc123def456 HTTP/1.1", "token"),
        ("https://x.example/cb?X-Amz-Signature=0a1b2c3d4e5f", "token"),
        ("Proxy-Authorization: Basic dXNlcjpwYXNz", "token"),
        ('{"cookie": "sid=abc; t=1"}', "token"),
        ("db postgres://app:s3cret-pw@db.internal:5432/x", "password"),
        ("?password=hunter2&user=x", "password"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "api_key"),
        ("slack xoxb-1234567890-abcdefghij", "api_key"),
        ("google AIzaSyA1234567890abcdefghijklmnopqrstuv", "api_key"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "api_key"),
        ("Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrSt", "api_key"),
        ("aws ASIAIOSFODNN7EXAMPLE", "api_key"),
        ("id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "jwt"),
        ("ring 555-123-4567", "phone"),
    ],
)
def test_each_rule(text: str, kind: str) -> None:
    assert f"[{kind}:" in redact_text(text, b"salt")


@pytest.mark.parametrize(
    "text",
    [
        "#new-token: 412, #cached-token: 0, max_tokens=16, token usage: 0.5",
        "action_result_key=allowed bypass=true cache_key=abc",
        "[02/Mar/2025:10:15:04 +0000] 10.0.0.1:8080 2025-03-02T10:15:04.120Z",
        "ts=1712345678901 us=1712345678901234 card 4111 1111 1111 1112",
        "gpt-4o-mini-2024-07-18 trace 4bf92f3577b34da6a3ce929d0e0e4736 took 1234.5 ms",
        "task-abcdefghijklmnopqrstuv disk-0123456789abcdefghij",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text, b"salt") == text


def test_credential_names() -> None:
    for name in ("api_key", "X-Api-Key", "request.headers.authorization", "client_secret", "sig"):
        assert is_credential_name(name), name
    for name in ("action_result_key", "cache_key", "max_tokens", "bypass", "tokens"):
        assert not is_credential_name(name), name


def test_redact_frame_is_idempotent_and_keeps_ids_joinable() -> None:
    frame = conform(
        pl.DataFrame(
            {
                "message": ["key sk-abcdefghijklmnopqrstuv", None, "mail a@b.example.org"],
                "trace_id": ["4111111111111111", None, None],
                "session_id": ["a@b.example.org", None, "+1 415 555 0132"],
            }
        )
    ).with_columns(
        pl.Series(
            "attributes",
            [
                [{"key": "headers.authorization", "value": "Bearer abcdefghijkl"}],
                [{"key": "new_token", "value": "412"}],
                None,
            ],
        ),
        pl.Series(
            "ids",
            [
                [
                    {"kind": "user_id", "value": "+1 415 555 0132"},
                    {"kind": "trace_id", "value": "4111111111111111"},
                ],
                [],
                None,
            ],
        ),
    )
    once = redact_frame(conform(frame), b"s")
    assert redact_frame(once, b"s").equals(once)
    row = once.row(0, named=True)
    assert row["trace_id"] == "4111111111111111"  # a decimal trace id is not a card
    assert row["ids"][1]["value"] == "4111111111111111"
    assert row["ids"][0]["value"] == once["session_id"][2]  # the same phone, the same marker
    email = re.search(r"\[email:\w+\]", once["message"][2])
    assert email is not None and once["session_id"][0] == email.group(0)
    assert row["attributes"][0]["value"].startswith("Bearer [token:")
    assert once["attributes"][1][0]["value"] == "412"


def test_truncated_reject_excerpt_loses_the_torn_word() -> None:
    frame = pl.DataFrame(
        {
            "source_file": ["a.log", "a.log"],
            "source_line": [1, 2],
            "parser": ["p", "p"],
            "reason": ["bad", "bad"],
            "excerpt": ["x " * 90 + "token sk-abc", "mail a@b.example.org"],
            "line_length": [500, 20],
        }
    )
    out = redact_rejects(frame, b"s")
    assert out["excerpt"][0].endswith("token ")
    assert out["excerpt"][1].startswith("mail [email:")


def test_scrub_option() -> None:
    assert (
        scrub_option("timeline build x --salt abc -o out") == "timeline build x --salt *** -o out"
    )
    assert scrub_option("timeline build --salt='a b' x") == "timeline build --salt=*** x"
    assert scrub_option("timeline build x") == "timeline build x"


def test_cli_salt_value_is_never_written(
    corpus: Corpus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = "Cli-Salt-Value-51d0"
    out = tmp_path / "out"
    envoy = corpus.root / "gateway" / "envoy.jsonl"
    r = run_cli(capsys, "build", str(envoy), "-o", str(out), "--salt", value, "-q")
    assert r.code == 0, r.err
    build = json.loads((out / "build.json").read_text(encoding="utf-8"))
    assert build["settings"]["salt"] == "custom"
    assert "--salt ***" in build["command"]
    assert [p.name for p in out.iterdir() if value in output_text(p)] == []
    assert value not in r.out + r.err


@pytest.mark.slow
def test_bundled_scenarios_with_planted_secrets(corpus: Corpus, tmp_path: Path) -> None:
    """Every bundled scenario's logs plus the planted ones: nothing by default, all kept."""
    logs = tmp_path / "logs"
    for scenario in sorted((ROOT / "fixtures" / "scenarios").iterdir()):
        if (scenario / "logs").is_dir():
            shutil.copytree(scenario / "logs", logs / scenario.name)
    shutil.copytree(corpus.root, logs / "planted")
    values = _values(corpus)
    counts = {}
    for keep in (False, True):
        out = tmp_path / f"out-{keep}"
        timeline.build([str(logs)], out, keep_content=keep, year=2025)
        found = scan(out, values)
        counts[keep] = {name: len(hits) for name, hits in found.items()}
        everywhere = {v for hits in found.values() for v in hits}
        assert everywhere == (set(values) if keep else set())
    print(f"\nplanted values found per output: default {counts[False]}, kept {counts[True]}")
