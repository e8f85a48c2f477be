"""JSON records: top-level JSON objects, one per line or spanning lines, as one row each.

Both layouts may mix in one input:

* **one-line records**: a line that starts with ``{`` in its first column and holds one complete
  object. Found vectorized; the paths a parser asks for are decoded from all of them at once
  (:func:`timeline.parserkit.jsonpaths.decode_paths`: one decode per line for every path);
* **records spanning lines** (pretty-printed objects, a JSON array of rows, multi-line TEXT
  templates): the other lines, in runs between one-line records, are grouped by a running bracket
  balance (vectorized when the records are well formed, else by a loop in Python). A record
  starts on a line whose first non-blank character is ``{`` (after an optional ``[`` or ``,``)
  and ends on the line where its braces, counted outside strings, balance again. A line with
  ``{`` in its first column while a record is still open starts a new record (the open one never
  closed). Lines outside records are array punctuation (``[``, ``]``, ``,``: skipped) or stray
  text (rejected). The joined lines of a record are then validated and compacted vectorized.

A stray line is worded :attr:`RecordReasons.not_object` in JSON lines (the first line is a
one-line record) and :attr:`RecordReasons.outside` among records spanning lines.

Every record is one row of :attr:`Records.frame`: ``source_line`` (its first line), ``lines``
(all of its lines: a rejected record rejects each of them), ``text`` (the record as compact
JSON) and the decoded columns of the requested paths (read them with ``jp(path)``).

With ``documents=True`` a record is any JSON document opening with ``{`` or ``[`` (brackets of
both kinds are balanced and no line counts as punctuation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import polars as pl

from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample
from timeline.parserkit.jsonpaths import ROOT, column_name, decode_paths, jp

# Envoy TEXT templates print ``-`` for a missing value, so ``"bytes": %BYTES%`` becomes ``"bytes": -``.
BARE_DASH_RE: Final = r"(:\s*)-(\s*[,}\]])"
PUNCTUATION_REASON: Final = "JSON array punctuation"
MAX_LINES: Final = 10_000
# Strings (a string still open at the end of a line runs to its end) are left out of brace counts.
_STRING_RE: Final = r'"(?:[^"\\]|\\.)*(?:"|$)'
# Where a record (an object, after optional array punctuation) or a document may open.
_HEAD_RE: Final = r"^\s*[\[,]*\s*\{"
_DOCUMENT_HEAD_RE: Final = r"^\s*[{\[]"
_PUNCTUATION_RE: Final = r"^[\s\[\],]*$"
# Blanks and array punctuation around an object spanning lines: `[{...},` / `{...}]`.
_LEADING: Final = " \t\r\n[,"
_TRAILING: Final = " \t\r\n,]"


@dataclass(frozen=True)
class RecordReasons:
    """How a parser words the lines that are not part of a valid record."""

    not_object: str = "not a JSON object"  # a stray line among one-line records
    outside: str = "not part of a JSON object"  # a stray line among records spanning lines
    invalid: str = "not a valid JSON object"  # a record whose braces balance but is not JSON
    unterminated: str = "unterminated JSON object"  # a record still open when the next began
    too_long: str = "JSON object too long"  # a record of more than ``max_lines`` lines


# One wording for every broken record (the policy parsers' reasons).
TERSE_REASONS: Final = RecordReasons(
    not_object="not a JSON object",
    outside="not a JSON object",
    invalid="invalid JSON record",
    unterminated="invalid JSON record",
)


@dataclass(frozen=True)
class Records:
    """Records of a source (one row each, see the module docstring) and the lines around them."""

    frame: pl.DataFrame
    rejects: pl.DataFrame
    skipped: pl.DataFrame

    @property
    def merged(self) -> int:
        """Lines merged into the records: every line of a record after its first."""
        if self.frame.height == 0:
            return 0
        return int(self.frame.get_column("lines").list.len().sum()) - self.frame.height

    def with_columns(self, *exprs: pl.Expr) -> Records:
        """The records with columns added to :attr:`frame`."""
        return replace(self, frame=self.frame.with_columns(*exprs))

    def reject(self, reason: pl.Expr) -> Records:
        """The records whose ``reason`` is null; every line of the others is rejected with it."""
        kept, marks = self._split(reason)
        return Records(kept, pl.concat([self.rejects, marks]), self.skipped)

    def keep(self, condition: pl.Expr, reason: str) -> Records:
        """The records where ``condition`` holds; every line of the others rejected with ``reason``."""
        return self.reject(pl.when(condition.fill_null(False)).then(None).otherwise(pl.lit(reason)))

    def skip(self, reason: pl.Expr) -> Records:
        """The records whose ``reason`` is null; every line of the others is skipped with it."""
        kept, marks = self._split(reason)
        return Records(kept, self.rejects, pl.concat([self.skipped, marks]))

    def _split(self, reason: pl.Expr) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The records whose ``reason`` is null, and the lines of the others with their reason."""
        why = self.frame.select(reason.cast(pl.String)).to_series()
        marks = (
            self.frame.filter(why.is_not_null())
            .select(pl.col("lines").alias("source_line"), why.drop_nulls().alias("reason"))
            .explode("source_line")
            .cast(MARK_SCHEMA)
        )
        return self.frame.filter(why.is_null()), marks

    def result(self, events: pl.DataFrame) -> ParseResult:
        """A parse result: ``events`` (built from :attr:`frame`) and the lines' marks."""
        return ParseResult(events, self.rejects, self.skipped, self.merged)


