"""Third-party parsers through the ``timeline.parsers`` entry-point group."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from timeline.errors import RegistryError
from timeline.parse.registry import Registry, default_registry
from timeline.parserkit.spec.model import parse_spec
from timeline.parserkit.spec.parser import SpecParser

PLUGIN = '''
"""A tiny third-party parser: lines like `T=<iso> hello`."""
import polars as pl
from timeline.parserkit.api import ParseResult
from timeline.parserkit.timestamps import parse_iso8601

class HelloParser:
    name = "{name}"
    layer = "other"
    description = "test plugin"

    def sniff(self, sample):
        return 1.0 if sample.lines and all(l.startswith("T=") for l in sample.lines) else 0.0

    def parse(self, source):
        text = pl.col("line").str.extract(r"^T=(\\S+)", 1)
        parsed = parse_iso8601(text)
        events = source.lines.select("source_line", parsed.ts.alias("ts_source"), text.alias("ts_raw"),
                                     pl.lit("server.log").alias("event_type"))
        return ParseResult(events=events)
'''


def install_plugin(site: Path, name: str) -> None:
    """Install a plugin the way an installer does: a module plus a dist-info with entry points."""
    (site / "hello_plugin.py").write_text(textwrap.dedent(PLUGIN.replace("{name}", name)))
    dist = site / "hello_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[timeline.parsers]\n{name} = hello_plugin:HelloParser\n"
    )
    (dist / "RECORD").write_text("")


def _run(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "timeline.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_entry_point_plugin_is_listed_and_used(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site, "hello_log")
    listing = _run(site, "parsers", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "hello_log" in listing.stdout and "test plugin" in listing.stdout
    log = tmp_path / "x.log"
    log.write_text("T=2025-03-02T10:15:04Z hello\n")
    built = _run(site, "build", str(log), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "x.log: hello_log; lines 1 = parsed 1 + rejected 0 + skipped 0; events 1" in built.stdout


def test_plugin_with_a_builtin_name_is_an_error_naming_both(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site, "nginx_combined")
    result = _run(site, "parsers", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "Error: parser name 'nginx_combined' is registered twice: by built-in parsers/gateway/nginx_combined "
        "and by entry point 'nginx_combined' (hello_plugin:HelloParser)\n"
    )


def test_registry_rejects_bad_parsers() -> None:
    registry = Registry()
    spec = SpecParser(
        parse_spec(
            'name = "a"\nlayer = "other"\ndescription = "d"\nreader = "jsonl"\n[timestamp]\nfield = "t"\n'
        )
    )
    registry.register(spec, "first")
    with pytest.raises(RegistryError, match="registered twice: by first and by second"):
        registry.register(spec, "second")
    with pytest.raises(RegistryError, match="unknown parser 'b'"):
        registry.get("b")
    assert "nginx_combined" in default_registry(plugins=False)
