"""llama.cpp server logs (``llama-server``): current text format with optional timestamp and level
prefix, the pre-rewrite JSON and text formats of 2024, and the library lines around them."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference.llama_cpp import lines as shapes
from parsers.inference.llama_cpp.events import SKIP_REASON, semantic_columns, skipped_start
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason
from timeline.parserkit.text import split_head, strip_ansi

# Lines only llama.cpp's server writes (sniffing).
_SERVER_TEXT: Final = (
    r"^(?:srv |que |slot) .{12}: |^llama_model_loader: loaded meta data|server is listening on http"
    r"|^main: (?:HTTP server is listening|loading model|model loaded)|^llama server listening at"
)
# libllama / ggml lines (also written by llama-cli and by programs embedding the library).
_LIBRARY: Final = r"^(?:llama_\w+|llm_\w+|ggml_\w+|gguf_\w+|print_info|load_tensors|load_backend): "
# Ollama's own lines (slog, GIN, Go log): Ollama embeds llama.cpp output and has its own parser.
_OLLAMA: Final = (
    r"^time=\S+ level=\S+ |^\[GIN(?:-debug)?\] |^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \S+\.go:\d+: "
)


def lines_frame(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per input line: router / time / level prefix, the shape of the body and its fields."""
    clean = strip_ansi(pl.col("line")).str.strip_chars_end()
    df = lines.with_columns(clean.alias("clean"))
    df = split_head(df, pl.col("clean"), shapes.ROUTER_HEAD, "rest")
    df = split_head(df, pl.col("rest"), shapes.PREFIX_HEAD, "body")
    df = df.with_columns(shapes.shape(pl.col("body")).alias("shape"))
    # A level letter without a timestamp must be followed by a known shape (`I am ...` is text).
    bare = (
        pl.col("lvl").is_not_null()
        & pl.col("uptime").is_null()
        & pl.col("wall").is_null()
        & (pl.col("shape") == "other")
    )
    # The body becomes the whole rest (`I am ...`), whose shape is `other` too: no shape begins
    # with a level letter and a blank.
    df = df.with_columns(
        pl.when(bare).then(pl.col("rest")).otherwise("body").alias("body"),
        pl.when(bare).then(None).otherwise("lvl").alias("lvl"),
    )
    body = pl.col("body")
    shape = pl.col("shape")
    df = df.with_columns(
        pl.when(shape == "legacy").then(body).str.extract_groups(shapes.LEGACY).alias("_o"),
        pl.when(shape == "component").then(body).str.extract_groups(shapes.COMPONENT).alias("_c"),
    ).unnest("_o", "_c")
    df = split_head(df, pl.when(shape == "server").then(body), shapes.SERVER_HEAD, "smsg")
    df = df.with_columns(
        pl.when(pl.col("grp") == "slot")
        .then(pl.col("smsg"))
        .str.extract_groups(shapes.SLOT)
        .alias("_sl")
    ).unnest("_sl")
    func = pl.col("func").str.strip_chars()
    timing_b = (
        (pl.col("shape") == "server")
        & (func == "print_timing")
        & pl.col("slmsg").str.contains(
            r"^\s*(?:eval time|total time|graphs reused|draft acceptance)"
        )
    )
    return df.with_columns(
        func.alias("func"),
        pl.when(timing_b).then(pl.lit("timing_b")).otherwise("shape").alias("shape"),
        pl.coalesce("wall", "uptime").is_not_null().alias("stamped"),
    )


def _run_sum(values: pl.Expr, start: pl.Expr) -> pl.Expr:
    """Sum of ``values`` from the last line where ``start`` holds up to this one (inclusive).

    Records are runs of lines, so a running total minus its value at the run's start replaces
    a window over record ids (much cheaper than ``over``)."""
    total = values.cum_sum()
    return total - pl.when(start).then(total - values).forward_fill().fill_null(0)


def _run_first(values: pl.Expr, start: pl.Expr) -> pl.Expr:
    """The value on the run's first line (``values`` must have no nulls; null before any run)."""
    return pl.when(start).then(values).forward_fill()