def read_records(
    lines: pl.DataFrame,
    paths: Sequence[str] = (),
    *,
    reasons: RecordReasons | None = None,
    repair_dashes: bool = False,
    documents: bool = False,
    max_lines: int | None = MAX_LINES,
    heads: Sequence[str] = (),
) -> Records:
    """The JSON records of ``lines`` (``source_line``, ``line``), with ``paths`` decoded.

    ``repair_dashes`` reads a bare ``-`` value (``"bytes": -``) as null. A record spanning more
    than ``max_lines`` lines is rejected (None: no limit). ``heads`` are decoded too (read them
    with ``jh(path)``, see :func:`timeline.parserkit.jsonpaths.decode_paths`).
    """
    why = reasons or RecordReasons()
    indexed = lines.with_row_index("row")
    # Only lines opening in their first column can be one-line records: decode just those.
    # ... and end with ``}`` (``]``) before trailing blanks: the others (the first line of a
    # record spanning lines) would make the decode spread its values over the candidates.
    candidates = indexed.filter(_opens_at_start(documents) & _closes_at_end(documents))
    decoded = decode_paths(candidates.get_column("line"), paths, heads)
    one_line = pl.concat([candidates.drop("line"), decoded], how="horizontal").filter(
        jp(ROOT).is_not_null()
    )
    frames = [
        one_line.select(
            "source_line",
            pl.concat_list(pl.col("source_line")).alias("lines"),
            jp(ROOT).alias("text"),
            pl.exclude("row", "source_line", column_name(ROOT)),
        )
    ]
    rejects: list[pl.DataFrame] = []
    skipped: list[pl.DataFrame] = []
    if one_line.height < lines.height:
        alone = pl.repeat(False, lines.height, eager=True).scatter(one_line.get_column("row"), True)
        # the layout: JSON lines (the first line is a one-line record) or records spanning lines
        one_per_line = bool(alone[0])
        features = _features(lines, alone, documents)
        groups = _group_frame(features, max_lines)
        numbers = lines.get_column("source_line")
        spanning, invalid = _validate(
            _spans(groups.closed, numbers, lines.get_column("line")),
            paths,
            heads,
            repair_dashes,
            documents,
        )
        frames.append(spanning)
        rejects += [
            _span_marks(groups.unterminated, numbers, why.unterminated),
            _span_marks(groups.too_long, numbers, why.too_long),
            _row_marks(groups.outside, numbers, why.not_object if one_per_line else why.outside),
            invalid.select(
                pl.col("lines").alias("source_line"), pl.lit(why.invalid).alias("reason")
            )
            .explode("source_line")
            .cast(MARK_SCHEMA),
        ]
        skipped.append(_row_marks(groups.punctuation, numbers, PUNCTUATION_REASON))
    frame = pl.concat(frames, how="vertical_relaxed")
    if len(frames) > 1:
        frame = frame.sort("source_line")
    return Records(frame, _concat(rejects), _concat(skipped))


