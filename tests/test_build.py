"""``timeline build`` end to end through the library."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

import timeline
from timeline.errors import ConfigError
from timeline.io.parquet import read_metadata
from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, build
from timeline.pipeline.config import BuildConfig, SourceRule, load_config
from timeline.schema import ARROW_SCHEMA, SCHEMA_VERSION

NGINX = '203.0.113.{n} - - [02/Mar/2025:10:15:{s:02d} +0000] "GET /v1/models HTTP/1.1" 200 15 "-" "curl/8.5.0"\n'

YEARLESS_SPEC = """
name = "yearless"
layer = "inference"
description = "test format without a year"
reader = "regex"
pattern = '^(?P<time>\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d) (?P<msg>.*)$'
[timestamp]
field = "time"
formats = ["%m-%d %H:%M:%S"]
[fields]
message = "msg"
"""


def nginx_lines(count: int, start: int = 0) -> str:
    return "".join(NGINX.format(n=i % 250, s=(start + i) % 60) for i in range(count))


def _build(inputs: list[Path | str], out: Path, **kwargs: object) -> object:
    options = BuildOptions(outdir=out, **kwargs)  # type: ignore[arg-type]
    specs = kwargs.get("config", BuildConfig()).specs  # type: ignore[attr-defined]
    return build([str(i) for i in inputs], default_registry(specs), options)


def _events(out: Path) -> pl.DataFrame:
    """The events of a build in input order: ``events.parquet`` of a build without correlation,
    else the timeline (the events written once, with their correlation columns)."""
    if (out / "events.parquet").is_file():
        return pl.read_parquet(out / "events.parquet")
    return pl.read_parquet(out / "timeline.parquet").sort("source_file", "source_line")


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text(nginx_lines(50))
    (tmp_path / "in" / "b.log.gz").write_bytes(gzip.compress(nginx_lines(30, 7).encode()))
    _build([tmp_path / "in"], tmp_path / "o1")
    _build([tmp_path / "in"], tmp_path / "o2", jobs=1)
    _build([tmp_path / "in"], tmp_path / "e1", correlate=False)
    _build([tmp_path / "in"], tmp_path / "e2", correlate=False, jobs=1)
    names = ("timeline.parquet", "requests.parquet", "rejects.parquet", "build.json")
    for name in names:
        assert (tmp_path / "o1" / name).read_bytes() == (tmp_path / "o2" / name).read_bytes(), name
    for name in ("events.parquet", "rejects.parquet", "build.json"):
        assert (tmp_path / "e1" / name).read_bytes() == (tmp_path / "e2" / name).read_bytes(), name


def test_the_events_are_written_once_as_the_timeline(tmp_path: Path) -> None:
    """A correlated build holds its events once: the timeline has every event of a build without
    correlation, value for value beside the correlation columns; no events.parquet, no scratch."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text(nginx_lines(40) + "junk\n")
    (tmp_path / "in" / "b.log").write_text(nginx_lines(25, 9))
    _build([tmp_path / "in"], tmp_path / "c")
    _build([tmp_path / "in"], tmp_path / "e", correlate=False)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "build.json",
        "correlation.json",
        "rejects.parquet",
        "requests.parquet",
        "timeline.parquet",
    ]
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == [
        "build.json",
        "events.parquet",
        "rejects.parquet",
    ]
    assigned = ["correlation_id", "correlation_method", "correlation_confidence", "ts"]
    assigned += ["clock_offset_ms", "seq", "offset_ms"]
    once = pl.read_parquet(tmp_path / "c" / "timeline.parquet").drop(assigned).sort("event_id")
    alone = pl.read_parquet(tmp_path / "e" / "events.parquet").drop(assigned).sort("event_id")
    assert once.height == 65
    assert once.equals(alone)
    manifest = json.loads((tmp_path / "c" / "build.json").read_text())
    assert "events" not in manifest["outputs"] and manifest["outputs"]["timeline"]


