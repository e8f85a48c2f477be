"""Split the lines of an OTLP JSON file into JSON documents: one per line, or pretty-printed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()


@dataclass
class Document:
    """One decoded JSON value and the line numbers it spans, or one line that could not be read."""

    lines: list[int]
    value: Any = None
    error: str | None = None


def split_documents(numbers: list[int], texts: list[str]) -> list[Document]:
    """Decode successive JSON values from the lines.

    A value either fills one line (the Collector file exporter's JSON lines) or spans lines (the
    pretty-printed ``.json`` form, whose outermost closing bracket starts a line). Lines that
    belong to no value become one-line errors; after a broken multi-line value, every line up
    to the next line that opens a value at column 0 is an error, so a damaged file costs linear
    time.
    """
    docs: list[Document] = []
    i = 0
    n = len(texts)
    while i < n:
        if not texts[i].lstrip().startswith(("{", "[")):
            docs.append(Document([numbers[i]], error="not a JSON document"))
            i += 1
            continue
        value, end = _decode_from(texts, i)
        if end is not None:
            docs.append(Document(numbers[i : end + 1], value=value))
            i = end + 1
            continue
        docs.append(Document([numbers[i]], error="not valid JSON"))
        i += 1
        while i < n and not texts[i].startswith(("{", "[")):
            docs.append(Document([numbers[i]], error="not valid JSON"))
            i += 1
    return docs


def _decode_from(texts: list[str], start: int) -> tuple[Any, int | None]:
    """Decode one value starting at line ``start``; return it and its last line, or (None, None)."""
    first = texts[start]
    try:  # the common case: a whole document on one line
        return json.loads(first), start
    except (ValueError, RecursionError):
        pass
    if not texts[start].rstrip().endswith(("{", "[", ",", ":")):
        return None, None  # a single line that is broken, not the head of a pretty value
    parts = [first]
    for end in range(start + 1, len(texts)):
        line = texts[end]
        if line.startswith(("{", "[")) and not line.startswith(("{}", "[]")):
            return None, None  # the next document starts: this one never closed
        parts.append(line)
        if not line.startswith(("}", "]")):
            continue
        buffer = "\n".join(parts)
        try:
            value, pos = _DECODER.raw_decode(buffer)
        except (ValueError, RecursionError):
            return None, None
        if buffer[pos:].strip():
            return None, None
        return value, end
    return None, None