def sample_objects(lines: Sequence[str], limit: int = 16) -> list[dict[str, Any]]:
    """Up to ``limit`` JSON objects of sample lines, for sniffing: the records
    :func:`read_records` finds (bare ``-`` values read as null, no length limit), found in
    Python since a sample is a few lines."""
    features = [(row, *_line_features(text)) for row, text in enumerate(lines)]
    found: list[dict[str, Any]] = []
    for first, last in _group(features, None).closed:
        body = "\n".join(lines[first : last + 1]).lstrip(_LEADING).rstrip(_TRAILING)
        for candidate in (body, re.sub(BARE_DASH_RE, r"\1null\2", body)):
            try:
                value = json.loads(candidate)
            except (ValueError, RecursionError):
                continue
            if isinstance(value, dict):
                found.append(value)
            break
        if len(found) >= limit:
            break
    return found


def signature_score(sample: Sample, signatures: Sequence[str], needed: int = 1) -> float:
    """Score a JSON sample: it must open with ``{`` and hold ``needed`` of ``signatures``.

    Signatures are plain substrings (usually quoted key names), so pretty-printed and
    one-line objects score alike.
    """
    if not sample.lines or not sample.lines[0].lstrip().startswith("{"):
        return 0.0
    text = "\n".join(sample.lines)
    hits = sum(1 for s in signatures if s in text)
    if hits < needed:
        return 0.0
    return min(0.8 + 0.05 * hits, 0.97)


@dataclass
class _Groups:
    """The rows outside one-line records, sorted into records (first and last row) and the rest."""

    closed: list[tuple[int, int]] = field(default_factory=list)  # records whose braces balance
    unterminated: list[tuple[int, int]] = field(default_factory=list)
    too_long: list[tuple[int, int]] = field(default_factory=list)
    outside: list[int] = field(default_factory=list)
    punctuation: list[int] = field(default_factory=list)


_SPAN_SCHEMA: Final = {"first": pl.Int64, "last": pl.Int64}


@dataclass(frozen=True)
class _Grouped:
    """:class:`_Groups` as frames: spans (``first``, ``last``) and rows (Int64 series)."""

    closed: pl.DataFrame
    unterminated: pl.DataFrame
    too_long: pl.DataFrame
    outside: pl.Series
    punctuation: pl.Series


def _span_frame(spans: list[tuple[int, int]]) -> pl.DataFrame:
    """Spans as a ``first`` / ``last`` frame."""
    return pl.DataFrame(
        {"first": [a for a, _ in spans], "last": [b for _, b in spans]}, schema=_SPAN_SCHEMA
    )


def _group_frame(features: pl.DataFrame, max_lines: int | None) -> _Grouped:
    """:func:`_group` of the :func:`_features` frame: vectorized when the rows are well formed
    (see :func:`_group_vectorized`), else by the loop."""
    fast = _group_vectorized(features, max_lines)
    if fast is not None:
        return fast
    columns = [features.get_column(c).to_list() for c in features.columns]
    groups = _group(zip(*columns, strict=True), max_lines)
    return _Grouped(
        _span_frame(groups.closed),
        _span_frame(groups.unterminated),
        _span_frame(groups.too_long),
        pl.Series(groups.outside, dtype=pl.Int64),
        pl.Series(groups.punctuation, dtype=pl.Int64),
    )


