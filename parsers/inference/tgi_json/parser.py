"""Hugging Face text-generation-inference (TGI) with `--json-output`: tracing JSON lines."""

from __future__ import annotations

import polars as pl

from parsers.inference._common import strip_ansi
from parsers.inference._tgi import EMPTY, TGI_TARGET, TIMING, tgi_events
from timeline.parserkit.api import ParseResult, Sample, Source, marks


def _jp(path: str) -> pl.Expr:
    return pl.col("line").str.json_path_match(path)


def _json_span(name: str) -> pl.Expr:
    return pl.coalesce(_jp(f"$.span.{name}"), _jp(f"$.spans[*].{name}"), _jp(f"$.fields.{name}"))


def _json_frame(lines: pl.DataFrame) -> pl.DataFrame:
    is_obj = pl.col("line").str.strip_chars().str.starts_with("{")
    df = lines.with_columns(
        pl.when(is_obj).then(_jp("$.timestamp")).alias("ts_text"),
        pl.when(is_obj).then(_jp("$.level")).alias("level"),
        pl.when(is_obj).then(_jp("$.target")).alias("target"),
        pl.when(is_obj)
        .then(strip_ansi(pl.coalesce(_jp("$.fields.message"), _jp("$.message"))))
        .alias("msg"),
    )
    return df.with_columns(
        (
            pl.col("ts_text").is_not_null()
            & pl.col("level").is_not_null()
            & pl.col("msg").is_not_null()
        ).alias("ok")
    )


class TgiJsonParser:
    """TGI with `--json-output`: tracing-subscriber JSON, one record per line."""

    name = "tgi_json"
    layer = "inference"
    description = "Hugging Face text-generation-inference `--json-output` log (tracing JSON lines)"

    def sniff(self, sample: Sample) -> float:
        """High only when the JSON lines are tracing records with `text_generation_*` targets."""
        if not sample.lines:
            return 0.0
        df = _json_frame(sample.frame())
        ok = df.filter(pl.col("ok"))
        if ok.height == 0:
            return 0.0
        tgi = int(ok.get_column("target").str.contains(TGI_TARGET).sum())
        if tgi == 0:
            return 0.0
        return min(0.6 + 0.38 * tgi / df.height, 1.0)

    def parse(self, source: Source) -> ParseResult:
        """Vectorized JSON path extraction; lines that are not tracing records are rejected."""
        df = _json_frame(source.lines)
        bad = df.filter(~pl.col("ok"))
        rejects = marks(
            bad,
            pl.when(pl.col("line").str.strip_chars().str.starts_with("{"))
            .then(pl.lit("not a tracing JSON record"))
            .otherwise(pl.lit("not JSON")),
        )
        good = df.filter(pl.col("ok"))
        if good.height == 0:
            return ParseResult(pl.DataFrame(schema=EMPTY), rejects)
        line_no = _jp("$.line_number")
        frame = good.select(
            "source_line",
            "ts_text",
            "level",
            "target",
            pl.when(_jp("$.filename").is_not_null())
            .then(pl.concat_str([_jp("$.filename"), line_no], separator=":"))
            .alias("code"),
            "msg",
            pl.lit(None, dtype=pl.String).alias("cont_text"),
            pl.coalesce(_jp("$.span.name"), _jp("$.spans[-1:].name")).alias("span_name"),
            *[_json_span(f).alias(f) for f in (*TIMING, "seed")],
            _json_span("parameters").alias("parameters"),
        )
        return ParseResult(tgi_events(frame, source.settings.timezone), rejects)
