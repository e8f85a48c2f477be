"""Whole-document exports: one JSON document holding many log records.

* ``aws logs filter-log-events`` / ``get-log-events`` output: ``{"events": [{...}, ...], ...}``;
* an Elasticsearch ``_search`` response: ``{"took": .., "hits": {"hits": [{"_source": ...}, ...]}}``;
* a JSON array of entries (GCP Cloud Logging "download as JSON", generic exports): ``[{...}, ...]``.

The document is cut into its records, each re-serialized as one JSON line at the line where the
record starts, so that the per-line envelopes (``cloudwatch``, ``elasticsearch_hit``,
``gcp_logging``) and then the parsers see ordinary lines. The other lines of a record are merged
into it; lines outside every record (braces, ``"nextToken"``) are skipped as document structure.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from typing import Final

import polars as pl

from timeline.parserkit.api import LINE_SCHEMA, MARK_SCHEMA

_ARRAYS: Final = (
    (
        "cloudwatch_export",
        re.compile(r'^\s*\{\s*"events"\s*:\s*\['),
        re.compile(r'"events"\s*:\s*\['),
    ),
    (
        "elasticsearch_response",
        re.compile(r'^\s*\{[\s\S]*?"hits"\s*:\s*\{'),
        re.compile(r'"hits"\s*:\s*\['),
    ),
    ("json_array", re.compile(r"^\s*\[\s*(?:\{|$)"), re.compile(r"^\s*\[")),
)
STRUCTURE_REASON: Final = "export document structure"
TRUNCATED_REASON: Final = "truncated or invalid export document"


@dataclass(frozen=True)
class Exploded:
    """Records as lines, the physical lines merged into them, and the rest (skipped or rejected)."""

    lines: pl.DataFrame  # source_line, line (one JSON record each)
    merged: pl.DataFrame  # source_line, into
    skipped: pl.DataFrame  # source_line, reason
    rejected: pl.DataFrame  # source_line, reason


def detect_document(head: str) -> str | None:
    """The document kind whose opening ``head`` (the first lines, joined) shows, else None.

    A file of JSON lines is not a document: its first line is a complete object.
    """
    first = head.lstrip().split("\n", 1)[0].strip()
    if first.startswith("{") and first.endswith("}") and _is_json(first):
        return None
    for kind, opening, _ in _ARRAYS:
        if opening.search(head):
            if kind == "elasticsearch_response" and '"_source"' not in head:
                continue
            return kind
    return None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def explode(lines: pl.DataFrame, kind: str) -> Exploded:
    """Cut the document in ``lines`` (``source_line``, ``line``; all of the file) into records."""
    numbers = lines.get_column("source_line").to_list()
    texts = lines.get_column("line").to_list()
    text = "\n".join(texts)
    starts = [0]
    for t in texts[:-1]:
        starts.append(starts[-1] + len(t) + 1)
    array = next(a for k, _, a in _ARRAYS if k == kind)
    match = array.search(text)
    records: list[tuple[int, str]] = []
    merged: list[tuple[int, int]] = []
    covered: set[int] = set()
    bad_from: int | None = None
    if match is not None:
        pos = match.end()
        decoder = json.JSONDecoder()
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or text[pos] == "]":
                break
            try:
                obj, end = decoder.raw_decode(text, pos)
            except ValueError:
                bad_from = bisect.bisect_right(starts, pos) - 1
                break
            first = bisect.bisect_right(starts, pos) - 1
            last = bisect.bisect_right(starts, end - 1) - 1
            records.append(
                (numbers[first], json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
            )
            covered.update(range(first, last + 1))
            merged.extend((numbers[i], numbers[first]) for i in range(first + 1, last + 1))
            pos = end
    else:
        bad_from = 0
    rejected = (
        [(numbers[i], TRUNCATED_REASON) for i in range(bad_from, len(numbers)) if i not in covered]
        if bad_from is not None
        else []
    )
    rejected_lines = {n for n, _ in rejected}
    skipped = [
        (numbers[i], STRUCTURE_REASON)
        for i in range(len(numbers))
        if i not in covered and numbers[i] not in rejected_lines
    ]
    return Exploded(
        pl.DataFrame(records, schema=LINE_SCHEMA, orient="row"),
        pl.DataFrame(merged, schema={"source_line": pl.Int64, "into": pl.Int64}, orient="row"),
        pl.DataFrame(skipped, schema=MARK_SCHEMA, orient="row"),
        pl.DataFrame(rejected, schema=MARK_SCHEMA, orient="row"),
    )
