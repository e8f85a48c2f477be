"""Golden files: every ``fixtures/formats/<parser>/<case>.*`` beside ``<case>.expected.jsonl``.

Run ``pytest tests/test_golden.py --update-golden`` to rewrite the expected files, then read
the diff. A ``<case>.toml`` beside the input is used as that case's ``timeline.toml``.
Detection must pick the folder's parser for every case whose name does not start with ``bad``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

from timeline.ingest.reader import InputReader
from timeline.parse.detect import detect
from timeline.parse.registry import default_registry
from timeline.testing import golden_lines, run_one

FORMATS = Path(__file__).resolve().parent.parent / "fixtures" / "formats"


def _cases() -> list[Path]:
    found = []
    for path in sorted(FORMATS.glob("*/*")):
        if path.is_file() and not path.name.endswith((".expected.jsonl", ".toml", ".md")):
            found.append(path)
    return found


def _case_name(path: Path) -> str:
    return path.name.split(".", 1)[0]


CASES = _cases()


def test_every_builtin_parser_has_golden_cases() -> None:
    folders = {p.parent.name for p in CASES}
    missing = [p.name for p in default_registry(plugins=False) if p.name not in folders]
    assert not missing, f"parsers without golden fixtures under fixtures/formats/: {missing}"


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_golden(path: Path, update_golden: bool) -> None:
    parser = path.parent.name
    config = path.with_name(_case_name(path) + ".toml")
    run = run_one(path.relative_to(Path.cwd()), parser, config if config.exists() else None)
    actual = golden_lines(run)
    expected_path = path.with_name(_case_name(path) + ".expected.jsonl")
    if update_golden or not expected_path.exists():
        expected_path.write_text("\n".join(actual) + "\n", encoding="utf-8")
        if not update_golden:
            pytest.fail(f"wrote missing golden file {expected_path.name}; review it and commit it")
        return
    expected = expected_path.read_text(encoding="utf-8").splitlines()
    if actual != expected:
        diff = "\n".join(
            difflib.unified_diff(expected, actual, "expected", "actual", lineterm="", n=1)
        )
        pytest.fail(
            f"{path.name} differs from {expected_path.name} (rerun with --update-golden):\n{diff}"
        )


@pytest.mark.parametrize(
    "path",
    [p for p in CASES if not _case_name(p).startswith("bad")],
    ids=[f"{p.parent.name}/{p.name}" for p in CASES if not _case_name(p).startswith("bad")],
)
def test_detection_picks_the_fixture_parser(path: Path) -> None:
    sample, binary = InputReader(path, path.name).head()
    assert not binary
    chosen = detect(default_registry(plugins=False), sample)
    assert chosen.parser.name == path.parent.name


CHUNKED = [
    p
    for p in CASES
    if any(
        getattr(default_registry(plugins=False).get(p.parent.name), attr, None)
        for attr in ("record_start", "cut")
    )
]


@pytest.mark.parametrize("path", CHUNKED, ids=[f"{p.parent.name}/{p.name}" for p in CHUNKED])
def test_multiline_parsers_give_the_same_result_in_chunks(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import timeline.build.parse_file as parse_file

    config = path.with_name(_case_name(path) + ".toml")
    rel = path.relative_to(Path.cwd())
    whole = golden_lines(run_one(rel, path.parent.name, config if config.exists() else None))
    monkeypatch.setattr(parse_file, "CHUNK_LINES", 2)
    # blocks of a few lines, so that chunks really end inside the file
    original = InputReader.__init__

    def small_blocks(self: InputReader, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.block_bytes = 300

    monkeypatch.setattr(InputReader, "__init__", small_blocks)
    chunked = golden_lines(run_one(rel, path.parent.name, config if config.exists() else None))
    assert chunked == whole
