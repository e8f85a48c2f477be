"""Byte-order marks are removed at read time for every format; UTF-16/32 text is decoded."""

from __future__ import annotations

import codecs
import gzip
import shutil
from pathlib import Path

import pytest

from timeline.ingest.reader import InputReader
from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, BuildReport, build

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = {
    "otlp.json": "parsers/otel/otlp_json/golden/pretty.json",  # a pretty-printed document
    "spend.json": "parsers/gateway/litellm_spend_log/golden/pretty.json",
    "envoy.jsonl": "parsers/gateway/envoy_json/golden/json_format.jsonl",
    "nginx.log": "parsers/gateway/nginx_combined/golden/basic.log",
}
NGINX = '203.0.113.{n} - - [02/Mar/2025:10:15:{n:02d} +0000] "GET /v1/models HTTP/1.1" 200 15 "-" "curl/8.5.0"\n'


def _build(inputs: list[Path], out: Path, **options: object) -> BuildReport:
    settings = BuildOptions(outdir=out, correlate=False, **options)  # type: ignore[arg-type]
    return build([str(i) for i in inputs], default_registry(plugins=False), settings)


def _nginx(count: int) -> str:
    return "".join(NGINX.format(n=i) for i in range(count))


def test_a_utf8_bom_changes_nothing_for_any_format(tmp_path: Path) -> None:
    plain, marked = tmp_path / "plain", tmp_path / "bom"
    plain.mkdir()
    marked.mkdir()
    for name, source in SAMPLES.items():
        shutil.copy(ROOT / source, plain / name)
        (marked / name).write_bytes(codecs.BOM_UTF8 + (ROOT / source).read_bytes())
    report = _build([plain, marked], tmp_path / "out")
    by_name = {a.source_file: a for a in report.accounts}
    for name in SAMPLES:
        a, b = by_name[f"{plain}/{name}"], by_name[f"{marked}/{name}"]
        assert (b.parser, b.events, b.lines_parsed, b.lines_rejected) == (
            a.parser,
            a.events,
            a.lines_parsed,
            a.lines_rejected,
        ), name
        assert b.events > 0 and b.lines_rejected == a.lines_rejected
        assert "a UTF-8 byte-order mark at the start was removed" in b.notes


def test_a_forced_pretty_document_with_a_bom_parses(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "bom").mkdir()
    shutil.copy(ROOT / SAMPLES["otlp.json"], tmp_path / "plain" / "traces.json")
    data = codecs.BOM_UTF8 + (ROOT / SAMPLES["otlp.json"]).read_bytes()
    (tmp_path / "bom" / "traces.json").write_bytes(data)
    report = _build(
        [tmp_path / "plain", tmp_path / "bom"],
        tmp_path / "out",
        parser_overrides=(("*.json", "otlp_json"),),
    )
    plain, marked = report.accounts
    assert marked.detection == "forced by --parser"
    assert (marked.events, marked.lines_rejected) == (plain.events, 0)
    assert marked.events > 0


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
    ],
)
def test_utf16_and_utf32_text_is_decoded(tmp_path: Path, bom: bytes, codec: str) -> None:
    log = tmp_path / "windows.log.gz"
    log.write_bytes(gzip.compress(bom + _nginx(5).replace("\n", "\r\n").encode(codec)))
    report = _build([log], tmp_path / "out")
    (account,) = report.accounts
    assert (account.parser, account.events, account.lines_rejected) == ("nginx_combined", 5, 0)
    name = codec.rsplit("-", 1)[0].upper()
    assert f"{name} text (byte-order mark): decoded to UTF-8" in account.notes


def test_invalid_utf16_after_its_bom_is_a_clear_reject(tmp_path: Path) -> None:
    log = tmp_path / "broken.log"
    good = _nginx(3).encode("utf-16-le")
    log.write_bytes(codecs.BOM_UTF16_LE + good + b"x\x00\x00\xdc" + "tail".encode("utf-16-le"))
    report = _build([log], tmp_path / "out")
    (account,) = report.accounts
    assert account.events == 3
    assert account.lines_rejected == 1
    assert any(n.startswith("invalid UTF-16 data after") for n in account.notes)
    assert account.rejects_by_reason == {"incomplete last line: invalid UTF-16 data follows": 1}


def test_a_bom_at_the_start_of_a_later_line_is_removed(tmp_path: Path) -> None:
    log = tmp_path / "concatenated.log"
    log.write_bytes(_nginx(2).encode() + codecs.BOM_UTF8 + _nginx(1).encode())
    report = _build([log], tmp_path / "out")
    assert (report.accounts[0].events, report.accounts[0].lines_rejected) == (3, 0)


def test_the_sniffed_sample_has_no_bom(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_bytes(codecs.BOM_UTF8 + b'{"a": 1}\n')
    sample, binary = InputReader(log, "a.jsonl").head()
    assert not binary
    assert sample.lines == ('{"a": 1}',)
