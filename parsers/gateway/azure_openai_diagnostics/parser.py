"""Azure Monitor resource logs of Azure OpenAI (Cognitive Services) and API Management.

One record per line (a storage-account export, ``PT1H.json``), pretty-printed records,
``{"records": [...]}`` documents (an Event Hub message body or an older blob; one per line or
pretty-printed) and JSON arrays of Log Analytics rows. ``properties`` is an object or the same
object serialized as a string; it is decoded once per record, then its fields are read from that
one decode. Every key the mapping does not read goes to ``attributes``. See ``README.md``.
"""

from __future__ import annotations

import bisect
import io
import json
import re
from typing import Any, Final

import polars as pl

from parsers.gateway.azure_openai_diagnostics import fields
from parsers.gateway.azure_openai_diagnostics.events import event_columns
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source
from timeline.parserkit.frame import first_reason
from timeline.parserkit.jsonpaths import decode_paths, jp, key_path
from timeline.parserkit.records import RecordReasons, read_records, sample_objects
from timeline.parserkit.text import clean
from timeline.parserkit.timestamps import parse_iso8601, with_parsed
from timeline.parserkit.wide import (
    attribute_frame,
    wide_attributes,
    wide_ids,
)

_REASONS: Final = RecordReasons(
    not_object="not a JSON object",
    outside="not a JSON object",
    invalid="not a valid JSON record",
    unterminated="unterminated JSON record",
)
_TOP_NAMES: Final = frozenset(fields.TOP_NAMES)
_DOCUMENT_HEAD: Final = '{"records":['
# A line where a records document may open (``{"records": [`` or a pretty ``"records": [``).
_DOCUMENT_LINE: Final = r'^\s*(?:\{\s*)?"records"\s*:\s*\['
_RECORDS_ARRAY: Final = re.compile(r'"records"\s*:\s*\[')
STRUCTURE_REASON: Final = "records document structure"
NOT_OBJECT_REASON: Final = "records element is not a JSON object"
# A JSON object key (strings, escapes included, are skipped whole, so keys inside string values
# such as a serialized ``properties`` are not taken for keys of the record).
_KEY_RE: Final = r'"((?:[^"\\]|\\.)*)"\s*:'
# Keys read per file beyond the mapped ones (random text could otherwise make thousands of paths).
MAX_KEYS: Final = 256
_SNIFF_TIME: Final = ("time", "TimeGenerated")
_SNIFF_RESOURCE: Final = ("resourceId", "ResourceId", "_ResourceId")
_SNIFF_KIND: Final = ("category", "Category", "operationName", "OperationName")
_RECORD_SCHEMA: Final = pl.Schema(
    {"source_line": pl.Int64(), "lines": pl.List(pl.Int64()), "text": pl.String()}
)


def _is_resource_log(obj: dict[str, Any]) -> bool:
    return (
        any(k in obj for k in _SNIFF_TIME)
        and any(k in obj for k in _SNIFF_RESOURCE)
        and any(k in obj for k in _SNIFF_KIND)
    )


def _first(names: tuple[str, ...], values: dict[str, pl.Expr]) -> pl.Expr:
    exprs = [values[n] for n in names]
    return clean(exprs[0]) if len(exprs) == 1 else clean(pl.coalesce(exprs))


def explode_documents(
    docs: pl.DataFrame, texts: dict[int, str]
) -> tuple[pl.DataFrame, list[tuple[int, str]], list[tuple[int, str]]]:
    """Cut ``{"records": [...]}`` documents into their records (Python, once per document).

    Each record keeps the line where it starts and the lines it spans; records sharing one line
    (a document on one line) all start there. Returns the records, the lines of the documents
    outside every record (skipped) and the lines of elements that are not objects (rejected).
    """
    rows: list[tuple[int, list[int], str]] = []
    skipped: list[tuple[int, str]] = []
    rejected: list[tuple[int, str]] = []
    decoder = json.JSONDecoder()
    for numbers in docs.get_column("lines").to_list():
        body = [texts[n] for n in numbers]
        text = "\n".join(body)
        starts = [0]
        for part in body[:-1]:
            starts.append(starts[-1] + len(part) + 1)
        covered: set[int] = set()
        bad: set[int] = set()
        match = _RECORDS_ARRAY.search(text)
        pos = match.end() if match else len(text)
        while pos < len(text):
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or text[pos] == "]":
                break
            try:
                value, end = decoder.raw_decode(text, pos)
            except ValueError:  # the document decoded as a whole: not reached
                break
            first = bisect.bisect_right(starts, pos) - 1
            last = bisect.bisect_right(starts, end - 1) - 1
            spanned = list(range(first, last + 1))
            if isinstance(value, dict):
                compact = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                rows.append((numbers[first], [numbers[i] for i in spanned], compact))
                covered.update(spanned)
            else:
                bad.update(spanned)
            pos = end
        rejected += [(numbers[i], NOT_OBJECT_REASON) for i in sorted(bad - covered)]
        skipped += [
            (numbers[i], STRUCTURE_REASON)
            for i in range(len(numbers))
            if i not in covered and i not in bad
        ]
    frame = pl.DataFrame(rows, schema=_RECORD_SCHEMA, orient="row")
    return frame, skipped, rejected


