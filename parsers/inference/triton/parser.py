"""NVIDIA Triton Inference Server logs: ``--log-format=default`` and ``ISO8601``, any verbosity."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference.triton import lines as shapes
from parsers.inference.triton.events import semantic_columns, table_columns
from parsers.inference.triton.tables import table_frame
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source, marks
from timeline.parserkit.timestamps import parse_iso8601, parse_pattern

# Source files of tritonserver's core and its backends that no other glog-style program logs
# from (generic names such as server.cc or main.cc are left out: TensorFlow Serving has them).
_TRITON_FILES: Final = (
    r"^(?:tritonserver|model_lifecycle|model_repository_manager|model_config_utils"
    r"|infer_handler|stream_infer_handler|infer_request|infer_response|backend_manager"
    r"|backend_model|backend_model_instance|pinned_memory_manager|cuda_memory_manager"
    r"|dynamic_batch_scheduler|sequence_batch_scheduler|ensemble_scheduler|repo_agent"
    r"|python_be|pb_stub|stub_launcher|libtorch|onnxruntime|tensorrt)\.cc$"
)
_TRITON_TEXT: Final = (
    r"TRITONBACKEND_|GRPCInferenceService|Started HTTPService at|Started Metrics Service at"
    r"|^(?:loading|unloading): \S+:\d+$|^successfully (?:un)?loaded '|^\[request id: "
)
_CONTINUATION_SHAPES: Final = ("table", "dump", "at", "exc", "indent", "tb_start")


def lines_frame(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per input line: prefix fields, the shape of unprefixed lines, decoded message."""
    df = lines.with_columns(pl.col("line").str.strip_chars_end("\r").alias("clean"))
    df = df.with_columns(pl.col("clean").str.extract_groups(shapes.PREFIX).alias("_p")).unnest("_p")
    is_log = pl.col("pid").is_not_null()
    df = df.with_columns(
        pl.when(is_log).then(pl.lit("log")).otherwise(shapes.shape(pl.col("clean"))).alias("shape"),
        pl.coalesce("dlevel", "ilevel").alias("level"),
        pl.when(is_log)
        .then(pl.col("msg").fill_null("").str.strip_chars_start(" "))
        .alias("raw_msg"),
    )
    df = df.with_columns(
        shapes.decode(pl.col("raw_msg")).alias("decoded"),
        # A raw Python traceback is an error; FAIL_IF_ERR ends the server (exit(1)).
        pl.when(pl.col("shape") == "tb_start")
        .then(pl.lit("ERROR"))
        .when(pl.col("shape") == "exit")
        .then(pl.lit("FATAL"))
        .otherwise(
            pl.col("level").replace_strict(shapes.LEVELS, default=None, return_dtype=pl.String)
        )
        .alias("severity"),
    )
    head = pl.col("decoded").str.split("\n").list.first()
    context = (
        pl.when(pl.col("shape") == "exit")
        .then(pl.lit("error"))
        .when(pl.col("shape") != "log")
        .then(None)
        .when(pl.col("raw_msg") == "")
        .then(pl.lit("table"))
        .when(pl.col("decoded").str.contains(shapes.PREPARED))
        .then(pl.lit("dump"))
        .when(head.str.contains(shapes.CONFIG_HEADING))
        .then(pl.lit("config"))
        .when(pl.col("severity").is_in(["ERROR", "FATAL"]))
        .then(pl.lit("error"))
        .otherwise(pl.lit("plain"))
    )
    return df.with_columns(context.alias("start_context"))


def records(df: pl.DataFrame) -> pl.DataFrame:
    """Mark record starts and whether each other line continues its record (``accepted``).

    Log lines and FAIL_IF_ERR lines start records. A ``Traceback (most recent call last):``
    continues an error record it directly follows, else it starts its own record."""
    shape = pl.col("shape")
    first = shape.is_in(["log", "exit"])
    df = df.with_columns(
        first.cast(pl.Int64).cum_sum().alias("_rec1"),
        pl.col("start_context").forward_fill().alias("_ctx1"),
    )
    joins_error = (
        (pl.col("_ctx1") == "error")
        & (pl.col("_rec1") > 0)
        & (pl.col("_rec1").shift(1) == pl.col("_rec1"))
        & (shape.shift(1) != "other")
    )
    start = first | ((shape == "tb_start") & ~joins_error.fill_null(False))
    df = df.with_columns(start.alias("start"))
    df = df.with_columns(
        pl.col("start").cast(pl.Int64).cum_sum().alias("rec"),
        pl.when(pl.col("start"))
        .then(pl.when(shape == "tb_start").then(pl.lit("error")).otherwise("start_context"))
        .forward_fill()
        .alias("context"),
    )
    marker = (shape.is_in(["tb_start", "at", "indent"])).cast(pl.Int64)
    seen = (_run_sum(marker, pl.col("start")) - marker) > 0
    df = df.with_columns(shapes.fits(shape, pl.col("context"), seen).alias("_fit"))
    fit = pl.col("_fit")
    neutral = shape == "banner"
    bad = (~pl.col("start") & ~neutral & ~fit).cast(pl.Int64)
    broken = (_run_sum(bad, pl.col("start")) - bad) > 0
    accepted = (pl.col("rec") > 0) & ~pl.col("start") & ~neutral & fit & ~broken
    return df.with_columns(accepted.fill_null(False).alias("accepted")).drop(
        "_rec1", "_ctx1", "_fit"
    )


