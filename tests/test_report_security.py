"""Nothing sensitive or executable from the logs leaks into any export."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from timeline.export.html import script_json
from timeline.export.mermaid import mermaid_text
from timeline.export.redact import Redactor, luhn_ok, salt_for
from timeline.export.text import md
from timeline.export.write import ReportOptions, write_report
from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, build

ROOT = Path(__file__).resolve().parent.parent
SECURITY = ROOT / "fixtures" / "security"
PAYLOADS = json.loads((SECURITY / "payloads.json").read_text(encoding="utf-8"))
EXPORTS = ("appendix.md", "appendix.html", "appendix.json", "appendix-postmortem.md")


@pytest.fixture(scope="module")
def security_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The security fixture built with --keep-content (so prompts reach the timeline)."""
    outdir = tmp_path_factory.mktemp("security")
    build(
        [str(SECURITY / "logs")],
        default_registry(plugins=False),
        BuildOptions(outdir=outdir, keep_content=True),
    )
    write_report(outdir, ReportOptions(template=True))
    return outdir


@pytest.mark.parametrize("name", EXPORTS)
def test_no_raw_payload_in_any_export(security_outdir: Path, name: str) -> None:
    text = (security_outdir / name).read_text(encoding="utf-8")
    leaked = [p for p in PAYLOADS["payloads"] if p in text]
    assert leaked == []


def test_the_fixture_really_carries_the_payloads(security_outdir: Path) -> None:
    def strings(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return []

    raw = " ".join(
        s
        for path in (SECURITY / "logs").rglob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        for s in strings(json.loads(line))
    )
    assert [p for p in PAYLOADS["payloads"] if not p.isdigit() and p not in raw] == []


def test_html_has_no_handler_or_script_from_the_logs(security_outdir: Path) -> None:
    html = (security_outdir / "appendix.html").read_text(encoding="utf-8")

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append((tag, attrs))

    parser = Collect()
    parser.feed(html)
    assert not [t for t, a in parser.tags if any(k.startswith("on") for k, _ in a)]
    assert [t for t, _ in parser.tags if t == "img"] == []
    scripts = [dict(a) for t, a in parser.tags if t == "script"]
    assert scripts == [{"type": "application/json", "id": "appendix-data"}, {}]
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|//|javascript:)""", html)
    assert "&lt;script&gt;document.title=" in html


def test_prompts_are_hashed_and_identical_values_still_match(security_outdir: Path) -> None:
    doc = json.loads((security_outdir / "appendix.json").read_text(encoding="utf-8"))
    events = [e for ex in doc["exemplars"] for e in ex["events"]]
    prompts = [e["prompt_text"] for e in events if "prompt_text" in e]
    assert prompts and all(p.startswith("[content:") for p in prompts)
    assert len(set(prompts)) == 1  # the same prompt text, the same token
    text = json.dumps(doc)
    emails = set(re.findall(r"\[email:[0-9a-f]{12}\]", text))
    assert len(emails) == 1


def test_include_content_shows_text_but_never_keys(tmp_path: Path, security_outdir: Path) -> None:
    write_report(security_outdir, ReportOptions(formats=("json",), include_content=True))
    text = (security_outdir / "appendix.json").read_text(encoding="utf-8")
    assert "victim.person@example.com" in text
    for secret in ("sk-proj-AbCdEfGhIjKlMnOpQrStUv123456", "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in text
    write_report(security_outdir, ReportOptions(formats=("json",)))


def test_salt_changes_tokens_and_is_never_written(
    security_outdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMELINE_SALT", "s3cr3t-salt-value")
    assert salt_for({}) == b"s3cr3t-salt-value"
    a = Redactor(b"one").text("mail a@example.org")
    b = Redactor(b"two").text("mail a@example.org")
    assert a != b and a == Redactor(b"one").text("mail a@example.org")
    write_report(security_outdir, ReportOptions(formats=("md",)))
    assert "s3cr3t-salt-value" not in (security_outdir / "appendix.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe+ops@mail.example.co.uk", "email"),
        ("call (415) 555-0132 today", "phone"),
        ("call +44 20 7946 0958", "phone"),
        ("card 5500-0000-0000-0004 on file", "card"),
        ("key sk-abcdefghijklmnopqrstuv", "api_key"),
        ("aws AKIAIOSFODNN7EXAMPLE", "api_key"),
        ("Authorization: bearer abcdefghijklmnop", "token"),
        ("t eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "jwt"),
    ],
)
def test_patterns_are_redacted(text: str, kind: str) -> None:
    out = Redactor(b"salt").text(text)
    assert f"[{kind}:" in out


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-02T10:15:00.351000Z",
        "3fa9c2d1e0b4:120:0",
        "198.51.100.1",
        "1330255c0dc3f84d6713cb7f8f303a75ffede5dc2ac8d9882a83f48141ea9195",
        "card 4111 1111 1111 1112 fails Luhn",
        "r-5e937bd94759 took 1234.5 ms",
    ],
)
def test_ordinary_values_are_left_alone(text: str) -> None:
    assert Redactor(b"salt").text(text) == text


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


def test_escapers() -> None:
    assert md("<b>|x|</b> [a](javascript:x)") == (
        "&lt;b&gt;\\|x\\|&lt;/b&gt; \\[a\\]\\(javascript:x\\)"
    )
    assert mermaid_text("a<b>;%%{init}\nc") == "a#60;b#62;#59;#37;#37;#123;init#125; c"
    assert script_json({"x": "</script><!--"}) == '{"x": "\\u003c/script\\u003e\\u003c!--"}'