def _group_vectorized(features: pl.DataFrame, max_lines: int | None) -> _Grouped | None:
    """:func:`_group` without a loop, for rows where it reduces to a running bracket balance;
    None when it does not (the loop then decides).

    With ``depth`` the running sum of ``delta`` over the rows, the loop's records are the spans
    from a ``head`` row where ``depth`` was 0 before it to the next row where it is 0 again, and
    every other row at depth 0 is outside them, provided that: ``depth`` never drops below 0 and
    ends at 0 (no record closes on a negative balance, none is left open), rows outside records
    hold no bracket (``delta`` 0), no record is cut by a row out of sequence or a ``restart``, and
    none reaches ``max_lines``.
    """
    if features.height == 0:
        return None
    row = features.get_column("row").cast(pl.Int64)
    head = features.get_column("head")
    delta = features.get_column("delta")
    depth = delta.cum_sum()
    before = depth.shift(1, fill_value=0)
    inside = before > 0
    if bool((depth < 0).any()) or bool(depth.tail(1).ne(0).any()):
        return None
    stepped = (row.diff() == 1).fill_null(False)
    if bool((inside & (~stepped | features.get_column("restart"))).any()):
        return None
    starts = ~inside & head
    out = ~inside & ~head
    if bool((out & (delta != 0)).any()):
        return None
    ends = (depth == 0) & (inside | starts)
    closed = pl.DataFrame({"first": row.filter(starts), "last": row.filter(ends)})
    if max_lines is not None and bool(
        ((closed.get_column("last") - closed.get_column("first") + 1) > max_lines).any()
    ):
        return None
    punct = features.get_column("punct")
    empty = pl.DataFrame(schema=_SPAN_SCHEMA)
    return _Grouped(closed, empty, empty, row.filter(out & ~punct), row.filter(out & punct))


def _closes_at_end(documents: bool) -> pl.Expr:
    """True where the line ends with ``}`` (or ``]`` for documents) before trailing blanks."""
    line = pl.col("line").str.strip_chars_end()
    closes = line.str.ends_with("}")
    return closes | line.str.ends_with("]") if documents else closes


def _opens_at_start(documents: bool) -> pl.Expr:
    """True where the line starts with ``{`` (or ``[`` for documents) in its first column."""
    line = pl.col("line")
    opens = line.str.starts_with("{")
    return opens | line.str.starts_with("[") if documents else opens


def _features(lines: pl.DataFrame, alone: pl.Series, documents: bool) -> pl.DataFrame:
    """Per row outside one-line records: where a record may open (``head``) or restart, its
    bracket balance (``delta``), whether it is array punctuation."""
    rest = lines.select("line").with_row_index("row").filter(~alone)
    text = rest.get_column("line")
    opens, closes = ("{[", "}]") if documents else ("{", "}")
    # Only lines with a bracket need their strings removed and their brackets counted.
    bracketed = text.str.contains(f"[{re.escape(opens + closes)}]")
    bare = text.filter(bracketed).str.replace_all(_STRING_RE, "")
    balance = _count(bare, opens) - _count(bare, closes)
    delta = pl.repeat(0, len(text), dtype=pl.Int64, eager=True).scatter(
        bracketed.arg_true(), balance
    )
    line = pl.col("line")
    head = _DOCUMENT_HEAD_RE if documents else _HEAD_RE
    punct = pl.lit(False) if documents else line.str.contains(_PUNCTUATION_RE)
    return rest.select(
        "row",
        line.str.contains(head).alias("head"),
        _opens_at_start(documents).alias("restart"),
        pl.lit(delta).alias("delta"),
        punct.alias("punct"),
    )


def _count(text: pl.Series, chars: str) -> pl.Series:
    """How many of ``chars`` each text holds."""
    counts = [text.str.count_matches(c, literal=True).cast(pl.Int64) for c in chars]
    total = counts[0]
    for more in counts[1:]:
        total = total + more
    return total


def _line_features(text: str) -> tuple[bool, bool, int, bool]:
    """:func:`_features` of one line of a record sample (objects), in Python."""
    bare = re.sub(_STRING_RE, "", text)
    return (
        re.match(_HEAD_RE, text) is not None,
        text.startswith("{"),
        bare.count("{") - bare.count("}"),
        re.match(_PUNCTUATION_RE, text) is not None,
    )


def _group(features: Iterable[tuple[int, bool, bool, int, bool]], max_lines: int | None) -> _Groups:
    """Group rows into records by brace balance (see the module docstring); ``features`` are
    ``(row, head, restart, delta, punct)`` of the rows outside one-line records, in order."""
    out = _Groups()
    start = -1  # first row of the open record, -1 when none is open
    depth = 0
    previous = -2
    for row, head, restart, delta, punct in features:
        if start >= 0 and (row != previous + 1 or restart):
            out.unterminated.append((start, previous))  # a new record began before it closed
            start = -1
        previous = row
        if start < 0:
            if not head:
                (out.punctuation if punct else out.outside).append(row)
                continue
            start, depth = row, 0
        depth += delta
        if depth <= 0:
            out.closed.append((start, row))
            start = -1
        elif max_lines is not None and row - start + 1 >= max_lines:
            out.too_long.append((start, row))
            start = -1
    if start >= 0:
        out.unterminated.append((start, previous))
    return out


