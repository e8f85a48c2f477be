"""NeMo Guardrails tracing output from its FileSystem adapter (``trace.jsonl``): one event per span."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.kv import attributes
from timeline.parserkit.records import TERSE_REASONS, read_records, signature_score
from timeline.parserkit.text import nullify, on_rows
from timeline.parserkit.timestamps import parse_epoch
from timeline.parserkit.verdicts import verdict_severity, verdict_status

# Span times are seconds relative to the first rail; values above this are epoch seconds.
EPOCH_FLOOR: Final = 1e9


_NESTED: Final = ("$.attributes", "$.error")

# Every JSON path a span is read at (each becomes one column, see ``_events``).
_PATHS: Final = (
    "$.name",
    "$.start_time",
    "$.duration",
    "$.attributes['rail.name']",
    "$.attributes['rail.type']",
    "$.attributes['gen_ai.request.model']",
    "$.attributes['gen_ai.response.model']",
    "$.attributes['rail.stop']",
    "$.error.occurred",
    "$.metrics",
    "$.span_id",
    "$.parent_id",
    "$.attributes['gen_ai.provider.name']",
    "$.attributes['gen_ai.usage.input_tokens']",
    "$.attributes['gen_ai.usage.output_tokens']",
    "$.attributes['gen_ai.response.finish_reasons']",
    "$.attributes['gen_ai.response.id']",
    "$.error.type",
    "$.span_type",
    "$.span_kind",
    "$.end_time",
    "$.attributes['rail.decisions']",
    "$.attributes['action.name']",
    "$.attributes['gen_ai.operation.name']",
    "$.error.message",
)


def _read_paths(spans: pl.DataFrame) -> pl.DataFrame:
    """One column per :data:`_PATHS` item (``_p0``, ``_p1``...).

    Paths under ``$.attributes`` and ``$.error`` are read from that object's text (taken once)
    rather than from the whole span: the same values (the object's text is its JSON, read back),
    at a fraction of the parsing. Where the value is not an object (a string, an array), or the
    probe cannot tell, the path is read from the span as before."""
    span = pl.col("_span")
    plain = {i: p for i, p in enumerate(_PATHS) if not p.startswith(_NESTED)}
    spans = spans.with_columns(
        [_get(span, p).alias(f"_p{i}") for i, p in plain.items()]
        + [span.str.json_path_match(f"$.{n}").alias(f"_{n}") for n in ("attributes", "error")]
    )
    for nested in ("attributes", "error"):
        text = pl.col(f"_{nested}")
        # an object: its text starts with ``{`` and, in the span, it has a member (or is
        # empty); a string value that looks like one has no member for ``.*`` to reach
        spans = on_rows(
            spans,
            text.str.starts_with("{"),
            {"_probe": span.str.json_path_match(f"$.{nested}.*")},
        )
        is_object = text.str.starts_with("{") & ((text == "{}") | pl.col("_probe").is_not_null())
        spans = spans.with_columns(is_object.fill_null(False).alias("_object"))
        paths = {i: p for i, p in enumerate(_PATHS) if p.startswith(f"$.{nested}")}
        spans = on_rows(
            spans,
            pl.col("_object"),
            {f"_p{i}": _get(text, "$" + p[len(f"$.{nested}") :]) for i, p in paths.items()},
        )
        spans = on_rows(
            spans,
            text.is_not_null() & ~pl.col("_object"),
            {f"_q{i}": _get(span, p) for i, p in paths.items()},
        )
        spans = spans.with_columns(
            [pl.coalesce(f"_p{i}", f"_q{i}").alias(f"_p{i}") for i in paths]
        ).drop("_probe", "_object", *[f"_q{i}" for i in paths])
    return spans


def _get(span: pl.Expr, path: str) -> pl.Expr:
    return nullify(span.str.json_path_match(path))


def _path(path: str) -> pl.Expr:
    """The column holding ``path``'s value (:data:`_PATHS`)."""
    return pl.col(f"_p{_PATHS.index(path)}")


_SPAN_ID: Final = r'"span_id":'


def _leaf(path: str) -> tuple[str | None, str]:
    """The object of a span holding ``path``'s value (None: the span) and its key."""
    for nested in ("attributes", "error"):
        if path.startswith(f"$.{nested}['"):
            return nested, path[len(f"$.{nested}['") : -2]
        if path.startswith(f"$.{nested}."):
            return nested, path[len(f"$.{nested}.") :]
    return None, path[2:]


# Values read as JSON text (objects or arrays of scalars): they are cut from the record's
# compact text (see ``_containers``); the decode only says which spans hold one. An object is
# read as a struct of one field no span has, an array as a list of text.
_OBJECTS: Final = frozenset({"$.metrics"})
_ARRAYS: Final = frozenset(
    {"$.attributes['rail.decisions']", "$.attributes['gen_ai.response.finish_reasons']"}
)
_NOT_A_KEY: Final = "\x00"
# A JSON string in compact text, and a flat object / array (no object or array inside).
_STRING: Final = r'"(?:[^"\\]|\\.)*"'
_FLAT: Final = {
    "object": r"\{(?:[^{}\[\]\"]|" + _STRING + r")*\}",
    "array": r"\[(?:[^{}\[\]\"]|" + _STRING + r")*\]",
}


def _dtype() -> pl.Struct:
    """The dtype every record is decoded with: its header and every path of its spans."""
    groups: dict[str | None, dict[str, pl.DataType]] = {None: {}, "attributes": {}, "error": {}}
    for path in _PATHS:
        nested, key = _leaf(path)
        if path in _OBJECTS:
            groups[nested][key] = pl.Struct({_NOT_A_KEY: pl.String()})
        elif path in _ARRAYS:
            groups[nested][key] = pl.List(pl.String())
        else:
            groups[nested][key] = pl.String()
    span = dict(groups[None])
    span["attributes"] = pl.Struct(groups["attributes"])
    span["error"] = pl.Struct(groups["error"])
    return pl.Struct(
        {"trace_id": pl.String(), "schema_version": pl.String(), "spans": pl.List(pl.Struct(span))}
    )


_DTYPE: Final = _dtype()
# Decodes allowed per record batch: this many, plus one per this many records.
_DECODES: Final = 64
# The decoder prints some numbers other than ``json_path_match`` (``1.0`` as ``1``, exponents
# and 16 digits or more differently, not always to the same float): a record holding one under a
# key that is read is split by index instead. Where the value is only read as a number (start,
# duration), an integral float reads the same.
_TEXT_KEYS: Final = sorted(
    {_leaf(p)[1] for p in _PATHS if p not in ("$.start_time", "$.duration")}
    | {"trace_id", "schema_version"}
)
_NUMBER_KEYS: Final = ("start_time", "duration")
_ODD_NUMBER: Final = r"\d[\d.]*[eE]|(?:\d\.?){16}"


def _keyed(keys: list[str] | tuple[str, ...], value: str) -> str:
    return '"(?:' + "|".join(re.escape(k) for k in keys) + ')":-?(?:' + value + ")"


_ODD: Final = (
    _keyed(_TEXT_KEYS, r"\d+\.0[,}\]]|" + _ODD_NUMBER) + "|" + _keyed(_NUMBER_KEYS, _ODD_NUMBER)
)


def _decode(texts: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Every record (compact JSON) decoded with :data:`_DTYPE`, and the rows it refused (null
    there). The decoder refuses a whole batch for one value of another type than the dtype
    says (an object where text is, text where an array is): the batch is halved until each
    refused record stands alone, so a few odd records cost a few more decodes. When the odd
    records are many, a budget of decodes (:data:`_DECODES`) stops the halving: the batches
    still refused then are refused whole (read by index, as before)."""
    pieces: list[tuple[int, pl.Series, bool]] = []
    pending = [(0, texts.len())] if texts.len() else []
    budget = _DECODES + texts.len() // _DECODES
    while pending:
        start, length = pending.pop()
        budget -= 1
        try:
            if budget < 0:
                raise pl.exceptions.ComputeError("out of decodes")
            pieces.append((start, texts.slice(start, length).str.json_decode(_DTYPE), False))
        except pl.exceptions.PolarsError:
            if length == 1 or budget < 0:
                pieces.append((start, pl.repeat(None, length, dtype=_DTYPE, eager=True), True))
            else:
                half = length // 2
                pending += [(start + half, length - half), (start, half)]
    pieces.sort(key=lambda piece: piece[0])
    decoded = pl.concat([p for _, p, _ in pieces]) if pieces else pl.Series([], dtype=_DTYPE)
    failed = pl.concat(
        [pl.repeat(no, p.len(), dtype=pl.Boolean, eager=True) for _, p, no in pieces]
        + [pl.Series([], dtype=pl.Boolean)]
    )
    return decoded.alias("_d"), failed.alias("_failed")


def _present(path: str) -> pl.Expr:
    """Per record: how many spans hold a value at ``path`` (not null)."""
    nested, key = _leaf(path)
    element = pl.element()
    value = element.struct.field(key) if nested is None else element.struct.field(nested)
    if nested is not None:
        value = value.struct.field(key)
    return pl.col("spans").list.eval(value.is_not_null()).list.sum().fill_null(0)


def _container_re(path: str) -> str:
    key = _leaf(path)[1]
    return re.escape(f'"{key}":') + _FLAT["object" if path in _OBJECTS else "array"]


def _suspicious(texts: pl.Series, decoded: pl.Series) -> pl.Series:
    """The decoded records that might read differently from ``json_path_match``: an odd number
    under a key that is read, a ``"span_id":`` key that is not a span's (the spans read are
    counted with them), and a container value that is not a flat one of a span (one
    ``"key":`` per span holding one, each cut whole by its regex)."""
    frame = decoded.struct.unnest().with_columns(texts.alias("_text"))
    text = pl.col("_text")
    checks = [
        text.str.contains(_ODD),
        text.str.count_matches(_SPAN_ID) != _present("$.span_id"),
    ]
    for path in sorted(_OBJECTS | _ARRAYS):
        key = re.escape(f'"{_leaf(path)[1]}":')
        keys = text.str.count_matches(key)
        checks.append(keys != _present(path))
        checks.append(keys != text.str.count_matches(_container_re(path)))
    odd = frame.select(pl.any_horizontal(checks).fill_null(True).alias("_odd")).to_series()
    return odd & decoded.is_not_null()


def _fast_spans(records: pl.DataFrame, decoded: pl.Series, use: pl.Series) -> pl.DataFrame:
    """One row per span of the decoded records (``source_line``, ``trace_id``, ``_schema``,
    ``_index``, ``_p0``...) where ``use`` is true; the containers cut from the records' text."""
    d = pl.col("_d")
    flat = (
        records.select("source_line")
        .with_columns(decoded.alias("_d"), use.alias("_use"))
        .select(
            "source_line",
            "_use",
            d.struct.field("trace_id").alias("trace_id"),
            d.struct.field("schema_version").alias("_schema"),
            d.struct.field("spans").alias("_item"),
            pl.int_ranges(d.struct.field("spans").list.len(), dtype=pl.Int64).alias("_index"),
        )
        .explode("_item", "_index")
    )
    flat = flat.filter(pl.col("_item").is_not_null() & pl.col("_use")).drop("_use")
    records = records.filter(use)
    item = pl.col("_item")
    columns = []
    for i, path in enumerate(_PATHS):
        nested, key = _leaf(path)
        value = item.struct.field(key) if nested is None else item.struct.field(nested)
        if nested is not None:
            value = value.struct.field(key)
        if path in _OBJECTS or path in _ARRAYS:
            columns.append(value.is_not_null().alias(f"_p{i}"))
        else:
            columns.append(nullify(value).alias(f"_p{i}"))
    flat = flat.select("source_line", "trace_id", "_schema", "_index", *columns)
    texts = records.get_column("text")
    cut = []
    for i, path in enumerate(_PATHS):
        if path not in _OBJECTS and path not in _ARRAYS:
            continue
        present = flat.get_column(f"_p{i}")
        found = texts.str.extract_all(_container_re(path)).explode().drop_nulls()
        found = found.str.slice(len(f'"{_leaf(path)[1]}":'))
        values = pl.repeat(None, flat.height, dtype=pl.String, eager=True)
        if found.len():
            values = values.scatter(present.arg_true(), found)
        cut.append(pl.select(nullify(pl.lit(values))).to_series().alias(f"_p{i}"))
    return flat.with_columns(cut)


def _slow_spans(records: pl.DataFrame, limit: int) -> pl.DataFrame:
    """:func:`_fast_spans` of the records read by ``json_path_match``: each span's text taken
    by its index in ``spans`` (up to ``limit``), each path read from it."""
    columns = ["source_line", "trace_id", "_schema", "_index"]
    columns += [f"_p{i}" for i in range(len(_PATHS))]
    if records.height == 0:
        schema = dict.fromkeys(columns, pl.String) | {"_index": pl.Int64}
        return pl.DataFrame(schema=schema | {"source_line": records.schema["source_line"]})
    spans = pl.col("_spans")
    text = pl.col("text")
    parts = []
    for index in range(limit):
        part = records.select(
            "source_line",
            spans.str.json_path_match(f"$[{index}]").alias("_span"),
            pl.lit(index, dtype=pl.Int64).alias("_index"),
        ).filter(pl.col("_span").str.starts_with("{"))
        parts.append(part)
    header = records.select(
        "source_line",
        text.str.json_path_match("$.trace_id").alias("trace_id"),
        text.str.json_path_match("$.schema_version").alias("_schema"),
    )
    empty = pl.DataFrame(
        schema={
            "source_line": records.schema["source_line"],
            "_span": pl.String,
            "_index": pl.Int64,
        }
    )
    found = pl.concat(parts) if parts else empty
    found = found.join(header, on="source_line", how="left", maintain_order="left")
    found = _read_paths(found.select("source_line", "trace_id", "_schema", "_span", "_index"))
    return found.select(columns)


class NemoGuardrailsTraceParser:
    """``trace.jsonl`` of NeMo Guardrails' FileSystem tracing adapter.

    Layouts: the original adapter (pretty-printed with ``indent=2``, legacy spans with
    ``metrics``), and the later one (one line per interaction, ``schema_version`` 1.0 legacy
    spans or 2.0 OpenTelemetry-style spans with ``span_kind`` and ``attributes``). One event per
    span with ``duration_ms``; rail spans become ``policy.check``, LLM spans inference events.
    """

    name = "nemo_guardrails_trace"
    layer = "policy"
    description = (
        "NeMo Guardrails FileSystem tracing adapter output (trace.jsonl): one event per span"
    )
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^\{"

    def sniff(self, sample: Sample) -> float:
        """Needs ``"spans"`` and the span keys of the adapter."""
        if signature_score(sample, ['"spans"']) == 0.0:
            return 0.0
        return signature_score(
            sample,
            ['"span_id"', '"parent_id"', '"duration"', '"trace_id"', '"start_time"'],
            needed=4,
        )

    def parse(self, source: Source) -> ParseResult:
        """Decode each interaction once into its spans (see :func:`_decode`); the records that
        might read differently from ``json_path_match`` are split by index as before."""
        text = pl.col("text")
        spans = pl.col("_spans")
        slow = pl.col("_slow")
        records = read_records(source.lines, reasons=TERSE_REASONS)
        whole = records.frame.select("source_line", "text")
        texts = whole.get_column("text")
        decoded, failed = _decode(texts)
        # the decoded records stay out of the frame (filtering it would copy them): the frame
        # carries each record's row and what the decode says of its spans
        items = decoded.struct.field("spans")
        facts = pl.DataFrame(
            {
                "_row": pl.int_range(texts.len(), dtype=pl.UInt32, eager=True),
                "_slow": failed | _suspicious(texts, decoded),
                "_listed": items.is_not_null(),
                "_objects": items.list.eval(pl.element().is_not_null()).list.any(),
            }
        )
        frame = on_rows(
            pl.concat([records.frame, facts], how="horizontal"),
            slow,
            {"_spans": text.str.json_path_match("$.spans")},
        )
        records = replace(records, frame=frame)
        records = records.keep(
            pl.when(slow).then(spans.str.starts_with("[")).otherwise(pl.col("_listed")),
            "not a NeMo Guardrails trace record",
        ).skip(
            pl.when(
                pl.when(slow).then(~spans.str.contains(r"\{")).otherwise(~pl.col("_objects"))
            ).then(pl.lit("trace without spans"))
        )
        kept = records.frame
        fast_rows = kept.filter(~slow).get_column("_row")
        use = pl.repeat(False, texts.len(), eager=True).scatter(fast_rows, True)
        # A decoded record gives every span it has. The others are read index by index, up to
        # the most ``"span_id":`` keys of such a record in the chunk: there, a record whose spans
        # lack ``span_id`` can lose spans, by where the input was cut (a known limit; it was
        # so for every record before).
        slow_records = kept.filter(slow)
        counts = slow_records.select(spans.str.count_matches(_SPAN_ID).max()).item()
        limit = max(int(counts or 0), 1)
        parts = [_fast_spans(whole, decoded, use), _slow_spans(slow_records, limit)]
        spans_frame = pl.concat(parts).sort("source_line", "_index", maintain_order=True)
        return records.result(self._events(spans_frame))

    def _events(self, spans: pl.DataFrame) -> pl.DataFrame:
        # every JSON path is a column already (``_p0``...: see ``_fast_spans``, ``_slow_spans``)
        name = _path("$.name")
        start = _path("$.start_time").cast(pl.Float64, strict=False)
        duration_s = _path("$.duration").cast(pl.Float64, strict=False)
        rail_name = pl.coalesce(
            _path("$.attributes['rail.name']"), name.str.extract(r"^rail: (.+)$", 1)
        )
        rail_type = _path("$.attributes['rail.type']")
        is_rail = (name == "guardrails.rail") | name.str.starts_with("rail: ")
        is_action = (name == "guardrails.action") | name.str.starts_with("action: ")
        is_request = name.is_in(["guardrails.request", "interaction"])
        model = pl.coalesce(
            _path("$.attributes['gen_ai.request.model']"),
            _path("$.attributes['gen_ai.response.model']"),
            name.str.extract(r"^LLM: (.+)$", 1),
        )
        is_llm = model.is_not_null() & ~is_rail & ~is_action & ~is_request
        stop = _path("$.attributes['rail.stop']")
        verdict = (
            pl.when(~is_rail)
            .then(None)
            .when(stop == "true")
            .then(pl.lit("block"))
            .when(stop == "false")
            .then(pl.lit("allow"))
        )
        stage_text = pl.coalesce(rail_type, rail_name)
        stage = (
            pl.when(stage_text.str.contains(r"(?i)\binput\b|jailbreak"))
            .then(pl.lit("input"))
            .when(stage_text.str.contains(r"(?i)\boutput\b|fact|hallucination"))
            .then(pl.lit("output"))
        )
        error = _path("$.error.occurred") == "true"
        legacy_tokens = _path("$.metrics").str.extract(r'_prompt_tokens_total":(\d+)', 1)
        legacy_out = _path("$.metrics").str.extract(r'_completion_tokens_total":(\d+)', 1)
        epoch = parse_epoch(start.cast(pl.String), "epoch_s").ts
        event_type = (
            pl.when(is_rail)
            .then(pl.lit("policy.check"))
            .when(is_llm)
            .then(pl.lit("inference.response"))
            .otherwise(pl.lit("server.log"))
        )
        events = spans.select(
            "source_line",
            pl.when(start > EPOCH_FLOOR).then(start.cast(pl.String)).alias("ts_raw"),
            pl.when(start > EPOCH_FLOOR).then(epoch).alias("ts_source"),
            pl.when(start > EPOCH_FLOOR).then(pl.lit(False)).alias("ts_assumed_tz"),
            pl.when(is_llm).then(pl.lit("inference")).otherwise(pl.lit("policy")).alias("layer"),
            event_type.alias("event_type"),
            nullify(pl.col("trace_id")).alias("trace_id"),
            _path("$.span_id").alias("span_id"),
            _path("$.parent_id").alias("parent_span_id"),
            (duration_s * 1000.0).alias("duration_ms"),
            name.alias("message"),
            pl.when(is_rail).then(rail_name).alias("policy_name"),
            pl.when(is_rail).then(stage).alias("policy_stage"),
            verdict.alias("verdict"),
            pl.when(is_llm).then(model).alias("model"),
            pl.when(is_llm).then(_path("$.attributes['gen_ai.provider.name']")).alias("provider"),
            pl.when(is_llm)
            .then(pl.coalesce(_path("$.attributes['gen_ai.usage.input_tokens']"), legacy_tokens))
            .cast(pl.Int64, strict=False)
            .alias("input_tokens"),
            pl.when(is_llm)
            .then(pl.coalesce(_path("$.attributes['gen_ai.usage.output_tokens']"), legacy_out))
            .cast(pl.Int64, strict=False)
            .alias("output_tokens"),
            pl.when(is_llm)
            .then(
                _path("$.attributes['gen_ai.response.finish_reasons']").str.extract(r'"([^"]+)"', 1)
            )
            .alias("finish_reason"),
            pl.when(is_llm).then(_path("$.attributes['gen_ai.response.id']")).alias("request_id"),
            pl.when(error).then(pl.lit("error")).alias("_error"),
            pl.when(error)
            .then(pl.coalesce(_path("$.error.type"), pl.lit("error")))
            .alias("error_type"),
            attributes(
                {
                    "schema_version": pl.col("_schema"),
                    "span_type": _path("$.span_type"),
                    "span_kind": _path("$.span_kind"),
                    "span_index": pl.col("_index"),
                    "start_offset_s": pl.when(start <= EPOCH_FLOOR).then(start),
                    "end_offset_s": pl.when(start <= EPOCH_FLOOR).then(_path("$.end_time")),
                    "rail_type": rail_type,
                    "rail_decisions": _path("$.attributes['rail.decisions']"),
                    "action_name": pl.coalesce(
                        _path("$.attributes['action.name']"), name.str.extract(r"^action: (.+)$", 1)
                    ),
                    "operation": _path("$.attributes['gen_ai.operation.name']"),
                    "error_message": _path("$.error.message"),
                    "metrics": nullify(_path("$.metrics"), ["{}"]),
                }
            ).alias("attributes"),
        )
        return events.with_columns(
            pl.coalesce(pl.col("_error"), verdict_status(pl.col("verdict"))).alias("status"),
            pl.when(pl.col("_error").is_not_null())
            .then(pl.lit("ERROR"))
            .otherwise(verdict_severity(pl.col("verdict")))
            .alias("severity"),
        ).drop("_error")