def _template(df: pl.DataFrame) -> pl.DataFrame:
    """Mark the lines inside a chat-template record (``in_template``)."""
    shape = pl.col("shape")
    strong = shape.is_in(shapes.STRONG_SHAPES) | pl.col("stamped") | pl.col("lvl").is_not_null()
    text = pl.coalesce("cmsg", "slmsg", "smsg", "body")
    tstart = shape.is_in(["component", "server"]) & text.str.contains(shapes.TEMPLATE_START)
    df = df.with_columns((strong | tstart).alias("_span_start"), tstart.alias("_tstart"))
    span_start = pl.col("_span_start")
    has_open = pl.col("clean").str.contains(shapes.TEMPLATE_OPEN)
    df = df.with_columns(
        (_run_sum(has_open.cast(pl.Int64), span_start) > 0).alias("_seen"),
        _run_first(pl.col("_tstart"), span_start).fill_null(False).alias("_in_tspan"),
    )
    closes = (
        pl.when(has_open)
        .then(pl.col("clean").str.contains(shapes.TEMPLATE_CLOSED_ON_LINE))
        .otherwise(pl.col("_seen") & pl.col("clean").str.ends_with("'"))
    ).cast(pl.Int64)
    closed_before = (_run_sum(closes, span_start) - closes) > 0
    inside = pl.col("_in_tspan") & ~span_start & ~closed_before
    return df.with_columns(inside.alias("in_template")).drop(
        "_span_start", "_tstart", "_seen", "_in_tspan"
    )


def _continuation(df: pl.DataFrame, start: pl.Expr) -> pl.DataFrame:
    """``fit`` and ``broken`` of every line against the record it falls in (records begin
    where ``start`` holds)."""
    shape = pl.col("shape")
    head_func = _run_first(pl.col("func").fill_null(""), start)
    same_slot = (pl.col("slot") == _run_first(pl.col("slot").fill_null(""), start)) & (
        pl.col("task") == _run_first(pl.col("task").fill_null(""), start)
    )
    fit = (
        pl.when(pl.col("in_template") | (shape == "indent"))
        .then(pl.lit(True))
        .when(shape == "timing")
        .then(head_func == "print_timing")
        .when(shape == "timing_b")
        .then((head_func == "print_timing") & same_slot)
        .otherwise(pl.lit(False))
        .fill_null(False)
    )
    df = df.with_columns(fit.alias("fit"))
    bad = (~start & (shape != "dots") & ~pl.col("fit")).cast(pl.Int64)
    return df.with_columns(((_run_sum(bad, start) - bad) > 0).alias("broken"))


def records(df: pl.DataFrame) -> pl.DataFrame:
    """Mark record starts and the lines that continue their record (``accepted``).

    Prefixed and shaped lines start records; indented lines, the lines of a chat template and
    the timings printout continue the record before them. A ``slot print_timing`` line of the
    timings continues the record of the same slot and task that holds the printout's first line,
    else it starts its own."""
    df = _template(df)
    shape = pl.col("shape")
    first = shape.is_in(shapes.START_SHAPES) & ~pl.col("in_template")
    df = df.with_columns(first.cast(pl.Int64).cum_sum().alias("_rec1"))
    df = _continuation(df, first)
    joins = (shape == "timing_b") & (pl.col("_rec1") > 0) & pl.col("fit") & ~pl.col("broken")
    start = first | ((shape == "timing_b") & ~pl.col("in_template") & ~joins)
    df = df.with_columns(start.alias("start"))
    df = df.with_columns(pl.col("start").cast(pl.Int64).cum_sum().alias("rec"))
    df = _continuation(df, pl.col("start"))
    accepted = (
        (pl.col("rec") > 0)
        & ~pl.col("start")
        & (shape != "dots")
        & pl.col("fit")
        & ~pl.col("broken")
    )
    return df.with_columns(accepted.fill_null(False).alias("accepted")).drop(
        "_rec1", "fit", "broken"
    )


