"""The import graph between the project's packages, and the rule it must follow.

Print it: ``python -m tests.import_graph`` (``--modules`` for module-level edges).
``tests/test_layout.py`` fails when an import breaks the rule: a package imports only the base
modules and the stages before it, at module level (no function-local import to dodge a cycle).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
TOP: Final = ("timeline", "parsers")

# Shared by every stage; they import only each other (and not a stage).
BASE: Final = (
    "timeline",  # the package itself: __version__ (its API names are imported lazily)
    "timeline.errors",
    "timeline.schema",
    "timeline.layout",
    "timeline.tomlmodel",
    "timeline.io",
    "timeline.parserkit",
)
# The data flow, in order: a stage may import the stages before it, never one after it.
STAGES: Final = (
    "timeline.ingest",
    "parsers",
    "timeline.parse",
    "timeline.normalize",
    "timeline.correlation",
    "timeline.analyze",
    "timeline.export",
    "timeline.scenarios",
    "timeline.pipeline",
    "timeline.spark",
    "timeline.cli",
    "timeline.docgen",
)


def package_of(module: str) -> str:
    """``timeline.correlation.skew`` -> ``timeline.correlation``; ``parsers.x.y`` -> ``parsers``."""
    parts = module.split(".")
    if parts[0] == "parsers":
        return "parsers"
    return ".".join(parts[:2])


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> tuple[list[str], list[str]]:
    """(module-level imports, function-local imports) of project modules; TYPE_CHECKING skipped."""
    top: list[str] = []
    local: list[str] = []

    def names(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            return [node.module]
        return []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            found = [n for n in names(child) if n.split(".")[0] in TOP]
            (local if in_function else top).extend(found)
            inner = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            visit(child, inner)

    visit(tree, False)
    return top, local


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, list[str]]]:
    """(package edges, module edges, function-local imports per module)."""
    packages: dict[str, set[str]] = defaultdict(set)
    modules: dict[str, set[str]] = defaultdict(set)
    local: dict[str, list[str]] = {}
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            module = _module_name(path)
            found, inner = _imports(ast.parse(path.read_text(encoding="utf-8")))
            if inner:
                local[module] = inner
            for target in found:
                modules[module].add(target)
                source, dest = package_of(module), package_of(target)
                if source != dest:
                    packages[source].add(dest)
    return packages, modules, local


def _rank(package: str) -> int:
    if package in BASE:
        return -1
    return STAGES.index(package) if package in STAGES else len(STAGES)


def violations() -> list[str]:
    """Every import that breaks the rule, as text."""
    packages, _modules, local = graph()
    found = []
    for source, targets in sorted(packages.items()):
        if source not in BASE and source not in STAGES:
            found.append(f"{source} is in neither BASE nor STAGES (tests/import_graph.py)")
            continue
        for dest in sorted(targets):
            if source in BASE and dest not in BASE:
                found.append(f"{source} (base) imports the stage {dest}")
            elif source not in BASE and _rank(dest) >= _rank(source):
                found.append(f"{source} imports {dest}, a later stage")
    found += [f"{m} imports {', '.join(t)} inside a function" for m, t in sorted(local.items())]
    return found


def main() -> None:
    """Print the package graph (or module graph with ``--modules``) and any violation."""
    packages, modules, _local = graph()
    edges = modules if "--modules" in sys.argv else packages
    for source in sorted(edges):
        print(f"{source} -> {', '.join(sorted(edges[source]))}")
    problems = violations()
    print("rule: " + ("kept" if not problems else f"{len(problems)} violation(s)"))
    for problem in problems:
        print(f"  {problem}")


if __name__ == "__main__":
    main()
