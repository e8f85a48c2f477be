"""Forcing patterns are relative to the input they name, wherever the command runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import timeline
from timeline.errors import ConfigError, RegistryError
from timeline.ingest.discover import discover
from timeline.ingest.reader import InputReader
from timeline.parse.registry import default_registry
from timeline.pipeline.config import load_config
from timeline.pipeline.plan import decide

NGINX = '203.0.113.7 - - [02/Mar/2025:10:15:04 +0000] "GET /v1/models HTTP/1.1" 200 15 "-" "curl/8.5.0"\n'


def _logs(root: Path) -> Path:
    logs = root / "logs"
    (logs / "gateway").mkdir(parents=True)
    (logs / "gateway" / "a.log").write_text(NGINX * 3)
    return logs


def _detections(result: timeline.BuildReport) -> dict[str, str]:
    return {a.source_file.rsplit("/", 1)[-1]: a.detection for a in result.accounts}


def test_toml_patterns_are_relative_to_the_toml_wherever_the_build_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = _logs(tmp_path)
    (logs / "timeline.toml").write_text(
        '[[sources]]\nmatch = "gateway/*.log*"\nparser = "nginx_combined"\n'
    )
    config = logs / "timeline.toml"
    seen = []
    for cwd in (tmp_path, logs):
        monkeypatch.chdir(cwd)
        result = timeline.build(
            [logs / "gateway" / "a.log"], tmp_path / "out", config=config, correlate=False
        )
        seen.append(_detections(result)["a.log"])
        assert not result.warnings
    assert seen == ["forced by timeline.toml"] * 2


def test_parser_globs_are_relative_to_the_input_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = _logs(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = timeline.build(
        ["logs"], "out", parsers={"gateway/*.log": "nginx_combined"}, correlate=False
    )
    assert _detections(result) == {"a.log": "forced by --parser"}
    # a file named on its own: the pattern is relative to its folder (or its base name)
    result = timeline.build(
        [logs / "gateway" / "a.log"], "out", parsers={"a.log": "nginx_combined"}, correlate=False
    )
    assert _detections(result) == {"a.log": "forced by --parser"}


def test_a_rule_matching_no_file_is_a_warning_printed_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _logs(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "timeline.toml").write_text('[[sources]]\nmatch = "nothing/*"\ntimezone = "UTC"\n')
    result = timeline.build(
        ["logs"], "out", parsers={"logs/gateway/*.log": "nginx_combined"}, correlate=False
    )
    assert _detections(result) == {"a.log": "sniffed 1.00"}
    assert len(result.warnings) == 2
    assert result.warnings[0].startswith("--parser logs/gateway/*.log=nginx_combined matches no")
    assert "match 'nothing/*' matches no input file" in result.warnings[1]
    manifest = json.loads((tmp_path / "out" / "build.json").read_text())
    assert manifest["warnings"] == result.warnings


def test_a_rule_naming_an_unknown_parser_is_an_error_even_when_it_matches_nothing(
    tmp_path: Path,
) -> None:
    logs = _logs(tmp_path)
    with pytest.raises(RegistryError, match=r"unknown parser 'ngnix_combined'.*timeline parsers"):
        timeline.build([logs], tmp_path / "out", parsers={"none/*": "ngnix_combined"})
    (tmp_path / "timeline.toml").write_text('[[sources]]\nmatch = "none/*"\nparser = "nope"\n')
    with pytest.raises(ConfigError, match=r"match 'none/\*': unknown parser 'nope'"):
        timeline.build([logs], tmp_path / "out", config=tmp_path / "timeline.toml")
    assert not (tmp_path / "out").exists()


def test_a_symlinked_input_is_shown_and_matched_by_the_name_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive" / "2025-03-02"
    archive.mkdir(parents=True)
    (archive / "gw.log").write_text(NGINX)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "current").symlink_to(archive, target_is_directory=True)
    (logs / "timeline.toml").write_text(
        '[[sources]]\nmatch = "current/*.log"\nparser = "nginx_combined"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = timeline.build(["logs"], "out", config=logs / "timeline.toml", correlate=False)
    assert [a.source_file for a in result.accounts] == ["logs/current/gw.log"]
    assert result.accounts[0].detection == "forced by timeline.toml"


def test_decide_names_the_rule_and_the_path_it_matched(tmp_path: Path) -> None:
    logs = _logs(tmp_path)
    (logs / "timeline.toml").write_text(
        '[[sources]]\nmatch = "gateway/*.log"\nparser = "nginx_combined"\n'
    )
    config = load_config(logs / "timeline.toml")
    (item,) = discover([str(logs)])
    assert item.path is not None
    reader = InputReader(item.path, item.display)
    decision = decide(reader, default_registry(), (), config, item)
    assert decision.rule == "timeline.toml match 'gateway/*.log' matched 'gateway/a.log'"
    reader = InputReader(item.path, item.display)
    decision = decide(reader, default_registry(), (("gateway/*", "nginx_json"),), config, item)
    assert decision.rule == "--parser 'gateway/*' matched 'gateway/a.log'"