def _rows(spans: pl.DataFrame) -> pl.DataFrame:
    """Every row of the spans (``row``) with the span's index (``span``)."""
    return spans.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("span"),
        pl.int_ranges("first", pl.col("last") + 1).alias("row"),
    ).explode("row")


def _spans(spans: pl.DataFrame, numbers: pl.Series, texts: pl.Series) -> pl.DataFrame:
    """One row per span: its first ``source_line``, all of them (``lines``), its text joined."""
    rows = _rows(spans)
    return (
        rows.with_columns(numbers.gather(rows.get_column("row")).alias("source_line"))
        .with_columns(texts.gather(rows.get_column("row")).alias("line"))
        .group_by("span", maintain_order=True)
        .agg(
            pl.col("source_line").first(),
            pl.col("source_line").alias("lines"),
            pl.col("line").str.join("\n").alias("_body"),
        )
        .drop("span")
    )


def _span_marks(spans: pl.DataFrame, numbers: pl.Series, reason: str) -> pl.DataFrame:
    """Every line of the spans, marked with ``reason``."""
    return _row_marks(_rows(spans).get_column("row"), numbers, reason)


def _row_marks(rows: pl.Series, numbers: pl.Series, reason: str) -> pl.DataFrame:
    """The lines of ``rows``, marked with ``reason``."""
    picked = numbers.gather(rows) if len(rows) else numbers.clear()
    return pl.DataFrame({"source_line": picked, "reason": reason}, schema=MARK_SCHEMA)


def _validate(
    closed: pl.DataFrame,
    paths: Sequence[str],
    heads: Sequence[str],
    repair_dashes: bool,
    documents: bool,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Records whose braces balanced: the valid ones as frame rows (``text`` compact JSON, paths
    decoded), and the others (``lines``)."""
    body = pl.col("_body")
    if not documents:  # array punctuation around the object: `[{...},` / `{...}]`
        body = body.str.strip_chars_start(_LEADING).str.strip_chars_end(_TRAILING)
    if (paths or heads) and not repair_dashes:
        # One decode gives both the compact text (``$``) and the paths.
        decoded = decode_paths(closed.select(body).to_series(), paths, heads)
        whole = decoded.get_column(column_name(ROOT))
        ok = whole.is_not_null() if documents else whole.str.starts_with("{").fill_null(False)
        checked = closed.select("source_line", "lines").with_columns(
            whole.set(~ok, None).alias("text")
        )
        rest = decoded.drop(column_name(ROOT))
        good = pl.concat([checked, rest], how="horizontal").filter(ok)
        return good, checked.filter(~ok)
    bodies = closed.select(body).to_series()
    text = bodies.str.json_path_match(ROOT)
    if repair_dashes:
        # only the records that are no JSON as logged and hold a bare dash are read again
        dashed = (text.is_null() & bodies.str.contains(BARE_DASH_RE)).fill_null(False)
        if bool(dashed.any()):
            fixed = bodies.filter(dashed).str.replace_all(BARE_DASH_RE, "${1}null${2}")
            text = text.scatter(dashed.arg_true(), fixed.str.json_path_match(ROOT))
    if not documents:
        text = text.set(~text.str.starts_with("{").fill_null(False), None)
    checked = closed.select("source_line", "lines").with_columns(text.alias("text"))
    good = checked.filter(pl.col("text").is_not_null())
    if paths or heads:
        decoded = decode_paths(good.get_column("text"), paths, heads).drop(column_name(ROOT))
        good = pl.concat([good, decoded], how="horizontal")
    return good, checked.filter(pl.col("text").is_null())


def _concat(marks: list[pl.DataFrame]) -> pl.DataFrame:
    """One marks frame of several."""
    return pl.concat(marks) if marks else pl.DataFrame(schema=MARK_SCHEMA)