def _run_sum(values: pl.Expr, start: pl.Expr) -> pl.Expr:
    """Sum of ``values`` from the last line where ``start`` holds up to this one (inclusive):
    ``values.cum_sum().over("rec")`` for records that are runs of lines beginning where
    ``start`` holds, without the window's grouping."""
    total = values.cum_sum()
    return total - pl.when(start).then(total - values).forward_fill().fill_null(0)


def _timestamps(df: pl.DataFrame, year: int | None) -> pl.DataFrame:
    # Triton writes gmtime_r: the default format is UTC even though it shows no zone.
    short = parse_pattern(
        pl.concat_str(["mmdd", "hms"], separator=" "), "%m%d %H:%M:%S%.f", "UTC", year
    )
    iso = parse_iso8601(pl.col("iso"))
    ts = pl.coalesce(short.ts, iso.ts)
    return df.with_columns(
        ts.alias("ts_source"),
        pl.coalesce(pl.concat_str(["mmdd", "hms"], separator=" "), "iso").alias("ts_raw"),
        pl.when(ts.is_not_null()).then(pl.lit(False)).alias("ts_assumed_tz"),
    )


def _rejects(work: pl.DataFrame) -> pl.DataFrame:
    lost = work.filter(~pl.col("start") & ~pl.col("accepted") & (pl.col("shape") != "banner"))
    known = pl.col("shape").is_in(_CONTINUATION_SHAPES)
    reason = (
        pl.when(~known)
        .then(pl.lit("not a Triton log line"))
        .when(pl.col("rec") == 0)
        .then(pl.lit("continuation line before the first record"))
        .otherwise(pl.lit("unexpected continuation line"))
    )
    return marks(lost, reason)


class TritonParser:
    """Triton Inference Server log (default and ISO8601 formats), tables and tracebacks merged."""

    name = "triton"
    layer = "inference"
    description = "NVIDIA Triton Inference Server log (default / ISO8601 format, any --log-verbose)"
    multiline = True
    record_start = shapes.RECORD_START
    needs_year = True

    def sniff(self, sample: Sample) -> float:
        """High when Triton's `I0516 21:02:44.123456 1 file.cc:N]` (or ISO8601) lines dominate
        and name Triton's own source files or messages; glog/klog lines from Go code score 0."""
        if not sample.lines:
            return 0.0
        df = records(lines_frame(sample.frame()))
        logs = df.filter(pl.col("shape") == "log")
        if logs.height == 0:
            return 0.0
        files = logs.get_column("file")
        if int(files.str.ends_with(".go").sum()) * 2 > logs.height:
            return 0.0
        explained = pl.col("start") | pl.col("accepted") | (pl.col("shape") == "banner")
        ratio = float(df.select(explained.mean()).item() or 0.0)
        # JSON-escaped messages (`] "..."`) are Triton's since 24.06.
        evidence = logs.select(
            pl.col("file").str.contains(_TRITON_FILES)
            | pl.col("decoded").str.contains(_TRITON_TEXT)
            | pl.col("raw_msg").str.contains(shapes.JSON_STRING)
        ).to_series()
        if evidence.any():
            return min(0.7 + 0.3 * ratio, 1.0)
        # The prefix alone is glog's: too weak to claim the file (force `--parser triton`).
        return 0.3 + 0.15 * ratio

    def parse(self, source: Source) -> ParseResult:
        """Group lines into records, then map each record onto one event (one per model row of
        the model table)."""
        work = records(lines_frame(source.lines))
        skipped = marks(work.filter(pl.col("shape") == "banner"), "container banner")
        rejects = _rejects(work)
        cont = (
            work.filter(pl.col("accepted"))
            .group_by("rec", maintain_order=True)
            .agg(pl.col("clean").alias("cont_lines"), pl.len().alias("cont_count"))
        )
        merged = int(cont.get_column("cont_count").sum()) if cont.height else 0
        starts = work.filter(pl.col("start")).join(cont, on="rec", how="left")
        if starts.height == 0:
            return ParseResult(
                events=pl.DataFrame(schema={"source_line": pl.Int64}),
                rejects=rejects.select(MARK_SCHEMA.names()),
                skipped=skipped.select(MARK_SCHEMA.names()),
                merged_lines=merged,
            )
        starts = _timestamps(starts, source.settings.year)
        is_table = pl.col("context") == "table"
        tables = starts.filter(is_table)
        frames = []
        if tables.height:
            rows = table_frame(tables.select("source_line", "cont_lines"))
            frames.append(table_columns(tables.join(rows, on="source_line", how="inner")))
        others = starts.filter(~is_table)
        if others.height:
            start_text = pl.when(pl.col("shape") == "log").then("decoded").otherwise("clean")
            others = others.with_columns(
                pl.concat_str(
                    [start_text, pl.col("cont_lines").list.join("\n")],
                    separator="\n",
                    ignore_nulls=True,
                ).alias("text")
            )
            frames.append(semantic_columns(others))
        events = pl.concat(frames, how="diagonal_relaxed").sort("source_line", maintain_order=True)
        return ParseResult(
            events=events,
            rejects=rejects.select(MARK_SCHEMA.names()),
            skipped=skipped.select(MARK_SCHEMA.names()),
            merged_lines=merged,
        )