def _rejects(work: pl.DataFrame) -> pl.DataFrame:
    lost = work.filter(~pl.col("start") & ~pl.col("accepted") & (pl.col("shape") != "dots"))
    shape = pl.col("shape")
    reason = first_reason(
        [
            (
                shape.is_in(shapes.CONTINUATION_SHAPES) & (pl.col("rec") == 0),
                "continuation line before the first record",
            ),
            (shape.is_in(shapes.CONTINUATION_SHAPES), "unexpected continuation line"),
        ]
    )
    return marks(lost, pl.coalesce(reason, pl.lit("not a llama.cpp server log line")))


class LlamaCppParser:
    """llama.cpp server (`llama-server`) log: current and 2024 formats, timings, model load."""

    name = "llama_cpp"
    layer = "inference"
    description = "llama.cpp server log (llama-server text with optional prefix, 2024 JSON / text)"
    multiline = True
    record_start = shapes.RECORD_START

    def sniff(self, sample: Sample) -> float:
        """High when the server's `srv` / `slot` / `que` lines, its 2024 JSON or text lines or
        libllama's model-loader lines make up the sample; 0 for Ollama's log (which embeds
        llama.cpp output and has its own parser)."""
        if not sample.lines:
            return 0.0
        df = records(lines_frame(sample.frame()))
        clean = df.get_column("clean")
        if bool(clean.str.contains(_OLLAMA).any()):
            return 0.0
        legacy = df.get_column("shape") == "legacy"
        body = pl.col("body")
        json_server = df.select(
            (pl.col("shape") == "json")
            & body.str.json_path_match("$.function").is_not_null()
            & pl.coalesce(
                body.str.json_path_match("$.msg"), body.str.json_path_match("$.message")
            ).is_not_null()
            & body.str.json_path_match("$.level").is_in(["INFO", "WARN", "ERR", "VERB"])
        ).to_series()
        server = df.get_column("body").str.contains(_SERVER_TEXT).fill_null(False)
        explained = pl.col("start") | pl.col("accepted") | (pl.col("shape") == "dots")
        ratio = float(df.select(explained.mean()).item() or 0.0)
        if bool((server | json_server | legacy).any()):
            return min(0.6 + 0.38 * ratio, 0.98)
        # Library lines alone (`llama_model_loader: ...`) are also llama-cli's and other hosts'.
        library = df.get_column("body").str.contains(_LIBRARY).fill_null(False)
        return 0.3 * ratio if bool(library.any()) else 0.0

    def parse(self, source: Source) -> ParseResult:
        """Group lines into records, then map each record onto one event (metadata dumps and
        progress dots skipped)."""
        work = records(lines_frame(source.lines))
        dump = skipped_start(work)
        work = work.with_columns(
            pl.when(pl.col("start")).then(dump).forward_fill().fill_null(False).alias("_dump")
        )
        in_dump = pl.col("_dump") & (pl.col("start") | pl.col("accepted"))
        skipped = pl.concat(
            [
                marks(work.filter(pl.col("shape") == "dots"), "progress dots"),
                marks(work.filter(in_dump), SKIP_REASON),
            ]
        )
        rejects = _rejects(work)
        kept = work.filter(~in_dump)
        cont = (
            kept.filter(pl.col("accepted"))
            .group_by("rec", maintain_order=True)
            .agg(
                pl.col("clean").alias("cont_lines"),
                pl.col("slmsg").alias("cont_slmsg"),
                pl.len().alias("cont_count"),
            )
        )
        merged = int(cont.get_column("cont_count").sum()) if cont.height else 0
        starts = kept.filter(pl.col("start")).join(cont, on="rec", how="left")
        if starts.height == 0:
            events = pl.DataFrame(schema={"source_line": pl.Int64})
        else:
            events = semantic_columns(starts, source.settings.timezone)
        return ParseResult(
            events=events,
            rejects=rejects.select(MARK_SCHEMA.names()),
            skipped=skipped.select(MARK_SCHEMA.names()).sort("source_line"),
            merged_lines=merged,
        )