def explode_lines(docs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Cut one-line ``{"records": [...]}`` documents into their records, vectorized: every
    record starts on its document's line. Returns the records, the lines of empty documents
    (skipped) and the lines holding no object (rejected)."""
    body = "\n".join(docs.get_column("text").to_list())
    elements = pl.read_ndjson(
        io.StringIO(body), schema={"records": pl.List(pl.String)}, ignore_errors=True
    ).get_column("records")
    cut = docs.select("source_line", "lines").with_columns(elements.alias("text")).explode("text")
    is_object = pl.col("text").str.starts_with("{").fill_null(False)
    empty = cut.group_by("source_line", maintain_order=True).agg(
        pl.col("text").is_null().all().alias("_empty"), is_object.any().alias("_objects")
    )
    skipped = empty.filter(pl.col("_empty")).select(
        "source_line", pl.lit(STRUCTURE_REASON).alias("reason")
    )
    rejected = empty.filter(~pl.col("_empty") & ~pl.col("_objects")).select(
        "source_line", pl.lit(NOT_OBJECT_REASON).alias("reason")
    )
    return (
        cut.filter(is_object).cast(_RECORD_SCHEMA),
        skipped.cast(MARK_SCHEMA),
        rejected.cast(MARK_SCHEMA),
    )


def _keys(text: pl.Series) -> list[str]:
    """The object keys found in the texts (at any depth), at most :data:`MAX_KEYS`, the most
    frequent first, then sorted."""
    found = text.str.extract_all(_KEY_RE).explode().drop_nulls()
    counts = found.value_counts(sort=True).head(MAX_KEYS * 2)
    names = counts.get_column(found.name).str.extract(_KEY_RE, 1)
    keys = [k for k in names.to_list() if k and "\\" not in k]
    return sorted(dict.fromkeys(keys[:MAX_KEYS]))


def _top_keys(keys: list[str]) -> list[str]:
    """The ``keys`` worth decoding at the top of a record: a name only properties hold (read
    from the properties, or from the record itself for a Log Analytics row, by the second
    decode) would be a path per record whose value nothing reads, and the decode's cost grows
    with its paths."""
    return [k for k in keys if k in _TOP_NAMES or k not in fields.PROP_MAPPED]


def _columns(prefix: str, decoded: list[str], wanted: tuple[str, ...]) -> dict[str, pl.Expr]:
    """The decoded column of every key (``prefix`` + key), a null for the keys not decoded."""
    none = pl.lit(None, dtype=pl.String)
    return {n: pl.col(f"{prefix}{n}") if n in decoded else none for n in (*wanted, *decoded)}


def _present(decoded: pl.DataFrame, prefix: str, keys: list[str]) -> list[str]:
    """The ``keys`` that have a value in at least one row of ``decoded``."""
    height = decoded.height
    return [k for k in keys if decoded.get_column(f"{prefix}{k}").null_count() < height]


def _decode(text: pl.Series, names: list[str], extra: dict[str, str]) -> pl.DataFrame:
    """One decode of ``text``: the top-level ``names`` (as ``k:<name>``) and ``extra`` paths."""
    paths = {f"k:{n}": key_path(n) for n in names} | extra
    decoded = decode_paths(text, list(dict.fromkeys(paths.values())))
    return decoded.select([jp(p).alias(alias) for alias, p in paths.items()])


class AzureOpenAIDiagnosticsParser:
    """Azure OpenAI and API Management resource logs (storage / Event Hub / Log Analytics exports)."""

    name = "azure_openai_diagnostics"
    layer = "gateway"
    description = (
        "Azure Monitor resource logs of Azure OpenAI (RequestResponse, Audit, Trace) and API "
        "Management (GatewayLogs, GatewayLlmLogs): JSON lines, records documents, LA exports"
    )
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^\{"

    def sniff(self, sample: Sample) -> float:
        """Share of the sample's records carrying the Azure Monitor common schema."""
        objects = sample_objects(sample.lines)
        records: list[dict[str, Any]] = []
        for obj in objects:
            inner = obj.get("records")
            if isinstance(inner, list):
                records += [r for r in inner[:16] if isinstance(r, dict)]
            else:
                records.append(obj)
        if records:
            fits = sum(1 for r in records if _is_resource_log(r))
            return 0.96 * fits / len(records)
        # A pretty-printed records document longer than the sample: look for its keys.
        joined = "\n".join(sample.lines)
        opens = joined.lstrip().startswith("{") and _RECORDS_ARRAY.search(joined) is not None
        marks = sum(1 for k in ('"resourceId"', '"operationName"', '"category"') if k in joined)
        return 0.85 if opens and marks >= 2 and '"time"' in joined else 0.0

    def parse(self, source: Source) -> ParseResult:
        """Parse a whole file of resource log records."""
        # The keys the lines hold: the top-level ones are decoded with the records (one decode
        # validates the records and reads them); every alias of every field would be a path.
        raw = source.lines.get_column("line")
        keys = _top_keys(_keys(raw))
        # Records documents hold no record fields at their top: decode their records instead.
        with_docs = bool(raw.str.contains(_DOCUMENT_LINE).any())
        paths = [] if with_docs else [key_path(k) for k in keys]
        found = read_records(source.lines, paths, reasons=_REASONS, max_lines=None)
        frame = found.frame.select(
            "source_line",
            "lines",
            "text",
            *[jp(p).alias(f"k:{k}") for k, p in zip(keys, paths, strict=False)],
        )
        is_doc = pl.col("text").str.starts_with(_DOCUMENT_HEAD)
        plain = frame.filter(~is_doc)
        docs = frame.filter(is_doc)
        if with_docs:
            plain = pl.concat(
                [plain, _decode(plain.get_column("text"), keys, {})], how="horizontal"
            )
        skipped = [found.skipped]
        rejects = [found.rejects]
        if docs.height:
            pieces, doc_skipped, doc_rejected = [], [], []
            one_line = docs.filter(pl.col("lines").list.len() == 1)
            if one_line.height:  # Event Hub bodies, one per line: vectorized
                cut, skip, reject = explode_lines(one_line)
                pieces.append(cut)
                doc_skipped.append(skip)
                doc_rejected.append(reject)
            spread = docs.filter(pl.col("lines").list.len() > 1)
            if spread.height:  # pretty-printed: each record keeps its own lines (Python)
                wanted = spread.select(pl.col("lines").explode()).get_column("lines")
                texts = dict(
                    source.lines.filter(pl.col("source_line").is_in(wanted.implode()))
                    .select("source_line", "line")
                    .iter_rows()
                )
                cut, skip_rows, reject_rows = explode_documents(spread, texts)
                pieces.append(cut)
                doc_skipped.append(pl.DataFrame(skip_rows, schema=MARK_SCHEMA, orient="row"))
                doc_rejected.append(pl.DataFrame(reject_rows, schema=MARK_SCHEMA, orient="row"))
            exploded = pl.concat(pieces)
            inner = exploded.get_column("text")
            keys = list(dict.fromkeys(keys + _top_keys(_keys(inner))))
            exploded = pl.concat([exploded, _decode(inner, keys, {})], how="horizontal")
            plain = pl.concat([plain, exploded], how="diagonal_relaxed").sort(
                "source_line", maintain_order=True
            )
            skipped += doc_skipped
            rejects += doc_rejected
        records, extra = self._with_fields(plain, keys, source.settings.timezone)
        why = first_reason(
            [
                (
                    ~pl.col("_resource_log"),
                    "not an Azure resource log record (no category, operationName or resourceId)",
                ),
                (pl.col("_time").is_null(), "no time"),
                (pl.col("_ts").is_null(), "time is not ISO 8601"),
            ]
        )
        records = records.with_columns(why.alias("_why"))
        good = records.filter(pl.col("_why").is_null())
        bad = records.filter(pl.col("_why").is_not_null())
        starts = good.get_column("source_line").unique()
        taken = good.select(pl.col("lines").explode()).get_column("lines").unique()
        bad_lines = (
            bad.select(pl.col("lines").alias("source_line"), pl.col("_why").alias("reason"))
            .explode("source_line")
            .filter(~pl.col("source_line").is_in(taken.implode()))
            .unique("source_line", keep="first", maintain_order=True)
            .cast(MARK_SCHEMA)
        )
        rejects.append(bad_lines)
        stages, columns, ids, attrs = event_columns(source.settings.timezone)
        # Keys the mapping does not read, after its own attributes (``record.`` on a clash).
        attrs |= {(f"record.{k}" if k in attrs else k): pl.col(f"a:{k}") for k in extra}
        for stage in stages:
            good = good.with_columns(stage)
        events = good.select(columns).with_columns(
            wide_ids(attribute_frame(good, ids)), wide_attributes(attribute_frame(good, attrs))
        )
        return ParseResult(
            events=events,
            rejects=pl.concat(rejects),
            skipped=pl.concat(skipped),
            merged_lines=taken.len() - starts.len(),
        )

    @staticmethod
    def _with_fields(
        records: pl.DataFrame, top_extra: list[str], timezone: str
    ) -> tuple[pl.DataFrame, list[str]]:
        """The records (their top-level ``top_extra`` keys decoded in ``k:<key>`` columns) with
        their fields, their properties decoded and read, and the keys no field reads (their
        values in columns ``a:<key>``)."""
        values = _columns("k:", top_extra, fields.TOP_NAMES)
        frame = records
        props_raw = pl.coalesce([values[n] for n in fields.PROPERTIES])
        frame = frame.with_columns(
            # Resource-specific Log Analytics rows have no properties: their columns are the fields.
            pl.when(props_raw.is_not_null()).then(pl.lit("properties")).alias("_props_from"),
            pl.coalesce(props_raw, pl.col("text")).alias("_props"),
        )
        props_text = frame.get_column("_props")
        prop_extra = _keys(props_text)
        last_error = {
            f"e:{parent}:{field}": f"{key_path(parent)}{key_path(field)[1:]}"
            for parent in fields.LAST_ERROR_KEYS
            if parent in prop_extra
            for field in fields.LAST_ERROR
        }
        pnames = [k for k in prop_extra if k not in fields.LAST_ERROR_KEYS]
        props = _decode(props_text, pnames, last_error)
        props = props.rename({c: c.replace("k:", "p:", 1) for c in props.columns})
        frame = pl.concat([frame, props], how="horizontal")
        # The attributes: keys no field reads, at the top and inside properties (prefixed
        # ``properties.`` when the top level has the same key). A key found only deeper in the
        # records has no value at the level read, and is left out.
        top_present = _present(records, "k:", top_extra)
        top_attrs = [k for k in top_present if k not in fields.TOP_MAPPED]
        prop_found = _present(props, "p:", [k for k in pnames if k not in fields.PROP_MAPPED])
        from_props = pl.col("_props_from").is_not_null()
        attr_exprs = {k: pl.col(f"k:{k}") for k in top_attrs}
        attr_exprs |= {
            (f"properties.{k}" if k in top_present else k): pl.when(from_props).then(
                pl.col(f"p:{k}")
            )
            for k in prop_found
        }
        time = _first(fields.TOP["time"], values)
        is_log = (
            _first(fields.TOP["category"], values).is_not_null()
            | _first(fields.TOP["operation"], values).is_not_null()
            | _first(fields.TOP["resource_id"], values).is_not_null()
        )
        top_fields = {name: _first(aliases, values) for name, aliases in fields.TOP.items()}
        pvalues = _columns("p:", pnames, fields.PROP_NAMES)
        prop_fields = {name: _first(aliases, pvalues) for name, aliases in fields.PROPS.items()}
        content = {name: _first(aliases, pvalues) for name, aliases in fields.CONTENT.items()}
        errors = {
            f"last_error_{field}": pl.coalesce(
                *[
                    clean(pl.col(f"e:{parent}:{field}"))
                    for parent in fields.LAST_ERROR_KEYS
                    if parent in prop_extra
                ],
                prop_fields[f"last_error_{field}"],
            )
            for field in fields.LAST_ERROR
        }
        frame = frame.with_columns(time.alias("_time"))
        frame = with_parsed(frame, parse_iso8601(pl.col("_time"), timezone), "_ts", "_assumed")
        frame = frame.with_columns(
            is_log.alias("_resource_log"),
            *[e.alias(f"t_{n}") for n, e in top_fields.items()],
            *[e.alias(f"f_{n}") for n, e in prop_fields.items() if not n.startswith("last_error")],
            *[e.alias(f"f_{n}") for n, e in errors.items()],
            *[e.alias(f"c_{n}") for n, e in content.items()],
            *[e.alias(f"a:{k}") for k, e in attr_exprs.items()],
        )
        return frame, list(attr_exprs)