def test_correlating_a_timeline_again_gives_the_same_bytes(tmp_path: Path) -> None:
    """`timeline correlate` on a correlated build reads its timeline (in time order, not input
    order) and writes the same three files, byte for byte."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text(nginx_lines(60))
    (tmp_path / "in" / "b.log").write_text(nginx_lines(20, 31))
    out = tmp_path / "o"
    _build([tmp_path / "in"], out)
    names = ("timeline.parquet", "requests.parquet", "correlation.json")
    before = {name: (out / name).read_bytes() for name in names}
    timeline.correlate(out)
    assert {name: (out / name).read_bytes() for name in names} == before


def test_parquet_carries_schema_inputs_and_accounting(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(nginx_lines(3) + "junk\n")
    _build([log], tmp_path / "o")
    meta = read_metadata(tmp_path / "o" / "timeline.parquet")
    assert meta["schema_version"] == SCHEMA_VERSION
    assert meta["inputs"] == [
        {
            "path": str(log),
            "size": log.stat().st_size,
            "sha256": hashlib.sha256(log.read_bytes()).hexdigest(),
            "stdin": False,
        }
    ]
    assert meta["totals"] == {
        "files": 1,
        "lines_read": 4,
        "lines_parsed": 3,
        "lines_rejected": 1,
        "lines_skipped": 0,
        "events": 3,
    }
    assert (
        pq.read_schema(tmp_path / "o" / "timeline.parquet").remove_metadata()
        == ARROW_SCHEMA.remove_metadata()
    )


def _sql(query: str) -> list[tuple[object, ...]]:
    relation = duckdb.sql(query)
    assert relation is not None
    return relation.fetchall()


def test_duckdb_and_pandas_read_the_documented_columns(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(nginx_lines(5))
    _build([log], tmp_path / "o")
    path = str(tmp_path / "o" / "timeline.parquet")
    types = {row[0]: row[1] for row in _sql(f"DESCRIBE SELECT * FROM '{path}'")}
    assert types["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert types["source_line"] == "BIGINT"
    assert types["attributes"] == "MAP(VARCHAR, VARCHAR)"
    assert types["ids"] == 'STRUCT(kind VARCHAR, "value" VARCHAR)[]'
    assert types["doc_scores"] == "DOUBLE[]"
    ua = _sql(f"SELECT attributes['user_agent'] FROM '{path}' LIMIT 1")
    assert ua == [("curl/8.5.0",)]
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ARROW_SCHEMA.names
    assert len(frame) == 5


def test_every_line_of_bad_inputs_is_accounted(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "empty.log").write_bytes(b"")
    (d / "binary.bin").write_bytes(b"\x00\x01\x02\x03\nPNG\x00\n" * 10)
    (d / "bad-utf8.log").write_bytes(nginx_lines(2).encode() + b"\xff\xfe\xfd\n")
    (d / "long.log").write_bytes(nginx_lines(2).encode() + b"x" * (10 << 20) + b"\n")
    full = gzip.compress(nginx_lines(400).encode())
    (d / "cut.log.gz").write_bytes(full[: len(full) * 2 // 3])
    report = _build([d], tmp_path / "o", skip_unknown=True)
    by_file = {Path(a.source_file).name: a for a in report.accounts}  # type: ignore[attr-defined]
    assert all(a.balanced() for a in by_file.values())
    assert by_file["empty.log"].lines_read == 0
    assert by_file["binary.bin"].rejects_by_reason == {"binary data (NUL byte)": 20}
    assert by_file["bad-utf8.log"].rejects_by_reason == {"invalid UTF-8": 1}
    assert by_file["long.log"].rejects_by_reason == {
        "line longer than the limit of 4194304 bytes (--max-line-bytes)": 1
    }
    cut = by_file["cut.log.gz"]
    assert cut.notes[0].startswith("truncated gzip stream")
    assert cut.lines_parsed > 100
    rejects = pl.read_parquet(tmp_path / "o" / "rejects.parquet")
    assert rejects.height == sum(a.lines_rejected for a in by_file.values())
    assert rejects["reason"].null_count() == 0 and rejects["source_line"].null_count() == 0


def test_duplicate_inputs_are_counted_once(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(nginx_lines(4))
    (tmp_path / "copy.log").write_text(nginx_lines(4))
    report = _build([tmp_path / "a.log", tmp_path / "copy.log"], tmp_path / "o")
    events = _events(tmp_path / "o")
    assert events.height == 4
    dup = report.accounts[1]  # type: ignore[attr-defined]
    assert dup.skipped_by_reason == {f"duplicate input (same content as {tmp_path / 'a.log'})": 4}


def test_stdin_is_an_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(nginx_lines(3).encode()))
    monkeypatch.setattr(sys, "stdin", fake)
    report = _build(["-"], tmp_path / "o")
    assert report.accounts[0].source_file == "-"  # type: ignore[attr-defined]
    assert _events(tmp_path / "o")["source_file"].unique().to_list() == ["-"]
    assert not [p for p in (tmp_path / "o").iterdir() if p.name.startswith(".")]


def test_config_rules_set_parser_and_zone_and_the_year_is_inferred(tmp_path: Path) -> None:
    spec = tmp_path / "yearless.toml"
    spec.write_text(YEARLESS_SPEC)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "engine.txt").write_text("03-02 11:15:04 hello\n")
    (tmp_path / "in" / "gw.log").write_text(nginx_lines(1))
    cfg_path = tmp_path / "timeline.toml"
    cfg_path.write_text(
        'specs = ["yearless.toml"]\n[[sources]]\nmatch = "engine.txt"\nparser = "yearless"\ntimezone = "Europe/Berlin"\n'
    )
    cfg = load_config(cfg_path)
    report = _build([tmp_path / "in"], tmp_path / "o", config=cfg)
    events = _events(tmp_path / "o").filter(pl.col("parser") == "yearless")
    assert events["ts"].dt.to_string("%Y-%m-%dT%H:%M:%S").to_list() == ["2025-03-02T10:15:04"]
    assert events["ts_assumed_tz"].to_list() == [True]
    engine = next(a for a in report.accounts if a.source_file.endswith("engine.txt"))  # type: ignore[attr-defined]
    assert engine.detection == "forced by timeline.toml"
    assert engine.notes == ["timestamps carry no year; assumed 2025 (from the other sources)"]


def test_config_errors_are_all_reported(tmp_path: Path) -> None:
    cfg = tmp_path / "timeline.toml"
    cfg.write_text('[defaults]\nyear = "x"\nzone = 1\n[[sources]]\nparser = "p"\n')
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert str(info.value) == (
        f"{cfg}: 3 problems:\n"
        "  - [defaults.zone] unknown key; did you mean 'timezone'? (allowed: timezone, year)\n"
        "  - [defaults.year] got the string 'x'; use a whole number from 1970 to 2200\n"
        "  - [sources[1].match] is required; add a glob such as 'gateway/*.log'"
    )


def test_rules_match_path_or_base_name() -> None:
    rule = SourceRule(match="*.log")
    assert rule.matches("deep/dir/x.log")
    assert not SourceRule(match="gateway/*.log").matches("other/x.log")


def test_keep_content_controls_raw_and_prompt_text(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(nginx_lines(2))
    _build([log], tmp_path / "redacted")
    _build([log], tmp_path / "kept", keep_content=True)
    assert _events(tmp_path / "redacted")["raw"].null_count() == 2
    assert _events(tmp_path / "kept")["raw"].to_list()[0].startswith("203.0.113.0 - -")


def test_interrupted_write_leaves_no_partial_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "a.log"
    log.write_text(nginx_lines(2))
    out = tmp_path / "o"
    _build([log], out)
    before = (out / "timeline.parquet").read_bytes()

    import timeline.pipeline.build as run_module

    def boom(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "to_arrow", boom)
    log.write_text(nginx_lines(5))
    with pytest.raises(KeyboardInterrupt):
        _build([log], out)
    assert (out / "timeline.parquet").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [
        "build.json",
        "correlation.json",
        "rejects.parquet",
        "requests.parquet",
        "timeline.parquet",
    ]


class _DropsLines:
    """A buggy parser: it silently drops every second line."""

    name = "drops_lines"
    layer = "other"
    description = "test parser that breaks the line contract"

    def sniff(self, sample: object) -> float:
        return 0.0

    def parse(self, source: object) -> object:
        from timeline.parserkit.api import ParseResult

        lines = source.lines  # type: ignore[attr-defined]
        kept = lines.filter(pl.col("source_line") % 2 == 1)
        return ParseResult(
            events=kept.select("source_line", pl.lit("server.log").alias("event_type"))
        )


def test_a_parser_that_breaks_the_line_contract_does_not_stop_the_run(tmp_path: Path) -> None:
    from timeline.parse.registry import Registry

    registry = Registry()
    for parser in default_registry(plugins=False):
        registry.register(parser, "built-in")
    registry.register(_DropsLines(), "test")  # type: ignore[arg-type]
    (tmp_path / "bad.log").write_text("a\nb\nc\n")
    (tmp_path / "good.log").write_text(nginx_lines(2))
    options = BuildOptions(outdir=tmp_path / "o", parser_overrides=(("bad.log", "drops_lines"),))
    report = build([str(tmp_path)], registry, options)
    bad = next(a for a in report.accounts if a.source_file.endswith("bad.log"))
    assert (bad.lines_read, bad.lines_rejected, bad.events) == (3, 3, 0)
    assert bad.rejects_by_reason == {"parser drops_lines broke the line contract (a parser bug)": 3}
    assert bad.notes[0].startswith("parser drops_lines broke the line contract on ")
    good = next(a for a in report.accounts if a.source_file.endswith("good.log"))
    assert good.events == 2


@pytest.mark.slow  # about 10 s: four builds of two scenarios
def test_files_are_sniffed_side_by_side_with_the_same_plan(tmp_path: Path) -> None:
    """Detection runs in ``jobs`` threads: the parsers chosen, the accounting and the events are
    those of one thread, and the errors name the files in input order."""
    scenarios = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"
    inputs = [
        scenarios / name / "logs" for name in ("model_revision_rollout", "nemo_policy_overblock")
    ]
    (tmp_path / "odd").mkdir()
    for name in ("b-unknown.txt", "a-unknown.txt"):
        (tmp_path / "odd" / name).write_text("neither fish\nnor fowl\n")
    outs = {}
    for jobs in (1, 3):
        out = tmp_path / f"o{jobs}"
        _build(
            [*inputs, tmp_path / "odd"],
            out,
            jobs=jobs,
            skip_unknown=True,
            correlate=False,
            report=False,
        )
        outs[jobs] = out
    with pytest.raises(timeline.errors.UnknownFormatError) as caught:
        _build([*inputs, tmp_path / "odd"], tmp_path / "x", jobs=3)
    lines = str(caught.value).splitlines()
    assert lines[0] == "2 files could not be assigned a parser:"
    assert "a-unknown.txt" in lines[1] and "b-unknown.txt" in lines[2]
    plan = json.loads((outs[1] / "build.json").read_text(encoding="utf-8"))
    chosen = {f["parser"] for f in plan["accounting"] if f["parser"] is not None}
    assert len(plan["accounting"]) >= 8 and len(chosen) >= 4
    for name in ("events.parquet", "rejects.parquet", "build.json"):
        assert (outs[1] / name).read_bytes() == (outs[3] / name).read_bytes(), name


def test_detection_stops_sniffing_at_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error (or Ctrl-C) while files are sniffed in threads reaches the caller at once: the
    files still queued are not sniffed."""
    import threading
    import time

    from timeline.ingest.discover import discover_inputs
    from timeline.pipeline import plan as planning

    (tmp_path / "in").mkdir()
    for i in range(40):
        (tmp_path / "in" / f"{i:02d}.log").write_text(nginx_lines(2, i))
    real = planning.decide
    calls: list[str] = []
    lock = threading.Lock()

    def decide(reader: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            calls.append(reader.name)
        if reader.name.endswith("00.log"):
            raise KeyboardInterrupt
        time.sleep(0.05)
        return real(reader, *args, **kwargs)

    monkeypatch.setattr(planning, "decide", decide)
    files = discover_inputs([str(tmp_path / "in")]).files
    options = planning.PlanOptions(workers=2)
    with pytest.raises(KeyboardInterrupt):
        planning.plan(files, default_registry(), options, tmp_path)
    assert 1 <= len(calls) < 10
