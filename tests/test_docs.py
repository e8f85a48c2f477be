"""Generated reference docs must match the code; hand-written docs must exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from timeline.docgen import COMPLETION_SHELLS, DOCS, normalise_help
from timeline.schema import DOC_TYPES, FIELDS

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_generated_doc_is_current(name: str) -> None:
    committed = (DOCS_DIR / name).read_text(encoding="utf-8")
    assert committed == DOCS[name](), f"docs/{name} is stale: run `python -m timeline.docgen`"


def test_schema_doc_names_every_field_with_its_type() -> None:
    text = (DOCS_DIR / "schema.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2].strip()
        for line in text.splitlines()
        if line.startswith("| `")
    }
    assert rows == {f.name: DOC_TYPES[f.kind] for f in FIELDS}


@pytest.mark.parametrize("name", ["architecture.md", "writing-a-parser.md", "schema.md", "cli.md"])
def test_hand_written_docs_exist(name: str) -> None:
    assert (DOCS_DIR / name).stat().st_size > 500


def _blocks(text: str, lang: str) -> list[str]:
    parts = text.split(f"```{lang}\n")[1:]
    return [p.split("```", 1)[0] for p in parts]


def test_writing_a_parser_examples_work() -> None:
    import polars as pl

    from timeline.parserkit.api import Sample, Source
    from timeline.parserkit.spec.model import parse_spec
    from timeline.parserkit.spec.parser import SpecParser

    text = (DOCS_DIR / "writing-a-parser.md").read_text(encoding="utf-8")
    spec = parse_spec(_blocks(text, "toml")[0], "kb_search.toml")
    line = _blocks(text, "json")[0].strip()
    lines = pl.DataFrame({"source_line": [1], "line": [line]})
    row = SpecParser(spec).parse(Source("x", lines)).events.row(0, named=True)
    assert (row["index_version"], row["doc_ids"], row["duration_ms"]) == (
        "2025-03-01",
        ["kb-1", "kb-9"],
        34.0,
    )

    namespace: dict[str, object] = {}
    exec(_blocks(text, "python")[0], namespace)  # our own documentation, not input
    parser = namespace["MyAppParser"]()  # type: ignore[operator]
    sample = Sample("x", ("2025-03-02T10:15:04Z INFO started",))
    assert parser.sniff(sample) == 1.0
    result = parser.parse(Source("x", sample.frame()))
    assert result.events["message"].to_list() == ["started"]


@pytest.mark.parametrize(
    "usage",
    [
        "Usage: timeline [OPTIONS] COMMAND [ARGS]...",
        "Usage: timeline [OPTIONS] [COMMAND] [ARGS]...",
    ],
)
def test_cli_doc_does_not_depend_on_the_click_version(usage: str) -> None:
    assert normalise_help(usage + "\n") == "Usage: timeline [OPTIONS] COMMAND [ARGS]..."


def test_cli_doc_documents_shell_completion() -> None:
    text = (DOCS_DIR / "cli.md").read_text(encoding="utf-8")
    assert "## Shell completion" in text
    for shell, where, line in COMPLETION_SHELLS:
        cell = line.replace("|", "\\|")  # a pipe inside a table cell is escaped
        assert f"| {shell} | `{where}` | `{cell}` |" in text
    assert "## `timeline demo`" in text
