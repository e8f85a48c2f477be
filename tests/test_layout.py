"""The layout rules: imports flow one way, and every built-in parser is one complete folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from parsers import GROUPS, ROOT, builtin_parsers
from tests.import_graph import violations
from timeline.layout import STAGE_OUTPUTS
from timeline.parserkit.api import Parser
from timeline.pipeline.golden import EXPECTED_SUFFIX, golden_cases

BUILTINS = builtin_parsers()


def test_imports_flow_one_way_along_the_data_flow() -> None:
    assert violations() == [], "see `python -m tests.import_graph`"


def test_the_import_graph_command_prints_the_graph() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.import_graph"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT.parent,
    )
    assert "timeline.cli -> " in result.stdout
    assert result.stdout.rstrip().endswith("rule: kept")


@pytest.mark.parametrize("item", BUILTINS, ids=[p.name for p, _, _ in BUILTINS])
def test_every_builtin_parser_is_one_complete_folder(item: tuple[Parser, str, Path]) -> None:
    parser, origin, folder = item
    name = parser.name
    layer = parser.layer
    assert folder.name == name, f"{folder} holds parser {name!r}: name the folder after it"
    group = folder.parent.name
    assert group in GROUPS and (group == layer or group == "otel"), (
        f"{name} (layer {layer}) sits in parsers/{group}/"
    )
    assert origin == f"built-in parsers/{group}/{name}"
    assert (folder / "parser.py").is_file() != (folder / "spec.toml").is_file(), (
        f"{folder} needs parser.py or spec.toml (one of them)"
    )
    page = folder / "README.md"
    assert page.is_file() and page.stat().st_size > 300, f"{name} lacks its doc page {page}"
    cases = golden_cases(name, folder)
    assert cases, f"{name} has no golden pair in {folder / 'golden'}"
    missing = [c.input.name for c in cases if not c.expected.is_file()]
    assert not missing, f"{name}: golden inputs without {EXPECTED_SUFFIX}: {missing}"
    assert any(not c.expects_rejects_only for c in cases), f"{name} has only bad-* golden cases"


def test_every_parser_folder_is_registered() -> None:
    registered = {folder for _, _, folder in BUILTINS}
    folders = {
        path
        for group in GROUPS
        for path in (ROOT / group).iterdir()
        if path.is_dir() and not path.name.startswith(("_", "."))
    }
    stray = sorted(str(p.relative_to(ROOT)) for p in folders - registered)
    assert not stray, f"parser folders not registered (add a line to parsers.CODE_PARSERS): {stray}"


def test_every_output_file_is_named_once() -> None:
    names = [n for files in STAGE_OUTPUTS.values() for n in files]
    assert len(names) == len(set(names))
    # no module spells an output file name itself
    spelled = []
    for path in (ROOT.parent / "timeline").rglob("*.py"):
        if path.name == "layout.py":
            continue
        text = path.read_text(encoding="utf-8")
        spelled += [f"{path.name}: {n}" for n in names if f'"{n}"' in text]
    assert not spelled, f"use timeline.layout instead of literals: {spelled}"


@pytest.mark.slow
def test_the_wheel_holds_every_module_even_with_an_unanchored_build_ignore(tmp_path: Path) -> None:
    """A common .gitignore template ignores ``build/`` anywhere; the wheel must still be whole."""
    repo = ROOT.parent
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True
    ).stdout.split(b"\0")
    src = tmp_path / "src"
    for name in filter(None, tracked):
        rel = Path(name.decode())
        if (repo / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes((repo / rel).read_bytes())
    with (src / ".gitignore").open("a", encoding="utf-8") as ignore:
        ignore.write("\nbuild/\n")
    subprocess.run(["git", "init", "-q"], cwd=src, check=True)
    subprocess.run(["git", "add", "-A"], cwd=src, check=True)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    expected = {
        p.relative_to(src).as_posix()
        for top in ("timeline", "parsers")
        for p in (src / top).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    missing = sorted(expected - shipped)
    assert not missing, f"the wheel lacks {len(missing)} files, e.g. {missing[:5]}"
