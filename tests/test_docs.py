"""Generated reference docs must match the code; hand-written docs must exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from timeline.docgen import DOCS
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
